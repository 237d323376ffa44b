"""Google Colab launch: each notebook's "Open in Colab" badge and its first code cell.

Both are generated from :data:`course_utils.config.GITHUB_REPOSITORY` and
:data:`~course_utils.config.GITHUB_BRANCH`. The setup cell cannot import this package
(Colab opens a notebook without the repository), so the slug is written into the cell;
``python -m course_utils colab-cells`` rewrites badges and cells after a change of
``config.py``, and ``tests/test_colab.py`` checks they agree.

On Colab the cell clones the course and runs ``colab/colab_setup.py``; anywhere else
(a laptop, Binder, CI under nbval) it does nothing and prints nothing.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .._fs import atomic_path
from ..config import GITHUB_BRANCH, GITHUB_REPOSITORY, NOTEBOOK_DIR, REPO_ROOT

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
#: First line of the setup cell: how it is recognised when rewritten.
CELL_MARKER = "# Google Colab only:"
_BADGE_LINE = re.compile(r"^\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)$", re.M)

_CELL = '''{marker} fetch the course, install its Python 3.12 pins and build the
# offline sample (about 4 minutes the first time). Anywhere else this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import os, subprocess
    REPO, BRANCH = "{repository}", "{branch}"
    COURSE = os.environ.get("COURSE_COLAB_CHECKOUT", "/content/" + REPO.split("/")[1])
    if not os.path.isdir(COURSE):
        subprocess.run(["git", "clone", "--quiet", "--depth=1", "--branch", BRANCH,
                        f"https://github.com/{{REPO}}.git", COURSE], check=True)
    sys.path.insert(0, os.path.join(COURSE, "colab"))
    import colab_setup
    colab_setup.setup(COURSE)'''


def setup_cell_source(repository: str | None = None, branch: str | None = None) -> str:
    """Source of the first code cell of every notebook (default: the configured
    repository and branch)."""
    repository = GITHUB_REPOSITORY if repository is None else repository
    branch = GITHUB_BRANCH if branch is None else branch
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        raise ValueError(f"GITHUB_REPOSITORY must be 'owner/name', got {repository!r}")
    if not re.fullmatch(r"[\w./-]+", branch):
        raise ValueError(f"GITHUB_BRANCH must be a branch name, got {branch!r}")
    return _CELL.format(marker=CELL_MARKER, branch=branch, repository=repository)


def colab_url(notebook: str) -> str:
    """Colab's address for ``notebooks/<notebook>.ipynb`` of the configured repository
    and branch on GitHub."""
    return (f"https://colab.research.google.com/github/{GITHUB_REPOSITORY}/blob/"
            f"{GITHUB_BRANCH}/notebooks/{notebook}.ipynb")


def badge_markdown(notebook: str) -> str:
    """The "Open in Colab" badge line for a notebook (name without extension)."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(notebook)})"


def without_badge(markdown: str) -> str:
    """``markdown`` without its "Open in Colab" badge line (the badge image is on
    Colab's server; the course site links to Colab from its own navigation)."""
    return re.sub(r"\n{3,}", "\n\n", _BADGE_LINE.sub("", markdown))


def with_badge(markdown: str, notebook: str) -> str:
    """``markdown`` (a title cell starting with "# ") with the badge after its title line,
    replacing any earlier badge."""
    if not markdown.startswith("# "):
        raise ValueError(f"{notebook}: the first cell must start with a '# ' title")
    body = _BADGE_LINE.sub("", markdown)
    title, _, rest = body.partition("\n")
    rest = rest.lstrip("\n")
    return f"{title}\n\n{badge_markdown(notebook)}\n\n{rest}"


def update_notebook(script: Path) -> bool:
    """Give a notebook's percent script the current badge and setup cell.

    Returns
    -------
    bool
        True if the script changed (it is rewritten atomically), False if already current.
    """
    import jupytext
    from nbformat.v4 import new_code_cell

    nb = jupytext.read(script)
    before = jupytext.writes(nb, fmt="py:percent")
    if not nb.cells or nb.cells[0].cell_type != "markdown":
        raise ValueError(f"{script.name}: the first cell must be the title markdown cell")
    nb.cells[0].source = with_badge(nb.cells[0].source, script.stem)
    has_cell = (len(nb.cells) > 1 and nb.cells[1].cell_type == "code"
                and nb.cells[1].source.startswith(CELL_MARKER))
    if has_cell:
        nb.cells[1].source = setup_cell_source()
    else:
        nb.cells.insert(1, new_code_cell(setup_cell_source()))
    after = jupytext.writes(nb, fmt="py:percent")
    if after == before:
        return False
    with atomic_path(script) as tmp:       # keeps the script's mode
        tmp.write_text(after)
    return True


def update_notebooks(notebook_dir: Path = NOTEBOOK_DIR) -> list[str]:
    """Update every notebook's script, then re-pair its ``.ipynb`` with jupytext.
    Returns the names of the notebooks that changed."""
    changed = [p.stem for p in sorted(notebook_dir.glob("[0-9]*.py")) if update_notebook(p)]
    for name in changed:
        subprocess.run([sys.executable, "-m", "jupytext", "--quiet", "--sync", f"{name}.py"],
                       cwd=notebook_dir, check=True)
    return changed


def register(sub) -> None:
    """Add the ``colab-cells`` command to the course's command line."""
    p = sub.add_parser("colab-cells", help="update the notebooks' Colab badge and setup cell")
    p.set_defaults(func=cli_update)


def cli_update(args=None) -> int:
    """``python -m course_utils colab-cells``: update the notebooks, say which changed."""
    changed = update_notebooks()
    print(f"updated: {', '.join(changed) if changed else 'none (all current)'}")
    return 0
