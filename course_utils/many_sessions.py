"""One session's job, many sessions at once, on Dask (``bin-sessions``).

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


#: Memory left for the process that drives the cluster (a notebook kernel, the command).
CLIENT_MEMORY_GB = 0.5


def default_workers(memory_per_worker_gb: float = WORKER_MEMORY_GB) -> int:
    """Workers for a local cluster: one per CPU this process may use, but no more than
    the memory it may use holds at ``memory_per_worker_gb`` each, after
    :data:`CLIENT_MEMORY_GB` for this process (at least one). ``memory_per_worker_gb``
    is measured on the offline sample; a real session file needs more."""
    by_memory = math.floor((usable_memory_gb() - CLIENT_MEMORY_GB) / memory_per_worker_gb)
    return max(1, min(usable_cpus(), by_memory))


def local_cluster(n_workers: int | None = None, dashboard_address: str = ":0"):
    """A ``LocalCluster`` of ``n_workers`` worker processes (default
    :func:`default_workers`), one thread each: the job is one session at a time and
    mostly single-threaded NumPy, so processes, not threads, run sessions side by side.
    ``dashboard_address=":0"`` picks a free port for the dashboard. Close it when done
    (``cluster.close()``, or ``with local_cluster() as cluster:``)."""
    from dask.distributed import LocalCluster

    return LocalCluster(**_local_options(n_workers), dashboard_address=dashboard_address)


def _local_options(n_workers: int | None) -> dict:
    n_workers = default_workers() if n_workers is None else int(n_workers)
    if n_workers < 1:
        raise ValueError(f"n_workers={n_workers}: expected at least 1")
    return {"n_workers": n_workers, "threads_per_worker": 1, "processes": True}


def connect(scheduler: str | None = None, n_workers: int | None = None,
            timeout: float = 30.0):
    """A Dask ``Client``: to the cluster at ``scheduler`` (or ``$DASK_SCHEDULER_ADDRESS``,
    Dask's own setting) when one is given, else to a new local cluster of ``n_workers``
    processes that closes with the client (``client.close()``).

    Raises ``ConnectionError`` naming the address when no scheduler answers there
    within ``timeout`` seconds.
    """
    import dask
    from dask.distributed import Client

    address = scheduler or dask.config.get("scheduler-address", None)
    if not address:
        return Client(**_local_options(n_workers), dashboard_address=":0")
    if n_workers is not None:
        raise ValueError("n_workers is for a local cluster; a running cluster at "
                         f"{address} has its own workers")
    try:
        return Client(address, timeout=timeout)
    except OSError as err:
        where = "--scheduler / scheduler=" if scheduler else "DASK_SCHEDULER_ADDRESS"
        raise ConnectionError(
            f"no Dask scheduler answered at {address} ({err}); check the address "
            f"({where}), or leave it out to start a local cluster") from None


def prepare_sessions(session_ids: Iterable[int], source: str | None = None,
                     progress: bool = True) -> dict[int, int]:
    """Make every session readable before the workers start: on the offline sample,
    build the ones it builds on demand; on real data, download each NWB file (AllenSDK's
    cache is not safe to write from several processes at once).

    Returns ``{session id: size of its NWB file in bytes}``, which :func:`bin_sessions`
    uses to start the biggest sessions first.
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
    return {i: _nwb_path(cache, i).stat().st_size for i in ids}


def _nwb_path(cache, session_id: int) -> Path:
    return Path(cache.get_cache_path(None, cache.SESSION_NWB_KEY, session_id, session_id))


def _data_dir(source: str) -> Path:
    """The folder the workers read: the offline sample's, or the real-data cache's."""
    from .config import allen_cache_dir, sample_dir

    return (sample_dir() if source == "sample" else allen_cache_dir()).resolve()


def _provenance(source: str) -> dict:
    """What a result file records about its data: the source and, on the sample, the
    digest of the recipe and code it was built from (a rebuilt sample is other data)."""
    if source == "sample":
        from .sample.build import recipe_digest

        return {"data_source": "sample", "sample_sha256": recipe_digest()}
    return {"data_source": source, "sample_sha256": ""}


def _stored_job(path: Path) -> tuple:
    """(pre, post, bin size, data source, sample digest) of a result file."""
    from .export import load_netcdf

    attrs = load_netcdf(path).attrs
    edges = np.asarray(attrs.get("bin_edges", [np.nan, np.nan]), dtype=float)
    return (float(attrs.get("pre", np.nan)), float(attrs.get("post", np.nan)),
            float(edges[1] - edges[0]), attrs.get("data_source"), attrs.get("sample_sha256"))


def _reusable(path: Path, pre: float, post: float, bin_size: float, provenance: dict) -> bool:
    """True if ``path`` holds this job's counts from this data; raises
    ``FileExistsError`` (with the fix) if it holds anything else."""
    if not path.exists():
        return False
    job = _stored_job(path)
    if not np.allclose(job[:3], (pre, post, bin_size)):
        raise FileExistsError(f"{path} holds counts of another job (pre, post, bin size "
                              f"{job[:3]}); choose another output folder or delete it")
    if job[3:] != (provenance["data_source"], provenance["sample_sha256"]):
        raise FileExistsError(
            f"{path} holds counts from other data ({job[3] or 'unknown source'}"
            f"{', another build of the sample' if job[3] == 'sample' else ''}); choose "
            "another output folder or delete it")
    return True


def _worker_cache(source: str, data_dir: Path):
    """The cache a worker reads: the folder the client prepared, opened as it is (no
    build, no check of the servers, no download)."""
    from allensdk.brain_observatory.ecephys.ecephys_project_cache import EcephysProjectCache

    from .caches import OfflineSampleApi
    from .sample import ECEPHYS_DIR

    folder = data_dir / ECEPHYS_DIR if source == "sample" else data_dir
    if not (folder / "manifest.json").is_file():
        raise FileNotFoundError(f"{folder} holds no prepared Neuropixels cache; every worker "
                                "must see the folder the client prepared (a shared disk)")
    cache = EcephysProjectCache.from_warehouse(manifest=str(folder / "manifest.json"))
    if source == "sample":
        cache.fetch_api = OfflineSampleApi()         # (no root: never builds)
        cache.fetch_tries = 1
    return cache


def bin_session(session_id: int, out_dir: str | os.PathLike, pre: float = JOB["pre"],
                post: float = JOB["post"], bin_size: float = JOB["bin_size"],
                source: str | None = None, data_dir: str | os.PathLike | None = None,
                provenance: dict | None = None) -> str:
    """One session's job: load the session, count its visual-area units' spikes around
    each stimulus epoch, write ``<out_dir>/session_<id>.nc`` (atomically: the file is
    complete or absent), recording the job and its data. Returns the file's path.

    A file already there from the same job and data is kept and nothing is computed;
    one from another job or other data raises ``FileExistsError``. Called by itself it
    opens the cache as ``open_ecephys_cache`` does (building or downloading what is
    missing); on a Dask worker (:func:`bin_sessions`) it reads ``data_dir``, which the
    client prepared, and nothing else.
    """
    from .caches import open_ecephys_cache
    from .ecephys import epoch_spike_counts, load_ecephys_session
    from .export import save_netcdf
    from .memory import release_memory

    source = data_source(source)
    provenance = provenance or _provenance(source)
    path = session_file(out_dir, session_id)
    if _reusable(path, pre, post, bin_size, provenance):
        return str(path)
    if data_dir is None:
        cache = open_ecephys_cache(source)
    else:
        cache = _worker_cache(source, Path(data_dir))
        if not _nwb_path(cache, session_id).is_file():
            raise FileNotFoundError(
                f"session {session_id}'s NWB file is not in {data_dir}: it was not prepared, "
                "or it was unreadable and AllenSDK removed it. Run again (bin_sessions "
                "prepares the missing sessions first).")
    session = load_ecephys_session(cache, session_id)
    counts = epoch_spike_counts(session, pre=pre, post=post, bin_size=bin_size)
    counts.attrs.update(provenance)
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

    Sessions whose file is already in ``out_dir`` (same job, same data) are not run
    again. The others are prepared here first (:func:`prepare_sessions`), then each
    is one task, the biggest first. A worker that dies mid-session (killed, out of
    memory) takes its task with it; the scheduler gives the task to another worker,
    and the file is written whole or not at all. A session that fails (a missing or
    damaged file, for example) does not stop the others. The workers must see this
    machine's data folder and ``out_dir`` (on a cluster: a shared disk).

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
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} is a file; give a folder (it is created if new)")
    source = data_source(source)                         # the workers use this one too
    provenance = _provenance(source)
    results = {i: str(session_file(out_dir, i)) for i in ids
               if _reusable(session_file(out_dir, i), pre, post, bin_size, provenance)}
    todo = [i for i in ids if i not in results]
    if todo:
        out_dir.mkdir(parents=True, exist_ok=True)
        sizes = prepare_sessions(todo, source, progress=progress)
        data_dir = _data_dir(source)
        # the biggest sessions first, so that no long one starts last while workers idle
        order = sorted(todo, key=sizes.get, reverse=True)
        futures = [client.submit(bin_session, i, str(out_dir), pre, post, bin_size, source,
                                 str(data_dir), provenance, pure=False,
                                 key=f"bin_session-{i}-{time.time_ns()}",
                                 priority=len(order) - rank)
                   for rank, i in enumerate(order)]
        session_of = {future.key: i for i, future in zip(order, futures)}
        try:
            with tqdm(total=len(todo), desc="sessions", unit="session",
                      disable=not progress) as bar:
                for future in as_completed(futures):
                    session_id = session_of[future.key]
                    try:
                        results[session_id] = future.result()
                    except Exception as err:              # reported, the others go on
                        results[session_id] = err
                    failed = isinstance(results[session_id], Exception)
                    bar.set_postfix_str(f"{session_id} {'failed' if failed else 'done'}")
                    bar.update(1)
        finally:
            _remove_temporaries(out_dir, todo)
    return {i: results[i] for i in ids}


