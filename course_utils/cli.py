"""Command line: ``python -m course_utils <command>``.

Commands
--------
build-sample    build (or rebuild with --force) the offline sample
run-notebooks   execute the course notebooks headless, in order, and report each one's time
bin-spikes      Neuropixels spike counts by visual area around stimulus epochs, to NetCDF
colab-cells     rewrite every notebook's Colab badge and setup cell from config.py
test-py312      test the Python 3.12 / Colab recipe (part of ./course.sh test)
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from .config import REPO_ROOT
from .metadata import VISUAL_AREAS

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
OUTPUT_DIR = REPO_ROOT / "outputs" / "executed"


def _build_sample(args: argparse.Namespace) -> int:
    from .sample import build_sample, read_marker
    from .config import sample_dir

    report = build_sample(force=args.force, progress=not args.quiet)
    if report is None:
        marker = read_marker()
        print(f"offline sample is up to date at {sample_dir()} "
              f"(built {marker.get('built', '?')}; use --force to rebuild)")
    else:
        print("\n".join(report.lines()))
    return 0


def execute_notebook(path: Path, out_dir: Path, timeout: int = 900) -> float:
    """Execute one notebook in its own folder; write the executed copy atomically to
    ``out_dir``. Returns the wall time in seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=out_dir, suffix=".ipynb", delete=False) as tmp:
        nbformat.write(nb, tmp)
    os.replace(tmp.name, out_dir / path.name)
    return seconds


def _run_notebooks(args: argparse.Namespace) -> int:
    from .sample import ensure_sample

    paths = [Path(p) for p in args.notebooks] or sorted(NOTEBOOK_DIR.glob("[0-9]*.ipynb"))
    ensure_sample(progress=True)
    if not paths:
        print(f"no notebooks in {NOTEBOOK_DIR} yet: the offline sample is ready, nothing to run")
        return 0
    failed, total = [], 0.0
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        try:
            seconds = execute_notebook(path, OUTPUT_DIR)
        except Exception as err:  # report every notebook, then fail
            print(f"  FAILED {path.name}: {type(err).__name__}: {str(err)[-2000:]}")
            failed.append(path.name)
            continue
        total += seconds
        print(f"  ok  {seconds:6.1f} s")
    print(f"{len(paths) - len(failed)}/{len(paths)} notebooks ran, {total:.1f} s in all; "
          f"executed copies in {OUTPUT_DIR}")
    return 1 if failed else 0


def _bin_spikes(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .caches import open_ecephys_cache
    from .ecephys import epoch_spike_counts, load_ecephys_session, units_by_area
    from .export import save_netcdf

    out = Path(args.out)
    if out.exists() and not args.overwrite:       # fail before the slow part
        print(f"error: {out} exists; add --overwrite to replace it", file=sys.stderr)
        return 2
    steps = ["open the cache", "load the session", "units by area", "spike times",
             "count spikes", "write the file"]
    with tqdm(total=len(steps), unit="step", disable=args.quiet) as bar:
        def step(i):
            bar.set_description(steps[i])
            if i:
                bar.update(1)
        step(0)
        cache = open_ecephys_cache()
        step(1)
        session = load_ecephys_session(cache, args.session)
        step(2)
        units = units_by_area(session, args.areas)
        step(3)
        _ = session.spike_times
        step(4)
        counts = epoch_spike_counts(session, pre=args.pre, post=args.post,
                                    bin_size=args.bin_size, areas=args.areas)
        step(5)
        save_netcdf(counts, out, overwrite=args.overwrite)
        bar.update(1)
    print(f"wrote {out}: {dict(counts.sizes)} spike counts of {len(units)} units "
          f"({', '.join(f'{a} {n}' for a, n in units['area'].value_counts(sort=False).items())})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build-sample", help="build the offline sample")
    p.add_argument("--force", action="store_true", help="rebuild even if up to date")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_build_sample)
    p = sub.add_parser("run-notebooks", help="execute the notebooks headless")
    p.add_argument("notebooks", nargs="*", help="notebooks to run (default: all, in order)")
    p.set_defaults(func=_run_notebooks)
    p = sub.add_parser("bin-spikes", help="Neuropixels spike counts around stimulus epochs",
                       description="Count each visual-area unit's spikes in bins around the "
                       "start of every stimulus epoch and save them as NetCDF.")
    p.add_argument("--session", type=int, default=756029989, help="ecephys session id")
    p.add_argument("--bin-size", type=float, default=0.1, help="seconds (default 0.1)")
    p.add_argument("--pre", type=float, default=10.0, help="seconds before each epoch start")
    p.add_argument("--post", type=float, default=90.0, help="seconds after each epoch start")
    p.add_argument("--areas", nargs="+", default=list(VISUAL_AREAS), metavar="AREA",
                   help="Allen acronyms (default: the six visual areas)")
    p.add_argument("--out", required=True, help="output file (.nc)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_bin_spikes)
    from . import colab, py312
    p = sub.add_parser("colab-cells", help="update the notebooks' Colab badge and setup cell")
    p.set_defaults(func=colab.cli_update)
    p = sub.add_parser("test-py312", help="test the Python 3.12 / Colab recipe")
    p.set_defaults(func=py312.cli_run)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (KeyError, ValueError, FileExistsError, FileNotFoundError, ConnectionError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
