"""One session's job, many sessions at once, on Dask (notebook 06, ``bin-sessions``).

The job is the Neuropixels walkthrough's: spike counts of every unit of the six visual
areas in 100 ms bins, from 10 s before to 90 s after the start of each stimulus epoch
(:func:`course_utils.ecephys.epoch_spike_counts`), written to one NetCDF file per
session. :func:`bin_sessions` hands one task per session to a Dask cluster: a
:func:`local_cluster` of worker processes on this machine, or any running cluster
(a ``dask scheduler`` with ``dask worker`` processes, dask-jobqueue on an HPC system,
Dask Gateway) through its address. The code is the same either way.

>>> from course_utils.caches import open_ecephys_cache
>>> from course_utils.many_sessions import bin_sessions, connect, walkthrough_sessions
>>> walkthrough_sessions(open_ecephys_cache())
[719161530, 750332458, 750749662, 754312389, 755434585, 756029989, 791319847, 797828357]
>>> client = connect()     # doctest: +SKIP
>>> done = bin_sessions(client, [754312389, 756029989], "binned")     # doctest: +SKIP

``connect()`` starts a local cluster; ``connect("tcp://10.0.0.5:8786")`` joins a running
one. ``done`` maps each session id to its file (or to the error it raised).

Data are read by the workers, never written by them: :func:`prepare_sessions` first
downloads (real data) or builds (offline sample) every session, once, in this process,
because AllenSDK's cache is not safe to write from several processes at the same time.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import xarray as xr

from . import _checks
from .config import data_source
from .machine import usable_cpus, usable_memory_gb
from .metadata import AREA_SHORT_NAMES, VISUAL_AREAS

#: The walkthrough's job: bins of 0.1 s from 10 s before to 90 s after each epoch start.
JOB = {"pre": 10.0, "post": 90.0, "bin_size": 0.1}
#: Memory one worker needs for one session's job (measured: benchmarks/bin_sessions.py).
WORKER_MEMORY_GB = 1.5


def walkthrough_sessions(cache) -> list[int]:
    """The brain_observatory_1.1 sessions that record all six visual areas (the
    walkthrough's eight), from ``cache.get_session_table()``."""
    from .metadata import sessions_with_areas

    return sessions_with_areas(cache.get_session_table(), VISUAL_AREAS)


def session_file(out_dir: str | os.PathLike, session_id: int) -> Path:
    """Where one session's counts go: ``<out_dir>/session_<id>.nc``."""
    return Path(out_dir) / f"session_{int(session_id)}.nc"


def default_workers(memory_per_worker_gb: float = WORKER_MEMORY_GB) -> int:
    """Workers for a local cluster: one per CPU this process may use, but no more than
    the memory it may use holds at ``memory_per_worker_gb`` each (at least one)."""
    by_memory = math.floor(usable_memory_gb() / memory_per_worker_gb)
    return max(1, min(usable_cpus(), by_memory))


def local_cluster(n_workers: int | None = None, dashboard_address: str = ":0"):
    """A ``LocalCluster`` of ``n_workers`` worker processes (default
    :func:`default_workers`), one thread each: the job is one session at a time and
    mostly single-threaded NumPy, so processes, not threads, run sessions side by side.
    ``dashboard_address=":0"`` picks a free port for the dashboard."""
    from dask.distributed import LocalCluster

    n_workers = default_workers() if n_workers is None else int(n_workers)
    if n_workers < 1:
        raise ValueError(f"n_workers={n_workers}: expected at least 1")
    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                        dashboard_address=dashboard_address)


def connect(scheduler: str | None = None, n_workers: int | None = None):
    """A Dask ``Client``: to the cluster at ``scheduler`` (or ``$DASK_SCHEDULER_ADDRESS``,
    Dask's own setting) when one is given, else to a new :func:`local_cluster`."""
    import dask
    from dask.distributed import Client

    address = scheduler or dask.config.get("scheduler-address", None)
    if address:
        if n_workers is not None:
            raise ValueError("n_workers is for a local cluster; a running cluster at "
                             f"{address} has its own workers")
        return Client(address)
    return Client(local_cluster(n_workers))


