"""Stored notebooks are clean, their checked outputs are what nbval compares (and a
changed figure fails the run), and learner versions are generated without solutions."""
import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from course_utils.tools.authoring import (CHECK_TAG, LEARNER_PLACEHOLDER, SOLUTION_TAG, clean,
                                    course_notebooks, is_checked, learner_version, main,
                                    store_checked_outputs, write_notebook)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = course_notebooks()
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _read(path):
    return nbformat.read(path, as_version=4)


def _toy():
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNEL,
                                            "widgets": {"state": {}}})
    checked = nbformat.v4.new_code_cell("print(42)", metadata={"tags": [CHECK_TAG]})
    checked.outputs = [nbformat.v4.new_output("stream", name="stdout", text="42\n")]
    checked.execution_count = 3
    plain = nbformat.v4.new_code_cell("1 + 1")
    plain.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"},
                                            execution_count=4)]
    plain.execution_count = 4
    nb.cells = [nbformat.v4.new_markdown_cell("# Toy\n**Exercise 1.** Add."),
                checked, plain,
                nbformat.v4.new_code_cell("answer = 2", metadata={"tags": [SOLUTION_TAG]}),
                nbformat.v4.new_code_cell("more = 3", metadata={"tags": [SOLUTION_TAG]})]
    return nb


def test_clean_keeps_only_checked_outputs():
    nb = clean(_toy())
    assert nb.metadata == {"kernelspec": KERNEL}
    assert nb.cells[1].outputs[0]["text"] == "42\n"
    assert nb.cells[2].outputs == []
    assert [c.get("execution_count") for c in nb.cells] == [None, 3, None, None, None]
    assert clean(nb) == nb


def test_store_checked_outputs_refuses_a_stale_run():
    source, executed = clean(_toy()), _toy()
    executed.cells[1].outputs[0]["text"] = "43\n"
    stored = store_checked_outputs(source, executed).cells[1]
    assert stored.outputs[0]["text"] == "43\n" and stored.execution_count == 3
    executed.cells[2].source = "1 + 2"
    with pytest.raises(ValueError, match="first difference at cell 2.*run the notebook again"):
        store_checked_outputs(source, executed)
    failed = _toy()
    failed.cells[1].outputs = [nbformat.v4.new_output("error", ename="E", evalue="", traceback=[])]
    with pytest.raises(ValueError, match="checked cell 1"):
        store_checked_outputs(source, failed)


def test_learner_version_replaces_each_solution_with_a_cell_to_work_in():
    nb = learner_version(_toy())
    sources = [c.source for c in nb.cells]
    assert sources == ["# Toy\n**Exercise 1.** Add.", "print(42)", "1 + 1",
                       LEARNER_PLACEHOLDER, LEARNER_PLACEHOLDER]
    assert all(c.get("outputs", []) == [] for c in nb.cells)
    assert not any(c.metadata.get("tags") for c in nb.cells)


def test_write_notebook_never_overwrites_unasked(tmp_path):
    path = tmp_path / "a.ipynb"
    write_notebook(_toy(), path)
    with pytest.raises(FileExistsError, match="overwrite"):
        write_notebook(clean(_toy()), path)
    assert _read(path).cells[2].outputs, "the first file is intact"
    write_notebook(clean(_toy()), path, overwrite=True)
    assert _read(path).cells[2].outputs == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ipynb"], "no temp files left"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_notebooks_are_clean_and_checked(path):
    nb = _read(path)
    assert clean(nb) == nb, f"{path.name} has stray outputs: python -m course_utils.tools.authoring clean"
    checked = [c for c in nb.cells if is_checked(c)]
    assert len(checked) >= 3, f"{path.name}: only {len(checked)} cells tagged {CHECK_TAG}"
    for cell in checked:
        assert cell.outputs, f"{path.name}: a checked cell has no stored output:\n{cell.source}"
        for output in cell.outputs:
            # Printed text or plain reprs only: HTML reprs carry random ids.
            assert set(output.get("data", {})) <= {"text/plain"}, cell.source
    assert not any(is_checked(c) for c in nb.cells if SOLUTION_TAG in c.metadata.get("tags", []))


