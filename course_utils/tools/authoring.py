"""Tools for the people who write and teach the course, not for learners' analyses.

The stored notebooks follow three rules, enforced here and by the tests:

* **Clean.** No outputs and no execution counts, except in cells tagged
  ``nbval-check-output``: those keep the outputs that nbval compares on every test run
  (their printed figures are the course's reference answers).
* **Checked outputs come from a real run.** :func:`store_checked_outputs` copies them
  from an executed copy of the same notebook (``python -m course_utils run-notebooks``
  writes those to ``outputs/executed/``).
* **Learner versions are generated.** :func:`learner_version` drops every cell tagged
  ``solution`` and leaves a cell to work in; nobody maintains them by hand.

Only ``nbformat`` (and the light ``config``) is imported here, so the pre-commit hook can run this module
(``python -m course_utils.tools.authoring clean``) without the course's heavy dependencies.
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

from .._fs import atomic_path
from ..config import NOTEBOOK_DIR, REPO_ROOT

CHECK_TAG = "nbval-check-output"
SOLUTION_TAG = "solution"
LEARNER_PLACEHOLDER = "# Your answer here.\n"
#: Notebook-level metadata worth keeping; anything else (widget state, language_info
#: versions, editor state) is noise that differs between machines.
KEEP_NOTEBOOK_METADATA = ("jupytext", "kernelspec")

def course_notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The course's notebooks (``NN_name.ipynb``), in course order."""
    return sorted(Path(folder).glob("[0-9]*.ipynb"))


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def is_checked(cell) -> bool:
    """True for a code cell whose stored output nbval compares."""
    return cell.cell_type == "code" and CHECK_TAG in _tags(cell)


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return a copy of ``nb`` without outputs, execution counts and machine-specific
    metadata; cells tagged ``nbval-check-output`` keep their outputs and execution count
    (nbval only compares cells that were run)."""
    out = copy.deepcopy(nb)
    out.metadata = nbformat.NotebookNode(
        {k: v for k, v in nb.metadata.items() if k in KEEP_NOTEBOOK_METADATA})
    for cell in out.cells:
        if cell.cell_type != "code":
            continue
        for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
            cell.metadata.pop(key, None)
        if not (is_checked(cell) and cell.outputs):
            cell.outputs = []
            cell.execution_count = None
    return out


def store_checked_outputs(source: nbformat.NotebookNode,
                          executed: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Copy the outputs of the ``nbval-check-output`` cells from ``executed`` into a
    clean copy of ``source``.

    Raises
    ------
    ValueError
        If the two notebooks' cells differ in number or source (the executed copy is
        stale: run the notebook again), or a checked cell produced an error or nothing.
    """
    src = [c.source for c in source.cells]
    ran = [c.source for c in executed.cells]
    if src != ran:
        first = next((i for i, (a, b) in enumerate(zip(src, ran)) if a != b),
                     min(len(src), len(ran)))
        raise ValueError(
            f"the executed copy does not match the source (first difference at cell {first}); "
            "run the notebook again (python -m course_utils run-notebooks NOTEBOOK)")
    out = clean(source)
    for i, (cell, done) in enumerate(zip(out.cells, executed.cells)):
        if not is_checked(cell):
            continue
        if not done.outputs or any(o.output_type == "error" for o in done.outputs):
            raise ValueError(f"checked cell {i} has no output or failed in the executed copy; "
                             "fix the notebook and run it again")
        cell.outputs = copy.deepcopy(done.outputs)
        cell.execution_count = done.execution_count
    return clean(out)


