"""Colab launch: every notebook has the same setup cell and a correct badge, both
generated from config.py; the cell does nothing outside Colab and, on Colab, clones the
configured repository and hands over to colab/colab_setup.py."""
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import jupytext
import pytest

from course_utils.tools import colab
from course_utils.config import GITHUB_BRANCH, GITHUB_REPOSITORY

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("[0-9]*.py"))


@pytest.mark.parametrize("path", SCRIPTS + [p.with_suffix(".ipynb") for p in SCRIPTS],
                         ids=lambda p: p.name)
def test_setup_cell_is_the_first_code_cell_and_identical(path):
    nb = jupytext.read(path)
    assert nb.cells[0].cell_type == "markdown"
    assert nb.cells[1].cell_type == "code"
    assert nb.cells[1].source == colab.setup_cell_source()
    assert not nb.cells[1].get("outputs")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_badge_in_title_cell(script):
    head = jupytext.read(script).cells[0].source
    url = (f"https://colab.research.google.com/github/{GITHUB_REPOSITORY}/blob/"
           f"{GITHUB_BRANCH}/notebooks/{script.stem}.ipynb")
    badge = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"
    assert head.splitlines()[:3] == [head.splitlines()[0], "", badge]
    assert head.count("colab.research.google.com/github/") == 1
    assert (NOTEBOOKS / f"{script.stem}.ipynb").exists()


def test_cell_slug_agrees_with_config():
    cell = jupytext.read(SCRIPTS[0]).cells[1].source
    repo, branch = re.search(r'REPO, BRANCH = "([^"]+)", "([^"]+)"', cell).groups()
    assert (repo, branch) == (GITHUB_REPOSITORY, GITHUB_BRANCH)
    assert '"/content/" + REPO.split("/")[1]' in cell


def test_notebooks_are_current_and_a_fork_would_update_them(tmp_path, monkeypatch):
    copy = tmp_path / SCRIPTS[0].name
    shutil.copy(SCRIPTS[0], copy)
    assert colab.update_notebook(copy) is False
    monkeypatch.setattr(colab, "GITHUB_REPOSITORY", "someone/fork")
    monkeypatch.setattr(colab, "GITHUB_BRANCH", "dev")
    assert colab.update_notebook(copy) is True
    nb = jupytext.read(copy)
    assert 'REPO, BRANCH = "someone/fork", "dev"' in nb.cells[1].source
    assert nb.cells[0].source.count("colab.research.google.com/github/") == 1
    assert "/github/someone/fork/blob/dev/notebooks/" in nb.cells[0].source
    assert len(nb.cells) == len(jupytext.read(SCRIPTS[0]).cells)     # replaced, not added


def test_badge_is_replaced_not_repeated():
    once = colab.with_badge("# Title\n\nBody", "01_x")
    assert colab.with_badge(once, "01_x") == once
    assert once == f"# Title\n\n{colab.badge_markdown('01_x')}\n\nBody"
    with pytest.raises(ValueError, match="must start with a '# ' title"):
        colab.with_badge("Body", "01_x")
    assert colab.without_badge(once) == "# Title\n\nBody"
    assert colab.without_badge("# Title\n\nBody") == "# Title\n\nBody"


@pytest.mark.parametrize("repo, branch", [("no-slash", "main"), ("a/b", "main; rm -rf /")])
def test_bad_config_is_refused(repo, branch):
    with pytest.raises(ValueError, match="GITHUB_"):
        colab.setup_cell_source(repo, branch)


def _run_cell(env_extra: dict, colab_loaded: bool, tmp_path: Path):
    prelude = "import sys, types\n"
    if colab_loaded:
        prelude += "sys.modules['google.colab'] = types.ModuleType('google.colab')\n"
    code = prelude + colab.setup_cell_source() + textwrap.dedent("""
        print("numpy loaded:", "numpy" in sys.modules, "| COURSE set:", "COURSE" in dir())
    """)
    env = {k: v for k, v in os.environ.items() if k != "COURSE_COLAB_CHECKOUT"}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                          capture_output=True, text=True)


def _stub_checkout(root: Path) -> None:
    (root / "colab").mkdir(parents=True)
    (root / "colab" / "colab_setup.py").write_text(
        "def setup(course):\n    print('setup called with', course)\n")


def test_cell_outside_colab_does_nothing(tmp_path):
    done = _run_cell({}, colab_loaded=False, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "numpy loaded: False | COURSE set: False\n"
    assert done.stderr == ""
    assert list(tmp_path.iterdir()) == []


def test_cell_on_colab_uses_an_existing_checkout(tmp_path):
    checkout = tmp_path / "course"
    _stub_checkout(checkout)
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "git").write_text("#!/bin/sh\necho git must not run >&2\nexit 3\n")
    (fake_bin / "git").chmod(0o755)
    done = _run_cell({"COURSE_COLAB_CHECKOUT": str(checkout),
                      "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"}, True, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"setup called with {checkout}",
                                        "numpy loaded: False | COURSE set: True"]


def test_cell_on_colab_clones_the_configured_branch(tmp_path):
    target = tmp_path / "clone"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    log = tmp_path / "git-args"
    (fake_bin / "git").write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys, pathlib
        pathlib.Path({str(log)!r}).write_text("\\n".join(sys.argv[1:]))
        root = pathlib.Path(sys.argv[-1])
        (root / "colab").mkdir(parents=True)
        (root / "colab" / "colab_setup.py").write_text(
            "def setup(course):\\n    print('setup called with', course)\\n")
        """))
    (fake_bin / "git").chmod(0o755)
    done = _run_cell({"COURSE_COLAB_CHECKOUT": str(target),
                      "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"}, True, tmp_path)
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == [
        "clone", "--quiet", "--depth=1", "--branch", GITHUB_BRANCH,
        f"https://github.com/{GITHUB_REPOSITORY}.git", str(target)]
    assert done.stdout.splitlines()[0] == f"setup called with {target}"
