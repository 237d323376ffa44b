"""Command line: ``python -m course_utils <command>``.

Commands
--------
build-sample    build (or rebuild with --force) the offline sample
run-notebooks   execute the notebooks headless, in order; report each one's time and peak memory
bin-spikes      Neuropixels spike counts by visual area around stimulus epochs, to NetCDF
bin-sessions    the same for many sessions at once, on Dask (a local or a running cluster)
check           is this environment ready for the course? (ok / FIX per line)
fetch           download the real Allen files the notebooks use (before a workshop)
build-site      a static site of the executed notebooks (course_utils.tools.site)
colab-cells     rewrite every notebook's Colab badge and setup cell from config.py
test-py312      test the Python 3.12 / Colab recipe (part of ./course.sh test)

notebooks       authoring: clean | store-outputs | learner (also runnable as
                ``python -m course_utils.tools.authoring``, which imports only nbformat,
                for the pre-commit hook)

Exit status: 0 done, 1 failed, 2 usage or input error, 130 interrupted.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .authoring import NOTEBOOK_DIR, course_notebooks
from .. import _checks
from ..metadata import VISUAL_AREAS
from .runner import OUTPUT_DIR, execute_notebook, prepare_data, run_report


def _build_sample(args: argparse.Namespace) -> int:
    from ..sample import NotASampleError, build_sample, read_marker
    from ..sample.more_sessions import checked_session_ids
    from ..config import sample_dir

    if args.more_sessions is not None:      # wrong ids fail before any building
        checked_session_ids(args.more_sessions or "all")
    try:
        report = build_sample(force=args.force, progress=not args.quiet, hashes=True)
    except NotASampleError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if report is None:
        marker = read_marker()
        print(f"offline sample is up to date at {sample_dir()} "
              f"(built {marker.get('built', '?')}; use --force to rebuild)")
    else:
        print("\n".join(report.lines()))
    if args.more_sessions is not None:
        from ..sample.more_sessions import ensure_more_sessions, more_session_ids

        result = ensure_more_sessions(args.more_sessions or "all", progress=not args.quiet,
                                      hashes=True)
        if not result["built"]:
            print(f"Neuropixels sessions {', '.join(map(str, more_session_ids()))}: "
                  "all up to date" if not args.more_sessions else
                  "the sessions asked for are up to date")
    return 0


def _run_notebooks(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.notebooks] or course_notebooks()
    prepare_data(paths)
    if not paths:
        print(f"no notebooks in {NOTEBOOK_DIR} yet: the offline sample is ready, nothing to run")
        return 0
    failed, rows = [], []
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        try:
            seconds, peak_gb = execute_notebook(path, OUTPUT_DIR)
        except Exception as err:  # report every notebook, then fail
            print(f"  FAILED {path.name}: {type(err).__name__}: {str(err)[-2000:]}")
            failed.append(path.name)
            continue
        rows.append((path.stem, seconds, peak_gb))
        print(f"  ok  {seconds:6.1f} s  peak {peak_gb:4.2f} GB", flush=True)
    print("\n".join(run_report(rows, failed)))
    print(f"{len(paths) - len(failed)}/{len(paths)} notebooks ran; "
          f"executed copies in {OUTPUT_DIR}")
    return 1 if failed else 0


def _bin_spikes(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..caches import open_ecephys_cache
    from ..ecephys import epoch_spike_counts, load_ecephys_session, units_by_area
    from ..export import save_netcdf

    from ..spikes import window_edges

    # everything that can be checked without data is checked before the slow part
    n_bins = window_edges(args.pre, args.post, args.bin_size).size - 1   # raises ValueError
    out = Path(args.out)
    problem = (f"{out}: use the .nc extension for NetCDF files" if out.suffix != ".nc" else
               f"{out} is a folder; give a file name such as {out / 'counts.nc'}"
               if out.is_dir() else
               f"folder {out.parent} does not exist; create it first"
               if not out.parent.is_dir() else
               f"{out} exists; add --overwrite to replace it"
               if out.exists() and not args.overwrite else None)
    if not problem and not args.max_gb > 0:
        problem = f"--max-gb must be a positive number of gigabytes, got {args.max_gb}"
    if problem:
        print(f"error: {problem}", file=sys.stderr)
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
        _refuse_oversized_counts(cache, args.session, args.areas, n_bins, args.max_gb)
        step(1)
        session = load_ecephys_session(cache, args.session)
        step(2)
        units = units_by_area(session, args.areas)
        step(3)
        _ = session.spike_times
        step(4)
        counts = epoch_spike_counts(session, pre=args.pre, post=args.post,
                                    bin_size=args.bin_size, areas=args.areas,
                                    max_gb=args.max_gb)
        step(5)
        save_netcdf(counts, out, overwrite=args.overwrite)
        bar.update(1)
    print(f"wrote {out}: {dict(counts.sizes)} spike counts of {len(units)} units "
          f"({', '.join(f'{a} {n}' for a, n in units['area'].value_counts(sort=False).items())})")
    return 0


def _refuse_oversized_counts(cache, session_id: int, areas: list[str], n_bins: int,
                             max_gb: float) -> None:
    """Refuse, before a session is loaded, counts that would be too large even for a
    single epoch: the cache's units table (already quality-filtered, as ``session.units``
    is) gives the unit count without opening the session's file."""
    units = cache.get_units()
    n_units = int(((units["ecephys_session_id"] == session_id)
                   & units["ecephys_structure_acronym"].isin(list(areas))).sum())
    _checks.output_size((1, n_bins, n_units), 4, max_gb,
                        "the spike counts of a single epoch",
                        "use a larger --bin-size or a shorter --pre/--post window")


