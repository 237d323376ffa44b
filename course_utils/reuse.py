"""Results that several notebooks need, computed once and kept on disk.

Notebooks 02, 03 and 05 all use every cell's traces of one ophys session, and 04 and 05
the spike counts of one Neuropixels session. Each takes AllenSDK 30-40 s to read. The
functions here give the same results as :func:`course_utils.experiments.load_session_traces`
and :func:`course_utils.ecephys.epoch_spike_counts`, but keep them with
`joblib.Memory <https://joblib.readthedocs.io/en/stable/memory.html>`_: the first call
computes and stores, later calls (in any notebook) read the stored result back.

A stored result is used only if it was computed from the same data by the same code.
The key joblib hashes holds, besides the arguments, :func:`data_origin`: the data source,
the name, size and modification time of every NWB file read, a digest of the course's
computing modules and the versions of Python and the libraries that read the files.
Rebuilding the sample, switching to the Allen data, editing the course's code or
upgrading AllenSDK therefore recomputes. A notebook run on its own simply computes what
is missing.

The results live in ``data/results_cache`` (or ``$COURSE_RESULTS_DIR``); deleting that
folder, or ``results_memory().clear()``, forgets them all. At most
:data:`MAX_STORED_GB` are kept; the least recently used go first.
"""
from __future__ import annotations

import hashlib
import sys
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import joblib
import pandas as pd
import xarray as xr

from . import _checks
from .config import DATA_DIR, _folder_setting, data_source
from .ecephys import (epoch_spike_counts, load_ecephys_session, loaded_with_defaults,
                      session_id_of)
from .experiments import load_session_traces

#: The most the results folder keeps, in GB (each result here is 20-60 MB).
MAX_STORED_GB = 1.0

_CODE = ("experiments.py", "ecephys.py", "spikes.py", "_spikes_numba.py", "metadata.py",
         "_checks.py", "reuse.py")


def results_dir() -> Path:
    """Folder of the stored results (``$COURSE_RESULTS_DIR`` or ``data/results_cache``)."""
    return _folder_setting("COURSE_RESULTS_DIR", DATA_DIR / "results_cache",
                           "a folder for the stored results")


def results_memory() -> joblib.Memory:
    """The ``joblib.Memory`` that stores the results, in :func:`results_dir`."""
    return joblib.Memory(results_dir(), verbose=0)


def _code_digest() -> str:
    """BLAKE2b of the modules that compute the results: editing them recomputes."""
    digest = hashlib.blake2b(digest_size=16)
    for name in _CODE:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


def data_origin(folder: Path, ids) -> dict:
    """Where results computed from the NWB files of ``ids`` under ``folder`` come from:
    the data source, the folder, and each such file's name, size (bytes) and
    modification time (ns). Part of every stored result's key."""
    ids = [int(i) for i in ids]
    files = []
    for i in ids:
        for path in sorted(Path(folder).rglob(f"*_{i}.nwb")):
            stat = path.stat()
            files.append((str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns))
    found = {int(Path(name).stem.rsplit("_", 1)[1]) for name, _, _ in files}
    return {"source": data_source(), "folder": str(Path(folder).resolve()), "files": files,
            "complete": found == set(ids), "code": _code_digest(), "libraries": _libraries()}


