"""Run the course notebooks the way a Colab runtime would, without Colab.

Each notebook runs in a fresh Python 3.12 kernel of this interpreter that, before the
notebook's first cell, has numpy 2 / pandas / matplotlib (other versions than the
course's) already imported, as a Colab kernel does, and has ``google.colab`` in
``sys.modules``. The notebook's own setup cell must then install (or reuse) the course's
pins, build (or reuse) the sample and make the course work in that same kernel, with no
restart. ``COURSE_COLAB_CHECKOUT`` points the cell at this checkout instead of a clone.

Run by ``python -m course_utils test-py312`` with the ``.py312/venv`` interpreter:
``python colab/simulate_colab.py [NOTEBOOK.ipynb ...]``. Exit status 1 if any notebook
fails, its setup cell does not report ready, or it draws no figure.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REPO = Path(__file__).resolve().parent.parent
PACKAGES = REPO / ".py312" / "packages"
MARKER = "# Google Colab only:"

PRELOAD = '''import sys, types
get_ipython().run_line_magic("matplotlib", "inline")   # as Colab's kernel starts up
for name in ("numpy", "pandas", "matplotlib.pyplot"):  # so these are already imported,
    __import__(name)                                   # not bound to names in the notebook
sys.modules.setdefault("google.colab", types.ModuleType("google.colab"))
print("before the setup cell: numpy", sys.modules["numpy"].__version__)'''

CHECK = '''import numpy, pandas, matplotlib, course_utils
print("after the setup cell: numpy", numpy.__version__, "from", numpy.__file__)
for module, version in {versions!r}.items():
    loaded = sys.modules[module]
    assert loaded.__version__ == version, (module, loaded.__version__, version)
    assert loaded.__file__.startswith({packages!r}), (module, loaded.__file__)'''


def pinned(names: tuple[str, ...]) -> dict[str, str]:
    """Versions of ``names`` in requirements-py312.txt."""
    text = (REPO / "requirements-py312.txt").read_text()
    return {n: re.search(rf"^{n}==(\S+)$", text, re.M).group(1) for n in names}


def prepared(path: Path) -> nbformat.NotebookNode:
    """The notebook with the Colab preload before it and a version check after its
    setup cell."""
    nb = nbformat.read(path, as_version=4)
    if not nb.cells[1].source.startswith(MARKER):
        raise ValueError(f"{path.name}: the first code cell is not the Colab setup cell")
    check = CHECK.format(versions=pinned(("numpy", "pandas", "matplotlib")),
                         packages=str(PACKAGES))
    nb.cells[2:2] = [nbformat.v4.new_code_cell(check)]
    nb.cells.insert(0, nbformat.v4.new_code_cell(PRELOAD))
    return nb


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []))


def figures(nb: nbformat.NotebookNode) -> int:
    """Number of PNG images among the outputs."""
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.get("outputs", []))


def run_notebook(path: Path, workdir: Path, verbose: bool) -> tuple[bool, str]:
    """Execute one notebook as Colab would; returns (passed, report). The report shows
    the setup cell's whole output if ``verbose``, else its last line."""
    nb = prepared(path)
    started = time.perf_counter()
    try:
        NotebookClient(nb, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(workdir)}}).execute()
    except CellExecutionError as err:
        return False, f"FAILED {path.name}: {str(err)[-1500:]}"
    seconds = time.perf_counter() - started
    setup_output = _text(nb.cells[2])
    ready = [line for line in setup_output.splitlines() if line.startswith("ready in ")]
    if not ready or "WARNING" in setup_output:
        return False, f"FAILED {path.name}: the setup cell did not report ready:\n{setup_output}"
    if not figures(nb):
        return False, f"FAILED {path.name}: no figure was displayed"
    shown = setup_output.strip() if verbose else ready[0]
    return True, (f"ok  {path.name}: {seconds:.0f} s, {figures(nb)} figures; setup cell:\n    "
                  + shown.replace("\n", "\n    "))


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))
    os.environ["COURSE_COLAB_CHECKOUT"] = str(REPO)
    os.environ.pop("PYTHONPATH", None)           # a Colab kernel has no course on its path
    failed = 0
    with tempfile.TemporaryDirectory(prefix="colab-content-") as workdir:
        for number, path in enumerate(paths):
            passed, report = run_notebook(path, Path(workdir), verbose=number == 0)
            print(report, flush=True)
            failed += not passed
    print(f"simulated Colab: {len(paths) - failed}/{len(paths)} notebooks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
