"""``python -m course_utils bin-sessions``: the walkthrough's binning for many Neuropixels
sessions at once, on Dask (course_utils.many_sessions does the work; notebook 06 teaches
it step by step).

    python -m course_utils bin-sessions --sessions all --out binned
    python -m course_utils bin-sessions --sessions 756029989 719161530 --out binned --workers 2
    python -m course_utils bin-sessions --sessions all --out binned --scheduler tcp://host:8786

Writes ``<out>/session_<id>.nc`` per session (skipped when already there from the same
job and data) and, when every session succeeded, ``<out>/population_rates.nc``: the
sessions' population rate per area, epoch and time bin (it is the command's own summary
of the sessions asked for, rewritten on every complete run). Exit status 0 when every
session succeeded, 1 when one failed (each is named with its error), 2 for bad arguments
or a scheduler that does not answer.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

COMBINED = "population_rates.nc"


def _session_ids(values: list[str]) -> list[int] | None:
    """The ids given, or None for 'all' (the walkthrough's eight, read from the cache)."""
    if values == ["all"]:
        return None
    if "all" in values:
        raise ValueError("--sessions takes 'all' or session ids, not both")
    ids = []
    for value in values:
        try:
            ids.append(int(value))
        except ValueError:
            raise ValueError(f"--sessions {value!r}: expected 'all' or session ids such as "
                             "756029989") from None
    return ids


def run(args: argparse.Namespace) -> int:
    """The ``bin-sessions`` command."""
    import dask

    from ..caches import open_ecephys_cache
    from ..export import save_netcdf
    from ..many_sessions import (WORKER_MEMORY_GB, bin_sessions, connect, default_workers,
                                 population_rates, walkthrough_sessions)

    # everything that can be checked without data or a cluster is checked first
    ids = _session_ids(args.sessions)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file; give a folder (it is created if new)")
    address = args.scheduler or dask.config.get("scheduler-address", None)
    if address and args.workers is not None:
        raise ValueError(f"--workers is for a local cluster; the cluster at {address} "
                         "(--scheduler or DASK_SCHEDULER_ADDRESS) has its own workers")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers {args.workers}: expected 1 or more")
    cache = open_ecephys_cache()
    ids = walkthrough_sessions(cache) if ids is None else ids
    unknown = [i for i in ids if i not in cache.get_session_table().index]
    if unknown:
        raise KeyError(f"unknown Neuropixels session(s) {unknown}: not in the session table")

    if address:
        where = "--scheduler" if args.scheduler else "DASK_SCHEDULER_ADDRESS"
        print(f"connecting to the Dask cluster at {address} ({where})")
        n = None
    else:
        n = args.workers or default_workers()
        how = "as --workers asks" if args.workers else (
            f"one per CPU, as many as memory holds at {WORKER_MEMORY_GB} GB each")
        print(f"starting a local Dask cluster: {n} worker process(es), one thread each; {how}")
    client = connect(address, n)                 # a local cluster closes with its client
    try:
        print(f"Dask dashboard: {client.dashboard_link}", flush=True)
        started = time.perf_counter()
        results = bin_sessions(client, ids, out, progress=not args.quiet)
        seconds = time.perf_counter() - started
    finally:
        client.close()
    failed = {i: r for i, r in results.items() if isinstance(r, Exception)}
    for session_id, result in results.items():
        if session_id in failed:
            print(f"  FAILED  {session_id}  {type(result).__name__}: {result}")
        else:
            print(f"  ok      {session_id}  {result}")
    print(f"{len(ids) - len(failed)}/{len(ids)} sessions done in {seconds:.1f} s; files in {out}")
    if failed:
        print(f"{COMBINED} not written: it combines every session asked for, and "
              f"{len(failed)} failed (fix them and run again; finished sessions are kept)")
        return 1
    combined = population_rates(results.values())
    path = save_netcdf(combined, out / COMBINED, overwrite=True)
    print(f"wrote {path}: {dict(combined.sizes)} population rates")
    return 0


def register(sub) -> None:
    """Add the ``bin-sessions`` command to the course's command line."""
    p = sub.add_parser(
        "bin-sessions", help="the walkthrough's spike binning for many sessions, on Dask",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", nargs="+", required=True, metavar="all|ID",
                   help="'all' (the walkthrough's eight sessions) or session ids")
    p.add_argument("--out", required=True, help="output folder (created if new)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: "
                        "$DASK_SCHEDULER_ADDRESS, else a local cluster)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes of the local cluster (default: one per CPU, as "
                        "many as memory holds)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)