def prepare_sessions(session_ids: Iterable[int], source: str | None = None,
                     progress: bool = True) -> dict[int, int]:
    """Make every session readable before the workers start: on the offline sample,
    build the ones it builds on demand; on real data, download each NWB file (AllenSDK's
    cache is not safe to write from several processes at once).

    Returns ``{session id: size of its NWB file in bytes}`` (0 if it could not be found),
    which :func:`bin_sessions` uses to start the biggest sessions first.
    """
    from .caches import open_ecephys_cache

    ids = [int(i) for i in session_ids]
    cache = open_ecephys_cache(source)
    unknown = [i for i in ids if i not in cache.get_session_table().index]
    if unknown:
        raise KeyError(f"unknown Neuropixels session(s) {unknown}: not in the cache's "
                       "session table (walkthrough_sessions(cache) lists the eight)")
    if data_source(source) == "sample":
        from .sample.more_sessions import ensure_more_sessions, more_session_ids

        missing = [i for i in ids if i in more_session_ids()]
        if missing:
            ensure_more_sessions(missing, progress=progress)
    else:
        for session_id in ids:                   # one after the other: downloads
            cache.get_session_data(session_id)
    sizes = {}
    for session_id in ids:
        path = Path(cache.get_cache_path(None, cache.SESSION_NWB_KEY, session_id, session_id))
        sizes[session_id] = path.stat().st_size if path.is_file() else 0
    return sizes


def _same_job(path: Path, pre: float, post: float, bin_size: float) -> bool:
    """Whether the counts in ``path`` come from the job with these parameters."""
    from .export import load_netcdf

    attrs = load_netcdf(path).attrs
    edges = np.asarray(attrs.get("bin_edges", []), dtype=float)
    return (np.isclose(float(attrs.get("pre", np.nan)), pre)
            and np.isclose(float(attrs.get("post", np.nan)), post)
            and edges.size > 1 and np.isclose(edges[1] - edges[0], bin_size))


def bin_session(session_id: int, out_dir: str | os.PathLike, pre: float = JOB["pre"],
                post: float = JOB["post"], bin_size: float = JOB["bin_size"],
                source: str | None = None) -> str:
    """One session's job: load the session, count its visual-area units' spikes around
    each stimulus epoch, write ``<out_dir>/session_<id>.nc`` (atomically: the file is
    complete or absent). Returns the file's path.

    A file already there from the same job is kept and nothing is computed (a rerun
    does no work); one from another job (other bins or window) raises
    ``FileExistsError``.
    """
    from .caches import open_ecephys_cache
    from .ecephys import epoch_spike_counts, load_ecephys_session
    from .export import save_netcdf
    from .memory import release_memory

    path = session_file(out_dir, session_id)
    if path.exists():
        if _same_job(path, pre, post, bin_size):
            return str(path)
        raise FileExistsError(f"{path} holds counts of another job (other bins or window); "
                              "choose another output folder or delete it")
    session = load_ecephys_session(open_ecephys_cache(source), session_id)
    counts = epoch_spike_counts(session, pre=pre, post=post, bin_size=bin_size)
    del session                        # about 1.2 GB for 756029989: hand it back before
    release_memory()                   # the worker's next session
    path.parent.mkdir(parents=True, exist_ok=True)
    save_netcdf(counts, path)
    return str(path)


def _remove_temporaries(out_dir: Path, session_ids: Iterable[int]) -> None:
    """Temporary files a killed worker left while writing these sessions' files
    (``.session_<id>.nc-*.tmp``, see ``_fs.atomic_path``)."""
    for session_id in session_ids:
        for tmp in out_dir.glob(f".{session_file(out_dir, session_id).name}-*.tmp"):
            tmp.unlink(missing_ok=True)


