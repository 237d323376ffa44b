"""Receptive fields and direction tuning of Neuropixels units.

Two stimuli of the Visual Coding Neuropixels *Brain Observatory 1.1* sessions map what
each unit prefers:

* ``gabors``: a small drifting Gabor patch, 250 ms at a time, at one of 9 x 9 positions
  (``x_position``, ``y_position``: -40 to 40 degrees from the screen centre, 10 degrees
  apart) and 3 orientations. A unit's mean rate at each position is its *receptive
  field map*.
* ``drifting_gratings``: full-screen gratings drifting in 8 directions (``orientation``,
  0-315 degrees) at 5 temporal frequencies (``temporal_frequency``, 1-15 Hz), 2 s each,
  with blank sweeps in between (their parameters are the string ``"null"``). A unit's
  mean rate per direction is its *direction tuning*.

The functions work on the session's own tables (``session.spike_times``,
``session.stimulus_presentations``), on the offline sample and on real data alike::

    gabors = presentations_of(session, "gabors")
    counts = presentation_counts(session.spike_times, gabors, units.index, window=(0, 0.25))
    maps = receptive_field_maps(counts, gabors)          # (unit, y_position, x_position)

A small example: one unit, a patch shown twice on each side of the centre.

>>> import numpy as np, pandas as pd
>>> patches = pd.DataFrame({"start_time": [0.0, 0.25, 0.5, 0.75],
...                         "stop_time": [0.25, 0.5, 0.75, 1.0],
...                         "x_position": [-10.0, 10.0, -10.0, 10.0], "y_position": 0.0})
>>> counts = presentation_counts({7: np.array([0.3, 0.4, 0.8])}, patches, [7])
>>> counts.values.ravel().tolist()                  # spikes in each presentation
[0, 2, 0, 1]
>>> receptive_field_maps(counts, patches).sel(unit=7).values.tolist()   # spikes/s
[[0.0, 6.0]]
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from . import _checks


def presentations_of(session, stimulus_name: str) -> pd.DataFrame:
    """The rows of ``session.stimulus_presentations`` whose ``stimulus_name`` is
    ``stimulus_name``, in time order. Raises ``ValueError`` naming the stimuli the
    session has if it showed none."""
    table = session.stimulus_presentations
    rows = table[table["stimulus_name"] == stimulus_name]
    if rows.empty:
        shown = sorted(table["stimulus_name"].dropna().unique())
        raise ValueError(f"the session showed no {stimulus_name!r}; it showed {shown}")
    return rows.sort_values("start_time")


def presentation_counts(spike_times: Mapping, presentations: pd.DataFrame,
                        unit_ids: Iterable[int], window: tuple[float, float] | None = None
                        ) -> xr.DataArray:
    """Spike counts of each unit during each presentation.

    Parameters
    ----------
    spike_times : {unit id: sorted spike times (s)}, e.g. ``session.spike_times``
    presentations : rows of the stimulus table (``start_time`` and ``stop_time``, s)
    unit_ids : the units to count
    window : (from, to) in s after each presentation's start; spikes with
        ``start + from <= t < start + to`` count. None: each presentation's own
        ``[start_time, stop_time)``.

    Returns
    -------
    DataArray of int64, dims ("presentation", "unit"), with ``duration`` (s) on the
    presentation dimension (the length of the window counted).

    Why not :func:`course_utils.spikes.bin_spikes`: its windows share one length and
    close their last bin (``np.histogram``'s rule), so a spike exactly where one
    back-to-back presentation ends and the next begins would count in both. Here every
    window is half-open and may have its own length, as AllenSDK's own stimulus
    analyses count.
    """
    unit_ids = _checks.id_list(unit_ids, "unit")
    missing = [u for u in unit_ids if u not in spike_times]
    if missing:
        raise KeyError(f"no spike times for unit(s) {missing[:5]}; use ids of "
                       "session.units (e.g. units_by_area(session).index)")
    starts = _checks.float_array(presentations["start_time"], "start_time", 1)
    if window is None:
        stops = _checks.float_array(presentations["stop_time"], "stop_time", 1)
    else:
        begin, end = _checks.window(*window, name="window")
        starts, stops = starts + begin, starts + end
    counts = np.empty((starts.size, len(unit_ids)), dtype=np.int64)
    for j, unit in enumerate(unit_ids):            # one binary search per window edge
        t = np.asarray(spike_times[unit])
        counts[:, j] = np.searchsorted(t, stops, "left") - np.searchsorted(t, starts, "left")
    return xr.DataArray(
        counts, dims=("presentation", "unit"),
        coords={"presentation": presentations.index.to_numpy(), "unit": np.asarray(unit_ids),
                "duration": ("presentation", stops - starts)},
        name="spike_count")


def _numeric(presentations: pd.DataFrame, column: str) -> np.ndarray:
    """A stimulus parameter as floats; ``"null"`` (blank sweeps) becomes NaN."""
    if column not in presentations:
        raise KeyError(f"the presentations have no {column!r} column; give rows of one "
                       "stimulus (presentations_of(session, name))")
    return pd.to_numeric(presentations[column], errors="coerce").to_numpy(dtype=float)


def _mean_rate_by(counts: xr.DataArray, presentations: pd.DataFrame,
                  columns: list[str]) -> xr.DataArray:
    """Mean rate (Hz) of each unit for each combination of ``columns``' values:
    dims ("unit", *columns). Presentations with a non-numeric value (blank sweeps)
    are left out."""
    if counts.sizes["presentation"] != len(presentations):
        raise ValueError(f"counts have {counts.sizes['presentation']} presentations but the "
                         f"table has {len(presentations)}; give the table the counts came from")
    keys = {c: _numeric(presentations, c) for c in columns}
    keep = np.logical_and.reduce([np.isfinite(v) for v in keys.values()])
    rates = counts.values[keep] / counts["duration"].values[keep, None]
    frame = pd.DataFrame(rates, columns=pd.Index(counts["unit"].values, name="unit"))
    for column, values in keys.items():
        frame[column] = values[keep]
    mean = frame.groupby(columns).mean()              # one row per combination
    grid = (mean.stack().rename("rate").to_xarray()   # dims (*columns, unit)
            .transpose("unit", *columns))
    grid.attrs["units"] = "spikes/s"
    return grid


def receptive_field_maps(counts: xr.DataArray, gabors: pd.DataFrame) -> xr.DataArray:
    """Each unit's mean firing rate (spikes/s) for a Gabor patch at each position,
    averaged over orientations and repeats.

    Returns
    -------
    DataArray, dims ("unit", "y_position", "x_position"), positions in degrees from the
    screen centre, ascending (``y_position`` > 0 is above the centre).
    """
    return _mean_rate_by(counts, gabors, ["y_position", "x_position"])


def rf_peaks(maps: xr.DataArray) -> pd.DataFrame:
    """Where each receptive-field map peaks, and how clearly.

    Returns
    -------
    DataFrame indexed by unit: ``x_position`` and ``y_position`` of the peak (degrees),
    ``peak_rate`` (spikes/s) and ``peak_z``: the peak's distance above the map's mean
    in standard deviations of the map (a unit without a receptive field on the screen
    has a flat, noisy map and a small ``peak_z``; about 3 or more stands out).
    """
    flat = maps.stack(position=("y_position", "x_position")).transpose("unit", "position")
    values = flat.values            # NaN where a position was never shown: left out
    best = np.nanargmax(values, axis=1)
    spread = np.nanstd(values, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        peak_z = (np.nanmax(values, axis=1) - np.nanmean(values, axis=1)) / spread
    position = flat["position"].values[best]
    return pd.DataFrame({"x_position": [p[1] for p in position],
                         "y_position": [p[0] for p in position],
                         "peak_rate": np.nanmax(values, axis=1),
                         "peak_z": np.where(spread > 0, peak_z, 0.0)},
                        index=pd.Index(maps["unit"].values, name="unit"))


def direction_tuning(counts: xr.DataArray, gratings: pd.DataFrame) -> xr.DataArray:
    """Each unit's mean firing rate (spikes/s) for each direction and temporal frequency
    of the drifting gratings; blank sweeps are left out.

    Returns
    -------
    DataArray, dims ("unit", "orientation", "temporal_frequency"): direction of drift in
    degrees (0-315) and temporal frequency in Hz.
    """
    return _mean_rate_by(counts, gratings, ["orientation", "temporal_frequency"])


def selectivity(tuning: xr.DataArray) -> pd.DataFrame:
    """Preferred direction and temporal frequency, and the global orientation and
    direction selectivity indices, as AllenSDK defines them (``DriftingGratings``'
    ``pref_ori_dg``, ``pref_tf_dg``, ``g_osi_dg``, ``g_dsi_dg``).

    The preferred direction maximises the rate averaged over temporal frequencies, and
    the preferred frequency the rate averaged over directions. At the preferred
    frequency, with ``r(θ)`` the mean rate for direction ``θ``:
    ``g_osi = |Σ r(θ) exp(2iθ)| / Σ r(θ)`` (1: responds to one orientation only, 0:
    to all alike) and ``g_dsi = |Σ r(θ) exp(iθ)| / Σ r(θ)`` (1: one direction only, 0:
    both directions of an orientation alike). NaN for a unit that never fired.

    Returns
    -------
    DataFrame indexed by unit: ``pref_direction`` (degrees), ``pref_tf`` (Hz),
    ``g_osi``, ``g_dsi``.
    """
    pref_direction = tuning.mean("temporal_frequency").idxmax("orientation")
    pref_tf = tuning.mean("orientation").idxmax("temporal_frequency")
    at_pref = tuning.sel(temporal_frequency=pref_tf)                 # (unit, orientation)
    theta = np.deg2rad(at_pref["orientation"].values)
    r = at_pref.values
    total = r.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        osi = np.abs((r * np.exp(2j * theta)).sum(axis=1)) / total
        dsi = np.abs((r * np.exp(1j * theta)).sum(axis=1)) / total
    return pd.DataFrame({"pref_direction": pref_direction.values, "pref_tf": pref_tf.values,
                         "g_osi": np.where(total > 0, osi, np.nan),
                         "g_dsi": np.where(total > 0, dsi, np.nan)},
                        index=pd.Index(tuning["unit"].values, name="unit"))


__all__ = ["direction_tuning", "presentation_counts", "presentations_of",
           "receptive_field_maps", "rf_peaks", "selectivity"]