def population_rates(paths: Iterable[str | os.PathLike]) -> xr.DataArray:
    """The sessions' population firing rate per area, from the files :func:`bin_session`
    wrote (all with the same bins and window; anything else raises ``ValueError``).

    Returns
    -------
    DataArray of float64 (spikes/s per unit), dims ("session", "area", "epoch",
    "time"): areas in the order V1, LM, RL, AL, PM, AM; epochs numbered from 0 in each
    session, with coordinate ``stimulus_name`` (per epoch; per session and epoch when
    the sessions' epochs differ); ``time`` in s from the epoch start. Attributes
    ``units`` and ``bin_size`` (s).
    """
    from .export import load_netcdf

    order = [AREA_SHORT_NAMES[a] for a in VISUAL_AREAS]
    rates, edges = [], None
    for path in paths:
        counts = load_netcdf(path)
        these = np.asarray(counts.attrs["bin_edges"], dtype=float)
        if edges is not None and (these.shape != edges.shape or not np.allclose(these, edges)):
            raise ValueError(f"{path} has other bins than the files before it; combine "
                             "files of one job only")
        edges = these
        bin_size = float(edges[1] - edges[0])
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


__all__ = ["CLIENT_MEMORY_GB", "JOB", "WORKER_MEMORY_GB", "bin_session", "bin_sessions",
           "connect", "default_workers", "local_cluster", "population_rates", "prepare_sessions",
           "session_file", "walkthrough_sessions"]
