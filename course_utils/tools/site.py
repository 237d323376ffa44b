"""Build the course site: ``python -m course_utils build-site``.

The site is a folder of static, self-contained HTML pages: ``index.html`` (every notebook
in course order with its objectives, time and launch links) and one page per executed
notebook with navigation, launch links and its figures. Open ``index.html`` in a browser,
or serve the folder with any static web server; it makes no network requests.

Notebooks are rendered from executed copies of the paired sources. An executed copy in
``--executed`` (default ``outputs/executed/``, where ``run-notebooks`` writes them) is
reused when it is newer than both halves of its pair, holds the same cells, and ran
without errors; otherwise the notebook is executed again and the copy replaced.

The site is built in a temporary sibling folder and renamed into place when complete.
An existing site is replaced only with ``--overwrite``, and a folder that is not a site
built by this command (no marker file) is never replaced.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

from . import authoring
from .._fs import swap_into_place
from .runner import OUTPUT_DIR, execute_notebook, prepare_data
from ..config import NOTEBOOK_DIR, REPO_ROOT
from .site_pages import NotebookInfo, notebook_info, render_index, render_notebook_page

EXECUTED_DIR = OUTPUT_DIR                   # where run-notebooks leaves executed copies
DEFAULT_OUT = REPO_ROOT / "outputs" / "site"
MARKER = ".course-site.json"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")


@dataclass
class SiteReport:
    """What :func:`build_site` did: the folder, and per page its figures and whether the
    notebook was executed (seconds) or an up-to-date executed copy reused (``None``)."""

    out: Path
    pages: list[tuple[str, int, float | None]] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        rows = [f"  {name:34s} {figures:3d} figure{'s' if figures != 1 else ' '}  "
                + (f"executed in {run:.1f} s" if run is not None else "reused executed copy")
                for name, figures, run in self.pages]
        return [*rows, f"site of {len(self.pages)} notebooks built in {self.seconds:.1f} s: "
                       f"open {self.out / 'index.html'}"]


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def check_pair(path: Path) -> None:
    """Fail if ``path`` (a .ipynb) and its percent .py, when there is one, differ."""
    import jupytext

    script = path.with_suffix(".py")
    if script.exists() and _cells(jupytext.read(script)) != _cells(jupytext.read(path)):
        raise ValueError(f"{script.name} and {path.name} differ: sync them with "
                         f"`cd {path.parent} && jupytext --sync {script.name}`, then rebuild")


def count_figures(nb: nbformat.NotebookNode) -> int:
    """Number of outputs the page shows as an image (an image and no HTML alternative)."""
    return sum(1 for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
               if any(t in out.get("data", {}) for t in IMAGE_TYPES)
               and "text/html" not in out.get("data", {}))


def staleness(source: Path, executed: Path) -> str | None:
    """Why the executed copy of ``source`` must be (re)made, or ``None`` if it can be used."""
    if not executed.is_file():
        return "no executed copy"
    # Compared by content, not modification time: storing the checked outputs in the
    # source (python -m course_utils notebooks store-outputs) must not invalidate a run.
    done = nbformat.read(executed, as_version=4)
    if _cells(done) != _cells(nbformat.read(source, as_version=4)):
        return "executed copy's cells differ from the source"
    code = [c for c in done.cells if c.cell_type == "code"]
    if any(c.execution_count is None for c in code if c.source.strip()):
        return "executed copy has cells that did not run"
    if any(o.output_type == "error" for c in code for o in c.outputs):
        return "executed copy has errors"
    return None


def executed_notebook(source: Path, executed_dir: Path,
                      log: Callable[[str], None] = print) -> tuple[nbformat.NotebookNode,
                                                                   float | None]:
    """The executed copy of ``source`` from ``executed_dir``, executing it first if it is
    missing or stale. Returns the notebook and the execution time (``None`` if reused)."""
    target = Path(executed_dir) / source.name
    reason = staleness(source, target)
    seconds = None
    if reason is not None:
        log(f"executing {source.name} ({reason}) ...")
        seconds, _ = execute_notebook(source, Path(executed_dir))   # (seconds, peak GB)
    return nbformat.read(target, as_version=4), seconds


def _check_target(out: Path, overwrite: bool) -> None:
    if not out.exists():
        return
    if not overwrite:
        raise FileExistsError(f"{out} exists; add --overwrite to replace the site, "
                              "or choose another --out")
    if not (out / MARKER).is_file():
        raise FileExistsError(f"{out} exists and is not a site built by build-site (no "
                              f"{MARKER}); it is never replaced: choose another --out")


def _write_site(work: Path, pages: list[tuple[NotebookInfo, nbformat.NotebookNode]]) -> None:
    infos = [info for info, _ in pages]
    for position, (info, nb) in enumerate(pages):
        html = render_notebook_page(nb, infos, position)
        (work / info.href).write_text(html, encoding="utf-8")
    (work / "index.html").write_text(render_index(infos), encoding="utf-8")
    marker = {"built": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "pages": {info.href: count_figures(nb) for info, nb in pages}}
    (work / MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")


def build_site(out: Path = DEFAULT_OUT, executed_dir: Path = EXECUTED_DIR,
               notebooks: list[Path] | None = None, overwrite: bool = False,
               log: Callable[[str], None] = print) -> SiteReport:
    """Build the static site of the executed notebooks into ``out``.

    Parameters
    ----------
    out : Path
        The site folder. Must not exist, unless ``overwrite`` and it is a site built here.
    executed_dir : Path
        Where executed copies are reused from and (re)executed ones written to.
    notebooks : list of Path, optional
        The .ipynb files in course order (default: the course's, from
        :func:`course_utils.tools.authoring.course_notebooks`).
    overwrite : bool
        Replace an existing site.
    log : callable
        Receives one line per notebook executed.

    Raises
    ------
    FileExistsError
        If ``out`` exists and may not be replaced.
    ValueError
        If a notebook's pair is out of sync or its first cell lacks title, time or
        objectives.
    """
    started = time.perf_counter()
    out = Path(out).resolve()
    _check_target(out, overwrite)
    paths = [Path(p) for p in notebooks] if notebooks else authoring.course_notebooks()
    if not paths:
        raise FileNotFoundError(f"no course notebooks ([0-9]*.ipynb) in {NOTEBOOK_DIR}")
    for path in paths:                       # fail on bad sources before the slow part
        check_pair(path)
        notebook_info(nbformat.read(path, as_version=4), path.stem)
    executed_dir = Path(executed_dir)
    stale = [path for path in paths if staleness(path, executed_dir / path.name)]
    if stale:
        prepare_data(stale)                  # the notebooks read the offline sample
    report = SiteReport(out)
    pages = []
    for path in paths:
        nb, seconds = executed_notebook(path, executed_dir, log)
        pages.append((notebook_info(nb, path.stem), nb))
        report.pages.append((path.stem, count_figures(nb), seconds))
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        work.chmod(0o755)                    # mkdtemp's 0700 would hide it from web servers
        _write_site(work, pages)
        _check_target(out, overwrite)        # nothing appeared meanwhile
        swap_into_place(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    report.seconds = time.perf_counter() - started
    return report


def _run(args: argparse.Namespace) -> int:
    from nbclient.exceptions import CellControlSignal, DeadKernelError

    try:
        report = build_site(Path(args.out), Path(args.executed), overwrite=args.overwrite)
    except (CellControlSignal, DeadKernelError) as err:   # failed, timed out, or died
        print(f"error: a notebook failed to execute, so the site was not built:\n"
              f"{str(err)[-2000:]}\nRun it alone with `python -m course_utils run-notebooks "
              "notebooks/<name>.ipynb` to fix it.", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Register ``build-site`` on the command line's subparsers."""
    p = sub.add_parser("build-site", help="build the static site of the executed notebooks",
                       description="Build a static, offline site of the executed "
                       "notebooks (index in course order, navigation, launch links, "
                       "figures). Up-to-date executed copies are reused; stale or missing "
                       "ones are executed first.")
    p.add_argument("--out", default=str(DEFAULT_OUT),
                   help="site folder (default: outputs/site)")
    p.add_argument("--executed", default=str(EXECUTED_DIR),
                   help="executed copies to reuse and refresh (default: outputs/executed)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing site")
    p.set_defaults(func=_run)