def bin_sessions(client, session_ids: Iterable[int], out_dir: str | os.PathLike,
                 pre: float = JOB["pre"], post: float = JOB["post"],
                 bin_size: float = JOB["bin_size"], source: str | None = None,
                 progress: bool = True) -> dict:
    """Run :func:`bin_session` for every session on the cluster behind ``client``.

    Each session is one task. A worker that dies mid-session (killed, out of memory)
    takes its task with it; the scheduler gives the task to another worker, and the
    file is written whole or not at all. A session that fails (a missing or damaged
    file, for example) does not stop the others.

    Returns
    -------
    dict
        session id -> the file's path (str), or the exception that session raised.
    """
    from dask.distributed import as_completed
    from tqdm.auto import tqdm

    from .spikes import window_edges

    ids = list(dict.fromkeys(_checks.id_value(i, "Neuropixels session")
                             for i in session_ids))
    if not ids:
        raise ValueError("no sessions given; pass session ids, e.g. walkthrough_sessions(cache)")
    window_edges(pre, post, bin_size)                    # bad bins fail here, not later
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    source = data_source(source)                         # the workers use this one too
    sizes = prepare_sessions(ids, source, progress=progress)
    # the biggest sessions first, so that no long one starts last while workers sit idle
    rank = {i: r for r, i in enumerate(sorted(ids, key=lambda i: sizes[i]))}
    futures = {i: client.submit(bin_session, i, str(out_dir.resolve()), pre, post, bin_size,
                                source, key=f"bin_session-{i}-{time.time_ns()}", pure=False,
                                priority=rank[i])
               for i in sorted(ids, key=rank.get, reverse=True)}
    session_of = {future.key: i for i, future in futures.items()}
    results = {}
    with tqdm(total=len(ids), desc="sessions", unit="session", disable=not progress) as bar:
        for future in as_completed(list(futures.values())):
            session_id = session_of[future.key]
            try:
                results[session_id] = future.result()
            except Exception as err:                      # reported, the others go on
                results[session_id] = err
            bar.set_postfix_str(f"{session_id} {'failed' if isinstance(results[session_id], Exception) else 'done'}")
            bar.update(1)
    _remove_temporaries(out_dir, ids)
    return {i: results[i] for i in ids}


def population_rates(paths: Iterable[str | os.PathLike]) -> xr.DataArray:
    """The sessions' population firing rate per area (spikes/s per unit), from the
    files :func:`bin_session` wrote.

    Returns
    -------
    DataArray of float64, dims ("session", "area", "epoch", "time"): areas in the
    order V1, LM, RL, AL, PM, AM; epochs numbered from 0 in each session (coordinate
    ``stimulus_name`` per session and epoch); ``time`` in s from the epoch start.
    Attributes ``units`` (spikes/s) and ``bin_size`` (s).
    """
    from .export import load_netcdf

    order = [AREA_SHORT_NAMES[a] for a in VISUAL_AREAS]
    rates = []
    for path in paths:
        counts = load_netcdf(path)
        bin_size = float(np.diff(counts.attrs["bin_edges"])[0])
        rate = (counts.groupby("area").mean("unit") / bin_size).astype("float64")
        rate = rate.reindex(area=[a for a in order if a in rate["area"].values])
        rate = rate.drop_vars([c for c in ("start_time", "stop_time") if c in rate.coords])
        rates.append(rate.expand_dims(session=[int(counts.attrs["session_id"])]))
    if not rates:
        raise ValueError("no files given")
    combined = xr.concat(rates, dim="session", join="outer", coords="different",
                         compat="equals", combine_attrs="drop")
    combined = combined.transpose("session", "area", "epoch", "time")
    combined.name = "population_rate"
    combined.attrs.update(units="spikes/s per unit", bin_size=bin_size)
    return combined


__all__ = ["JOB", "WORKER_MEMORY_GB", "bin_session", "bin_sessions", "connect",
           "default_workers", "local_cluster", "population_rates", "prepare_sessions",
           "session_file", "walkthrough_sessions"]
