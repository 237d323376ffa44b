"""Open the two AllenSDK project caches: the offline sample or the real Allen data.

Both functions return the real AllenSDK cache objects, so everything after this call
is the same code a learner will later run on the full datasets.

>>> from course_utils.caches import open_ophys_cache, open_ecephys_cache
>>> ophys_cache = open_ophys_cache()        # offline sample (default)
>>> ecephys_cache = open_ecephys_cache()
>>> # real data: open_ophys_cache(source="allen", cache_dir="~/allen_cache")
>>> # or set COURSE_DATA_SOURCE=allen (and COURSE_ALLEN_CACHE_DIR) before starting Jupyter
"""
from __future__ import annotations

import os
import socket
import warnings
from pathlib import Path

from .config import allen_cache_dir, data_source, sample_dir

#: Hosts the real-data caches download from.
ALLEN_HOSTS = {"ophys": "visual-behavior-ophys-data.s3.us-west-2.amazonaws.com",
               "ecephys": "api.brain-map.org"}


def _check_reachable(host: str, timeout: float = 5.0) -> None:
    """Fail fast, with a useful message, when the Allen servers cannot be reached."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as err:
        raise ConnectionError(
            f"Cannot reach the Allen Institute servers ({host}): {err}. Real data needs a "
            "network connection. To work offline, use the course's sample instead: "
            "unset COURSE_DATA_SOURCE (or set it to 'sample'), or call the function with "
            "source='sample'.") from None


def _sample_path(subdir: str) -> Path:
    """The sample's cache folder ``subdir``, built if needed; refused at once if it is
    read-only (AllenSDK writes bookkeeping files there on every open, and would fail
    with a bare PermissionError)."""
    from .sample import ensure_sample

    path = ensure_sample() / subdir
    if not os.access(path, os.W_OK):
        raise PermissionError(
            f"the offline sample's folder {path} is read-only, and AllenSDK writes small "
            "bookkeeping files into it when the cache opens. Copy the sample (cp -r "
            f"{path.parent} ~/course_sample) and set COURSE_SAMPLE_DIR=~/course_sample, "
            "or make it writable")
    return path


def _real_cache_dir(cache_dir) -> Path:
    path = allen_cache_dir(cache_dir).resolve()
    if path == sample_dir().resolve() or sample_dir().resolve() in path.parents:
        raise ValueError(f"{path} is the offline sample's folder; choose another folder "
                         "for real Allen downloads (cache_dir= or COURSE_ALLEN_CACHE_DIR).")
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_ophys_cache(source: str | None = None, cache_dir: str | os.PathLike | None = None):
    """The Visual Behavior 2P project cache (``VisualBehaviorOphysProjectCache``).

    Parameters
    ----------
    source : "sample" (offline, default) or "allen" (download real data); default from
        ``$COURSE_DATA_SOURCE``
    cache_dir : where real data are downloaded (only with source="allen")
    """
    from allensdk.brain_observatory.behavior.behavior_project_cache import (
        VisualBehaviorOphysProjectCache)
    from .compat import patch_allensdk_for_pandas2
    from .sample import OPHYS_DIR

    patch_allensdk_for_pandas2()     # no-op on pandas 1.5 (Python 3.11)

    if data_source(source) == "sample":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return VisualBehaviorOphysProjectCache.from_local_cache(
                cache_dir=_sample_path(OPHYS_DIR))
    _check_reachable(ALLEN_HOSTS["ophys"])
    return VisualBehaviorOphysProjectCache.from_s3_cache(cache_dir=_real_cache_dir(cache_dir))


class OfflineSampleApi:
    """Stands in for the Allen warehouse API of a sample cache: any download request
    (something the sample does not hold) raises a clear ``ConnectionError`` at once,
    without network traffic. ``root`` is the sample folder the cache reads."""

    def __init__(self, root: Path | None = None):
        self.root = root

    def __getattr__(self, name):
        def refuse(*args, **kwargs):
            if name == "get_session_data" and args:
                _refuse_sample_session(int(args[0]))
            what = name.removeprefix("get_").replace("_", " ")
            raise ConnectionError(
                f"The offline sample has no {what} for {args or kwargs}: it holds the "
                "project tables and Neuropixels session 756029989, and builds the "
                "walkthrough's seven other sessions when asked (load_ecephys_session, "
                "or python -m course_utils build-sample --more-sessions). For other "
                "sessions, use the real data (source='allen', needs a network).")
        return refuse


def _refuse_sample_session(session_id: int) -> None:
    """The message for a session the sample holds or builds on demand whose file is not
    there: not built yet, or unreadable (AllenSDK deletes a cached file it cannot open,
    then asks the warehouse for it again)."""
    from .sample import load_recipe
    from .sample.more_sessions import more_session_ids

    recipe = load_recipe()
    if session_id in more_session_ids(recipe):
        raise ConnectionError(
            f"The offline sample builds Neuropixels session {session_id} on demand, and its "
            "file is not there (not built yet, or unreadable and removed by AllenSDK). "
            f"load_ecephys_session(cache, {session_id}) builds it, as does python -m "
            f"course_utils build-sample --more-sessions {session_id}")
    if session_id == int(recipe["ecephys"]["session_id"]):
        raise ConnectionError(
            f"The offline sample's file for Neuropixels session {session_id} is missing or "
            "could not be read (AllenSDK deletes a cached file it cannot open). Rebuild "
            "the sample: python -m course_utils build-sample --force")


def open_ecephys_cache(source: str | None = None, cache_dir: str | os.PathLike | None = None):
    """The Visual Coding Neuropixels project cache (``EcephysProjectCache``).

    Parameters are as for :func:`open_ophys_cache`. On the sample, the cache reads only
    what the sample holds; asking it for a session the sample lacks raises
    ``ConnectionError`` at once, saying so.
    """
    from allensdk.brain_observatory.ecephys.ecephys_project_cache import EcephysProjectCache
    from .sample import ECEPHYS_DIR

    if data_source(source) == "sample":
        root = _sample_path(ECEPHYS_DIR)
        cache = EcephysProjectCache.from_warehouse(manifest=str(root / "manifest.json"))
        cache.fetch_api = OfflineSampleApi(root.parent)
        cache.fetch_tries = 1
        return cache
    _check_reachable(ALLEN_HOSTS["ecephys"])
    return EcephysProjectCache.from_warehouse(
        manifest=str(_real_cache_dir(cache_dir) / "manifest.json"))
