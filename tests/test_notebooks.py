"""The notebooks as course material: paired with their reviewed percent scripts, in
sync, and built the way every notebook is (objectives, time, exercises, solutions).
Running them is nbval's job (pytest collects notebooks/*.ipynb)."""
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("[0-9]*.py"))


def _cells(nb):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", [])))
            for c in nb.cells]


def test_every_notebook_has_a_pair():
    ipynbs = {p.stem for p in NOTEBOOKS.glob("[0-9]*.ipynb")}
    scripts = {p.stem for p in SCRIPTS}
    assert scripts, "no notebooks found"
    assert ipynbs == scripts, f"unpaired: {sorted(ipynbs ^ scripts)}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_pair_in_sync(script):
    py = jupytext.read(script)
    ipynb = jupytext.read(script.with_suffix(".ipynb"))
    assert _cells(py) == _cells(ipynb), (
        f"{script.name} and its .ipynb differ: run `jupytext --sync {script}`")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_course_structure(script):
    nb = jupytext.read(script)
    head = nb.cells[0].source
    assert nb.cells[0].cell_type == "markdown" and head.startswith("# ")
    assert "Estimated time:" in head and "Prerequisites:" in head
    assert "you will be able to" in head
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    exercises = text.count("**Exercise ")
    solutions = sum("solution" in c.metadata.get("tags", []) for c in nb.cells)
    assert exercises >= 2 and solutions >= exercises, (exercises, solutions)
    assert "Self-check" in text
