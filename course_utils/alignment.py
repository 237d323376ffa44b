"""Event-triggered responses: traces cut around many events at once, on a common grid.

>>> import numpy as np
>>> t = np.arange(0, 100, 0.1)                          # a 10 Hz recording, seconds
>>> trace = np.sin(2 * np.pi * t)[None, :]              # one cell
>>> r = event_triggered_responses(trace, [10.0, 20.0, 99.95], t_before=-0.5, t_after=0.5,
...                               timestamps=t)
>>> r.dims, r.shape
(('cell', 'event', 'time'), (1, 3, 11))
>>> bool(np.isnan(r.sel(event=2)).all())   # 99.95 s is past the last sample: all NaN
True
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from . import _checks

_EPS = 1e-9


def relative_grid(t_before: float, t_after: float, sampling_rate: float) -> np.ndarray:
    """Times ``k / sampling_rate`` (seconds, k integer) lying in ``[t_before, t_after]``.

    The grid is anchored on the event (it contains 0 whenever the window does), so grids
    of different windows at one rate line up.
    """
    t_before, t_after = _checks.window(t_before, t_after)
    if not (np.isscalar(sampling_rate) and np.isfinite(sampling_rate) and sampling_rate > 0):
        raise ValueError(f"sampling_rate must be a positive number of Hz, got {sampling_rate!r}")
    first = int(np.ceil(t_before * sampling_rate - _EPS))
    last = int(np.floor(t_after * sampling_rate + _EPS))
    if last < first:
        raise ValueError(f"the window [{t_before}, {t_after}] s holds no sample at "
                         f"{sampling_rate:.4g} Hz; widen it or raise sampling_rate")
    return np.arange(first, last + 1) / sampling_rate


def interpolate_at(values: np.ndarray, timestamps: np.ndarray, times: np.ndarray
                   ) -> np.ndarray:
    """Linear interpolation of ``values`` (..., n_frames) at ``times`` (any shape).

    Equals ``np.interp(times, timestamps, v)`` for each row ``v`` inside the recording;
    times before the first or after the last timestamp give NaN (never the edge value).
    Result shape: ``values.shape[:-1] + times.shape``.
    """
    idx = np.searchsorted(timestamps, times, side="right") - 1
    inside = (times >= timestamps[0]) & (times <= timestamps[-1])
    left = np.clip(idx, 0, timestamps.size - 2)
    x0 = timestamps[left]
    frac = (times - x0) / (timestamps[left + 1] - x0)
    y0 = values[..., left]
    out = y0 + frac * (values[..., left + 1] - y0)
    # a sample hit exactly keeps its own value (as np.interp does), even beside a NaN
    exact = frac == 0
    if exact.any():
        out = np.where(exact, y0, out)
    out[..., ~inside] = np.nan
    return out


def event_triggered_responses(traces, event_times, t_before: float, t_after: float, *,
                              timestamps=None, sampling_rate: float | None = None,
                              events_outside: str = "nan") -> xr.DataArray:
    """Cut every trace around every event and resample it on one relative time grid.

    Parameters
    ----------
    traces : DataArray with dims ("cell", "time") (e.g. from
        :func:`course_utils.experiments.trace_array`; its ``time`` coordinate gives the
        timestamps), or an array of shape (n_cells, n_frames) or (n_frames,) together with
        ``timestamps``.
    event_times : event times in seconds, shape (n_events,), on the traces' clock. A
        ``pandas.Series`` keeps its index as the event ids (e.g. stimulus_presentations_id).
    t_before, t_after : window edges in seconds *relative to the event*, signed:
        ``t_before=-1.0, t_after=1.5`` covers one second before to 1.5 s after.
    timestamps : sample times in seconds, shape (n_frames,), strictly increasing. Only
        when ``traces`` is not a DataArray.
    sampling_rate : output grid rate in Hz; default: the traces' own rate
        (1 / median frame interval). The grid is ``k / sampling_rate`` within the window.
    events_outside : what to do with an event whose time lies before the first or after
        the last timestamp: ``"nan"`` (keep it, all values NaN) or ``"raise"``.

    Returns
    -------
    DataArray, dims ("cell", "event", "time") (("event", "time") for a 1-D trace), float64.
        Value at (cell, event, t) = ``np.interp(event_time + t, timestamps, trace)``.
        Grid points outside the recording are NaN. Coordinates: ``cell`` (and any extra
        cell coordinates of the input), ``event`` (ids), ``event_time`` (s), ``time``
        (s relative to the event). The input is never modified.
    """
    t_before, t_after = _checks.window(t_before, t_after)
    if events_outside not in ("nan", "raise"):
        raise ValueError(f"events_outside must be 'nan' or 'raise', got {events_outside!r}")

    cell_coords = {}
    name, attrs = None, {}
    if isinstance(traces, xr.DataArray):
        if timestamps is not None:
            raise ValueError("timestamps come from the DataArray's 'time' coordinate; "
                             "do not pass timestamps= as well")
        if "time" not in traces.dims:
            raise ValueError(f"traces needs a 'time' dimension, got dims {traces.dims}")
        traces = traces.transpose(..., "time")
        if traces.ndim == 2:
            cell_dim = traces.dims[0]
            for key, coord in traces.coords.items():
                if coord.dims == (cell_dim,):
                    cell_coords["cell" if key == cell_dim else key] = ("cell", coord.values)
        timestamps = traces["time"].values
        name, attrs = traces.name, dict(traces.attrs)
        values = traces.values
    else:
        if timestamps is None:
            raise ValueError("pass timestamps= (seconds, one per sample) with a plain array")
        values = traces
    ts = _checks.timestamps(timestamps)
    values = _checks.float_array(values, "traces", (1, 2))
    if values.shape[-1] != ts.size:
        raise ValueError(f"traces have {values.shape[-1]} samples along time but there are "
                         f"{ts.size} timestamps; pass traces as (n_cells, n_frames)")

    if isinstance(event_times, pd.Series):
        event_ids = event_times.index.to_numpy()
        event_dim_name = event_times.index.name
    else:
        event_ids, event_dim_name = None, None
    events = _checks.float_array(event_times, "event_times", 1)
    if events.size == 0:
        raise ValueError("event_times is empty: there is nothing to align to")
    if not np.isfinite(events).all():
        raise ValueError("event_times contains NaN or infinite values; drop them first "
                         "(e.g. omitted flashes have no change time)")
    outside = (events < ts[0]) | (events > ts[-1])
    if outside.any() and events_outside == "raise":
        raise ValueError(f"{int(outside.sum())} event(s) lie outside the recording "
                         f"[{ts[0]:.3f}, {ts[-1]:.3f}] s, e.g. {events[outside][:3]}; "
                         "drop them or pass events_outside='nan'")

    rate = float(sampling_rate) if sampling_rate is not None else 1.0 / np.median(np.diff(ts))
    rel = relative_grid(t_before, t_after, rate)
    absolute = events[:, None] + rel[None, :]
    out = interpolate_at(values.astype(np.float64, copy=False), ts, absolute)
    out[..., outside, :] = np.nan

    dims = ("cell", "event", "time") if values.ndim == 2 else ("event", "time")
    coords = {"event": ("event", event_ids if event_ids is not None
                        else np.arange(events.size)),
              "event_time": ("event", events.copy()),
              "time": ("time", rel)}
    if values.ndim == 2:
        coords.setdefault("cell", ("cell", np.arange(values.shape[0])))
        coords.update(cell_coords)
    attrs.update({"t_before": t_before, "t_after": t_after, "sampling_rate": rate,
                  "time_units": "s, relative to the event"})
    if event_dim_name:
        attrs["event_id_name"] = event_dim_name
    return xr.DataArray(out, dims=dims, coords=coords, name=name or "response", attrs=attrs)


def mean_sem(responses: xr.DataArray, dim: str = "event") -> xr.Dataset:
    """Mean and standard error of the mean over ``dim`` (NaNs ignored).

    Returns a Dataset with ``mean``, ``sem`` and ``n`` (non-NaN count).
    """
    n = responses.notnull().sum(dim)
    mean = responses.mean(dim)
    sem = responses.std(dim, ddof=1) / np.sqrt(n.where(n > 0))
    return xr.Dataset({"mean": mean, "sem": sem, "n": n})


def responses_to_tidy(responses: xr.DataArray) -> pd.DataFrame:
    """One row per (cell, event, time) with every coordinate as a column."""
    name = responses.name or "response"
    return responses.rename(name).to_dataframe().reset_index()