def learner_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The learner's copy of a notebook: every ``solution`` cell is replaced by a code
    cell holding only ``# Your answer here.``, and all outputs (checked ones included)
    are removed."""
    out = copy.deepcopy(clean(nb))
    cells = []
    for cell in out.cells:
        if SOLUTION_TAG in _tags(cell):
            cells.append(nbformat.v4.new_code_cell(LEARNER_PLACEHOLDER))
            continue
        if cell.cell_type == "code":
            cell.outputs = []
            cell.metadata["tags"] = [t for t in _tags(cell) if t != CHECK_TAG]
            if not cell.metadata["tags"]:
                del cell.metadata["tags"]
        cells.append(cell)
    out.cells = cells
    # A learner copy is not paired with a percent script.
    out.metadata.pop("jupytext", None)
    return out


def write_notebook(nb: nbformat.NotebookNode, path: Path, overwrite: bool = False) -> None:
    """Write ``nb`` to ``path`` atomically (temp file, then rename).

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        nbformat.write(nb, handle)


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def clean_files(paths: list[Path], check: bool = False) -> list[Path]:
    """Clean notebooks in place (or, with ``check``, only report). Returns the paths that
    were (or would be) changed."""
    changed = []
    for path in paths:
        nb = _read(path)
        if clean(nb) != nb:
            changed.append(path)
            if not check:
                write_notebook(clean(nb), path, overwrite=True)
    return changed


def add_commands(sub) -> None:
    """Add ``clean``, ``store-outputs`` and ``learner`` to a command line's subparsers:
    ``python -m course_utils notebooks ...`` and this module's own light entry point."""
    p = sub.add_parser("clean", help="strip outputs except the checked cells'")
    p.add_argument("notebooks", nargs="*", type=Path, help="default: the course's notebooks")
    p.add_argument("--check", action="store_true", help="only report; exit 1 if any is not clean")
    p.set_defaults(func=_run, authoring="clean")
    p = sub.add_parser("store-outputs", help="store the checked cells' outputs from executed copies")
    p.add_argument("--executed", type=Path, required=True, help="folder of executed copies")
    p.add_argument("notebooks", nargs="*", type=Path, help="default: the course's notebooks")
    p.set_defaults(func=_run, authoring="store-outputs")
    p = sub.add_parser("learner", help="write learner versions (no solutions)")
    p.add_argument("--out", type=Path, required=True, help="folder for the learner notebooks")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.add_argument("notebooks", nargs="*", type=Path, help="default: the course's notebooks")
    p.set_defaults(func=_run, authoring="learner")


def register(sub) -> None:
    """Add the ``notebooks`` command (clean, store-outputs, learner) to the course's
    command line."""
    p = sub.add_parser("notebooks", help="authoring: clean the stored notebooks, store "
                       "checked outputs, write learner versions", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_commands(p.add_subparsers(dest="authoring_command", required=True))


def _run(args: argparse.Namespace) -> int:
    paths = [p for p in args.notebooks if p.suffix == ".ipynb"]
    if args.notebooks and not paths:
        print(f"error: no .ipynb among {[str(p) for p in args.notebooks]}; name the "
              "notebooks (NN_name.ipynb), or none for all of them", file=sys.stderr)
        return 2
    paths = paths or course_notebooks()
    try:
        if args.authoring == "clean":
            changed = clean_files(paths, check=args.check)
            verb = "not clean" if args.check else "cleaned"
            for path in changed:
                print(f"{verb}: {path}")
            return 1 if (args.check and changed) else 0
        if args.authoring == "store-outputs":
            for path in paths:
                executed = args.executed / path.name
                if not executed.exists():
                    raise FileNotFoundError(f"no executed copy {executed}; run "
                                            f"`python -m course_utils run-notebooks {path}` first")
                nb = store_checked_outputs(_read(path), _read(executed))
                write_notebook(nb, path, overwrite=True)
                print(f"{path.name}: {sum(map(is_checked, nb.cells))} checked cells stored")
            return 0
        for path in paths:
            write_notebook(learner_version(_read(path)), args.out / path.name,
                           overwrite=args.overwrite)
        print(f"wrote {len(paths)} learner notebooks to {args.out}")
        return 0
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.tools.authoring clean|store-outputs|learner``: the same
    commands as ``python -m course_utils notebooks ...``, importing only nbformat (for
    the pre-commit hook)."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.tools.authoring",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