def _names(source, kind):
    names = set()
    tree = ast.parse("\n".join(l for l in source.splitlines() if not l.lstrip().startswith(("%", "!"))))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, kind):
            names.add(node.id)
        elif kind is ast.Store and isinstance(node, (ast.FunctionDef, ast.Import, ast.ImportFrom)):
            names |= {getattr(node, "name", None)} | {a.asname or a.name for a in getattr(node, "names", [])}
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_learner_version_runs_without_the_solutions(path):
    """Nothing after an exercise uses a name that only its solution defines."""
    cells = [c for c in _read(path).cells if c.cell_type == "code"]
    defined_outside = set()
    for cell in cells:
        if SOLUTION_TAG not in cell.metadata.get("tags", []):
            defined_outside |= _names(cell.source, ast.Store)
    only_in_solutions = set()
    for cell in cells:
        if SOLUTION_TAG in cell.metadata.get("tags", []):
            only_in_solutions |= _names(cell.source, ast.Store) - defined_outside
        else:
            used = _names(cell.source, ast.Load) & only_in_solutions
            assert not used, f"{path.name}: {sorted(used)} come from a solution cell"
    learner = learner_version(_read(path))
    assert not any(SOLUTION_TAG in c.metadata.get("tags", []) for c in learner.cells)
    text = "\n".join(c.source for c in learner.cells)
    assert text.count(LEARNER_PLACEHOLDER.strip()) == text.count("**Exercise ") >= 2


def test_learner_command_writes_and_refuses_to_overwrite(tmp_path, capsys):
    assert main(["learner", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in NOTEBOOKS]
    assert main(["learner", "--out", str(tmp_path)]) == 2
    assert "exists" in capsys.readouterr().err


def _nbval(path, cwd):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-current-env", f"--nbval-sanitize-with={SANITIZE}", str(path)],
        cwd=cwd, capture_output=True, text=True, timeout=600)


def test_a_changed_figure_fails_nbval(tmp_path):
    """The stored output of a checked cell is compared: 53 cells becoming 54 fails."""
    source = NOTEBOOKS[0]
    nb = _read(source)
    cell = next(c for c in nb.cells if is_checked(c) and "cells: 53" in c.outputs[0].get("text", ""))
    same = tmp_path / "same.ipynb"
    nbformat.write(nb, same)
    cell.outputs[0]["text"] = cell.outputs[0]["text"].replace("cells: 53", "cells: 54")
    changed = tmp_path / "changed.ipynb"
    nbformat.write(nb, changed)
    ok = _nbval(same, tmp_path)
    assert ok.returncode == 0, ok.stdout[-3000:]
    bad = _nbval(changed, tmp_path)
    assert bad.returncode == 1, bad.stdout[-3000:]
    assert "cells: 54" in bad.stdout and "cells: 53" in bad.stdout


def test_pre_commit_hooks_use_the_pinned_tools():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {h["id"]: h for repo in config["repos"] for h in repo["hooks"]}
    assert set(hooks) == {"jupytext-sync", "clean-notebooks"}
    pins = dict(line.strip().split("==") for line in (ROOT / "requirements.txt").read_text()
                .splitlines() if "==" in line and not line.startswith("#"))
    for hook in hooks.values():
        for requirement in hook["additional_dependencies"]:
            name, version = requirement.split("==")
            assert pins.get(name) == version, f"{requirement} differs from requirements.txt"
    assert hooks["clean-notebooks"]["entry"] == "python -m course_utils.tools.authoring clean"
    assert all(re.match(hooks["jupytext-sync"]["files"], f"notebooks/{p.name}") for p in NOTEBOOKS)