def _register_build_sample(sub) -> None:
    p = sub.add_parser("build-sample", help="build the offline sample")
    p.add_argument("--force", action="store_true", help="rebuild even if up to date")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--more-sessions", nargs="*", metavar="ID",
                   help="also build the other seven Neuropixels sessions of the walkthrough "
                        "(all, or the ids given; normally built when notebook 06, "
                        "load_ecephys_session or bin-sessions first needs them)")
    p.set_defaults(func=_build_sample)


def _register_run_notebooks(sub) -> None:
    p = sub.add_parser("run-notebooks", help="execute the notebooks headless")
    p.add_argument("notebooks", nargs="*", help="notebooks to run (default: all, in order)")
    p.set_defaults(func=_run_notebooks)


def _register_bin_spikes(sub) -> None:
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
    p.add_argument("--max-gb", type=float, default=_checks.MAX_OUTPUT_GB, dest="max_gb",
                   help=f"refuse counts larger than this many GB (default {_checks.MAX_OUTPUT_GB:g})")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_bin_spikes)


def _commands() -> list:
    """Every command, as a function that adds its subparser (name, arguments, handler)
    to the command line: the one way commands are registered."""
    from . import authoring, bin_sessions, check, colab, fetch, py312, site
    return [_register_build_sample, _register_run_notebooks, _register_bin_spikes,
            bin_sessions.register, check.register, fetch.register, site.register, colab.register, py312.register,
            authoring.register]


def main(argv: list[str] | None = None) -> int:
    """Run a command. Exit status: 0 done, 1 failed, 2 a usage or input error (bad
    arguments, unknown ids, a file that exists or is missing, no network for a command
    that needs it), 130 interrupted (Ctrl-C)."""
    from .. import __version__
    from ..sample.build import NotASampleError

    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"course_utils {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in _commands():
        register(sub)
    args = parser.parse_args(argv)          # usage errors: argparse exits with 2
    try:
        return args.func(args)
    except (KeyError, ValueError, FileExistsError, FileNotFoundError, ConnectionError,
            PermissionError, NotASampleError) as err:
        print(f"error: {err.args[0] if isinstance(err, KeyError) and err.args else err}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
