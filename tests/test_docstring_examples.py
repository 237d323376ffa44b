"""The examples in course_utils' docstrings run and print what they show.

Every module whose source holds a ``>>>`` example is collected here, so a new example
is checked without being listed. Examples that need the internet or write files carry
``# doctest: +SKIP`` in the source.
"""
import doctest
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "course_utils"
MODULES = sorted(
    ".".join(("course_utils",) + path.relative_to(PACKAGE).with_suffix("").parts)
    .removesuffix(".__init__")
    for path in PACKAGE.rglob("*.py") if ">>> " in path.read_text(encoding="utf-8"))


def test_modules_with_examples_are_found():
    assert {"course_utils.spikes", "course_utils.decoding", "course_utils.ecephys",
            "course_utils.export"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, capsys):
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(
        module, report=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = capsys.readouterr().out
    assert failed == 0, f"{name}: {failed} of {attempted} examples failed\n{report}"
