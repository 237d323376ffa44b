"""Visual Coding Neuropixels: one session's units by visual area, its stimulus epochs,
and spike counts around epoch starts as one labelled array.

>>> from course_utils.caches import open_ecephys_cache
>>> session = load_ecephys_session(open_ecephys_cache(), 756029989)
>>> units_by_area(session)["area"].value_counts(sort=False).to_dict()
{'V1': 51, 'LM': 30, 'RL': 24, 'AL': 51, 'PM': 90, 'AM': 72}
>>> counts = epoch_spike_counts(session, pre=10, post=90, bin_size=0.1)
>>> dict(counts.sizes)
{'epoch': 15, 'time': 1000, 'unit': 318}
"""
from __future__ import annotations

import warnings
import weakref
from collections.abc import Iterable

import numpy as np
import pandas as pd
import xarray as xr

from . import _checks
from .metadata import AREA_SHORT_NAMES, VISUAL_AREAS
from .spikes import bin_spikes, window_edges

#: Epoch names that are not stimuli.
NON_STIMULUS_EPOCHS = ("spontaneous", "invalid_presentation")


def load_ecephys_session(cache, session_id: int):
    """``cache.get_session_data(session_id)``, with a clear error for an unknown id.

    The session keeps AllenSDK's default unit quality filters (amplitude cut-off,
    presence ratio, ISI violations), so ``session.units`` lists the units that pass.
    On the offline sample, one of the walkthrough's seven other sessions
    (``course_utils.sample.more_sessions``) is built first if it is not yet (about
    15-25 s, once).
    """
    session_id = _checks.id_value(session_id, "Neuropixels session")
    sessions = cache.get_session_table()
    if session_id not in sessions.index:
        raise KeyError(f"unknown Neuropixels session {session_id}: not in the cache's "
                       f"session table ({len(sessions)} sessions, e.g. "
                       f"{list(sessions.index[:3])})")
    _build_on_demand(cache, session_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = cache.get_session_data(session_id)
    _open_file_once(session)
    _LOADED_IDS[session] = session_id
    return session


def _open_file_once(session) -> None:
    """Make the session read its NWB file through one open file.

    AllenSDK's ``EcephysNwbSessionApi`` opens and parses the whole NWB file again for
    every table it reads (units, spike times, presentations, probes, channels): six
    times for one ``epoch_spike_counts``, 1-3 s each on the sample. Its base class
    (``NwbApi``) reuses a file it was given (``NwbApi.from_nwbfile``); this gives it
    the first one it opens. The tables are the same; the file stays open until the
    session is deleted.
    """
    api = getattr(session, "api", None)
    if api is not None and getattr(api, "path", None) and not hasattr(api, "_nwbfile"):
        api._nwbfile = api.nwbfile


def _build_on_demand(cache, session_id: int) -> None:
    """On a sample cache, build ``session_id`` if it is one the sample builds on demand."""
    from .caches import OfflineSampleApi

    api = getattr(cache, "fetch_api", None)
    if isinstance(api, OfflineSampleApi) and api.root is not None:
        from .sample.more_sessions import ensure_more_sessions, more_session_ids

        if session_id in more_session_ids():
            ensure_more_sessions([session_id], target=api.root)


#: The id each session was loaded with. ``session.ecephys_session_id`` would give it too,
#: but AllenSDK reads it by opening the whole NWB file again (about 1.5 s each time).
_LOADED_IDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def session_id_of(session) -> int:
    """The session's id: the one :func:`load_ecephys_session` was given, else AllenSDK's
    ``session.ecephys_session_id``."""
    try:
        known = _LOADED_IDS.get(session)
    except TypeError:                    # an object that cannot be weakly referenced
        known = None
    return known if known is not None else int(session.ecephys_session_id)


def loaded_with_defaults(session) -> bool:
    """True for a session :func:`load_ecephys_session` loaded (AllenSDK's default unit
    filters, from the course's cache)."""
    try:
        return session in _LOADED_IDS
    except TypeError:
        return False


def stimulus_epochs(session, drop: Iterable[str] = NON_STIMULUS_EPOCHS) -> pd.DataFrame:
    """The session's stimulus epochs without spontaneous and invalid ones, numbered
    from 0 in time order (index ``epoch``)."""
    epochs = session.get_stimulus_epochs()
    keep = ~epochs["stimulus_name"].isin(list(drop))
    return (epochs[keep].sort_values("start_time").reset_index(drop=True)
            .rename_axis("epoch"))


def units_by_area(session, areas: Iterable[str] = VISUAL_AREAS) -> pd.DataFrame:
    """Units (after the cache's quality filters) in the given areas.

    Returns ``session.units`` rows whose ``ecephys_structure_acronym`` is one of
    ``areas``, ordered by area (in the order given), then as in ``session.units``, with an ``area``
    column holding the short name (V1, LM, RL, AL, PM, AM) where one exists.
    Raises ``ValueError`` naming an area the session has no units in.
    """
    areas = _checks.name_list(areas, "areas")
    if not areas:
        raise ValueError("no areas given")
    if len(set(areas)) < len(areas):
        raise ValueError(f"areas {areas} name an area more than once; give each once")
    units = session.units
    recorded = units["ecephys_structure_acronym"].to_numpy()
    order = {area: i for i, area in enumerate(areas)}
    position = np.fromiter((order.get(a, -1) for a in recorded), dtype=np.intp,
                           count=recorded.size)            # -1: not one of ``areas``
    absent = [a for i, a in enumerate(areas) if not (position == i).any()]
    if absent:
        present = sorted(pd.unique(recorded[pd.notna(recorded)]))
        raise ValueError(f"no units in {absent} in session {session_id_of(session)} "
                         f"(after quality filters); areas with units: {present}")
    rows = np.flatnonzero(position >= 0)
    rows = rows[np.argsort(position[rows], kind="stable")]
    short = np.array([AREA_SHORT_NAMES.get(a, a) for a in areas], dtype=object)
    return units.iloc[rows].assign(area=short[position[rows]])


def epoch_spike_counts(session, pre: float = 10.0, post: float = 90.0,
                       bin_size: float = 0.1, areas: Iterable[str] = VISUAL_AREAS,
                       epochs: pd.DataFrame | None = None, edges=None,
                       max_gb: float = _checks.MAX_OUTPUT_GB) -> xr.DataArray:
    """Spike counts of every unit in ``areas`` around the start of every stimulus epoch.

    Returns
    -------
    DataArray of int32, dims ("epoch", "time", "unit"), e.g. (15, 1000, 318) for the
    walkthrough's job. Coordinates: per epoch ``start_time``, ``stop_time`` (s) and
    ``stimulus_name``; ``time`` = bin centres relative to the epoch start (s); per unit
    its id, ``structure`` (Allen acronym) and ``area`` (short name). Attributes:
    ``session_id``, ``areas``, ``bin_edges`` (s from ``start - pre``), ``pre``, ``post``.
    The counting convention is :mod:`course_utils.spikes`'. ``max_gb``: refuse
    (``ValueError``, before counting) counts larger than this, in GB.
    """
    units = units_by_area(session, areas)
    epochs = stimulus_epochs(session) if epochs is None else epochs
    counts = bin_spikes(
        session.spike_times, epochs["start_time"].to_numpy(), pre, post,
        None if edges is not None else bin_size, edges=edges,
        unit_ids=units.index.to_numpy(), window_dim="epoch", event_coord="start_time",
        max_gb=max_gb,
        window_coords={"stop_time": epochs["stop_time"].to_numpy(dtype=float),
                       "stimulus_name": epochs["stimulus_name"].astype(str).to_numpy()},
        unit_coords={"structure": units["ecephys_structure_acronym"].astype(str).to_numpy(),
                     "area": units["area"].astype(str).to_numpy()})
    counts.attrs.update(session_id=session_id_of(session), areas=list(areas))
    return counts


def by_area(counts: xr.DataArray) -> dict[str, xr.DataArray]:
    """Split a (…, unit) array with an ``area`` coordinate into ``{area: array}``,
    areas in first-appearance order. ``by_area(c)["V1"].isel(epoch=0)`` is the
    walkthrough's (time, units) matrix for V1 and the first epoch."""
    names = pd.unique(counts["area"].values)
    return {str(a): counts.isel(unit=np.flatnonzero(counts["area"].values == a))
            for a in names}


__all__ = ["NON_STIMULUS_EPOCHS", "by_area", "epoch_spike_counts", "load_ecephys_session",
           "stimulus_epochs", "units_by_area", "window_edges"]