def _libraries() -> dict:
    """Python's and the data libraries' versions: an upgrade recomputes."""
    found = {"python": ".".join(map(str, sys.version_info[:3]))}
    for name in ("allensdk", "pynwb", "hdmf", "h5py", "numpy", "pandas", "xarray", "numba"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _remember(function, ignore: list[str], origin: dict, *args):
    """``function(origin, *args)`` through :func:`results_memory`. Not stored when some
    file is not on disk yet (real data before AllenSDK has downloaded it): its origin
    is then unknown, so the result is computed and returned only."""
    if not origin["complete"]:
        return function(origin, *args)
    try:
        memory = results_memory()
        remembered = memory.cache(function, ignore=ignore)
    except OSError as err:             # e.g. a folder it cannot create
        warnings.warn(f"results are computed but not stored: {err}. Set COURSE_RESULTS_DIR "
                      "to a folder you can write to", stacklevel=3)
        return function(origin, *args)
    with warnings.catch_warnings():
        # joblib warns (and still computes) when it cannot write a result
        warnings.filterwarnings("ignore", module="joblib")
        result = remembered(origin, *args)
        try:
            memory.reduce_size(bytes_limit=int(MAX_STORED_GB * 1e9))
        except OSError:
            pass
    return result


def _traces(origin: dict, ophys_session_id: int, cache, progress: bool,
            loaded) -> xr.Dataset:
    return load_session_traces(cache, ophys_session_id, progress=progress, loaded=loaded)


def session_traces(cache, ophys_session_id: int, progress: bool = False,
                   loaded=None) -> xr.Dataset:
    """:func:`course_utils.experiments.load_session_traces` (default metadata, valid
    ROIs), stored on disk: the first call reads every plane (about 30 s on the sample;
    planes given in ``loaded``, ``{experiment_id: experiment}``, are not read again),
    later calls read the stored Dataset back (under a second)."""
    ophys_session_id = _checks.id_value(ophys_session_id, "ophys session")
    table = cache.get_ophys_session_table()
    if ophys_session_id not in table.index:
        raise KeyError(f"unknown ophys session {ophys_session_id}: not in the cache's "
                       f"session table (e.g. {list(table.index[:3])})")
    ids = table.loc[ophys_session_id, "ophys_experiment_id"]
    origin = data_origin(Path(cache.fetch_api.cache.cache_dir), ids)
    return _remember(_traces, ["cache", "progress", "loaded"], origin, ophys_session_id,
                     cache, progress, loaded)


def _counts(origin: dict, session_id: int, pre: float, post: float, bin_size: float,
            cache, session) -> xr.DataArray:
    if session is None:
        session = load_ecephys_session(cache, session_id)
    return epoch_spike_counts(session, pre=pre, post=post, bin_size=bin_size)


def session_spike_counts(cache, session_id: int, pre: float = 10.0, post: float = 90.0,
                         bin_size: float = 0.1, *, session=None) -> xr.DataArray:
    """:func:`course_utils.ecephys.epoch_spike_counts` of a Neuropixels session (all
    stimulus epochs, the six visual areas), stored on disk. On a first call it loads the
    session (about 35 s on the sample), unless ``session`` (that session, already
    loaded) is given; later calls read the stored counts back."""
    session_id = _checks.id_value(session_id, "Neuropixels session")
    if session is not None and session_id_of(session) != session_id:
        raise ValueError(f"session is session {session_id_of(session)}, not {session_id}: "
                         "pass the session loaded for that id (or none)")
    folder = Path(cache.manifest_path).parent
    origin = data_origin(folder, [session_id])
    if session is not None and not loaded_with_defaults(session):
        # a session opened another way (other unit filters, say) gives other counts:
        # computed and returned, never stored under the default key
        origin["complete"] = False
    return _remember(_counts, ["cache", "session"], origin, session_id, float(pre),
                     float(post), float(bin_size), cache, session)


def _presentations(origin: dict, experiment_id: int, cache, experiment) -> pd.DataFrame:
    if experiment is None:
        experiment = cache.get_behavior_ophys_experiment(experiment_id)
    return experiment.stimulus_presentations


def stimulus_presentations(cache, experiment_id: int, *, experiment=None) -> pd.DataFrame:
    """An ophys experiment's ``stimulus_presentations`` table, stored on disk. On a
    first call it loads the experiment (about 8 s on the sample), unless ``experiment``
    (already loaded) is given."""
    experiment_id = _checks.id_value(experiment_id, "ophys experiment")
    if experiment is not None:
        held = experiment.metadata.get("ophys_experiment_id")
        if held != experiment_id:
            raise ValueError(f"experiment is experiment {held}, not {experiment_id}: pass "
                             "the experiment loaded for that id (or none)")
    origin = data_origin(Path(cache.fetch_api.cache.cache_dir), [experiment_id])
    return _remember(_presentations, ["cache", "experiment"], origin, experiment_id,
                     cache, experiment)


__all__ = ["MAX_STORED_GB", "data_origin", "results_dir", "results_memory",
           "session_spike_counts", "session_traces", "stimulus_presentations"]
