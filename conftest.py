"""Repository-wide pytest set-up.

* nbval compares checked notebook outputs after the substitutions in
  tests/nbval_sanitize.cfg, whichever folder pytest is started from.
* Each notebook runs once per test run, not twice. nbval executes every notebook (the
  ``notebooks`` test path); when all of a notebook's cells pass, the outputs it received
  are written as that notebook's executed copy in ``outputs/executed/`` (what
  ``run-notebooks`` writes). tests/test_site.py, which renders those copies, is moved
  after the notebooks, so that on a clean clone it finds them instead of executing every
  notebook again. A notebook that failed under nbval leaves no copy, and the site build
  executes it itself.
"""
import copy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
SITE_TESTS = "tests/test_site.py"


def pytest_configure(config):
    if getattr(config.option, "nbval_sanitize_with", "absent") is None:
        config.option.nbval_sanitize_with = str(SANITIZE)


def pytest_collection_modifyitems(session, config, items):
    site = [item for item in items if item.nodeid.startswith(SITE_TESTS)]
    if site and len(site) < len(items):
        items[:] = [item for item in items if not item.nodeid.startswith(SITE_TESTS)] + site


def _is_notebook_cell(item) -> bool:
    """An nbval cell item (nbval's IPyNbCell), without importing nbval."""
    return hasattr(item, "test_outputs") and hasattr(getattr(item, "parent", None), "nb")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or not _is_notebook_cell(item):
        return
    notebook = item.parent
    if not hasattr(notebook, "_course_cells"):
        notebook._course_cells = [i for i in item.session.items if i.parent is notebook]
        code_cells = sum(cell.cell_type == "code" for cell in notebook.nb.cells)
        # a run of some cells only (pytest -k) makes no copy
        notebook._course_outputs = {} if len(notebook._course_cells) == code_cells else None
    if not report.passed:
        notebook._course_outputs = None                 # no copy of a failed run
    elif notebook._course_outputs is not None:
        notebook._course_outputs[id(item.cell)] = list(item.test_outputs or [])
        if len(notebook._course_outputs) == len(notebook._course_cells):
            _write_executed_copy(notebook)


def _write_executed_copy(notebook) -> None:
    import nbformat

    from course_utils._fs import atomic_path
    from course_utils.tools.runner import OUTPUT_DIR

    executed = copy.deepcopy(notebook.nb)
    count = 0
    for original, cell in zip(notebook.nb.cells, executed.cells):
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        cell.outputs = notebook._course_outputs.get(id(original), [])
        for output in cell.outputs:
            if output.get("output_type") == "execute_result":
                output["execution_count"] = count
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    with atomic_path(OUTPUT_DIR / Path(str(notebook.fspath)).name) as tmp:
        nbformat.write(executed, str(tmp))
