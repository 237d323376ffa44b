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


def _traces_and_clocks(traces, timestamps):
    """Split the accepted trace inputs into values (n_cells, n_frames) or (n_frames,),
    a list of clocks ``(cell rows, timestamps)`` (one per distinct clock), the cell
    coordinates to keep, the name and the attrs."""
    cell_coords, name, attrs = {}, None, {}
    if not isinstance(traces, xr.DataArray):
        if timestamps is None:
            raise ValueError("pass timestamps= (seconds, one per sample) with a plain array")
        values = _checks.float_array(traces, "traces", (1, 2))
        ts = _checks.timestamps(timestamps)
        if values.shape[-1] != ts.size:
            raise ValueError(f"traces have {values.shape[-1]} samples along time but there "
                             f"are {ts.size} timestamps; pass traces as (n_cells, n_frames)")
        rows = np.arange(values.shape[0]) if values.ndim == 2 else None
        return values, [(rows, ts)], cell_coords, name, attrs

    if timestamps is not None:
        raise ValueError("timestamps come from the DataArray's 'time' coordinate (or its "
                         "'timestamps' coordinate); do not pass timestamps= as well")
    name, attrs = traces.name, dict(traces.attrs)
    if "time" in traces.dims:
        time_dim = "time"
    elif "frame" in traces.dims and "timestamps" in traces.coords:
        time_dim = "frame"
    else:
        raise ValueError(f"traces needs a 'time' dimension, or a 'frame' dimension with a "
                         f"'timestamps' coordinate; got dims {traces.dims}")
    traces = traces.transpose(..., time_dim)
    if traces.ndim not in (1, 2):
        raise ValueError(f"traces must be 1-D or 2-D, got dims {traces.dims}")
    values = _checks.float_array(traces.values, "traces", (1, 2))
    if traces.ndim == 2:
        cell_dim = traces.dims[0]
        for key, coord in traces.coords.items():
            if coord.dims == (cell_dim,):
                cell_coords["cell" if key == cell_dim else key] = ("cell", coord.values)
    if time_dim == "time":
        ts = _checks.timestamps(traces["time"].values)
        rows = np.arange(values.shape[0]) if values.ndim == 2 else None
        return values, [(rows, ts)], cell_coords, name, attrs

    stamps = traces["timestamps"].transpose(..., "frame").values
    if stamps.ndim == 1 or values.ndim == 1:
        ts = _checks.timestamps(stamps[~np.isnan(stamps)] if stamps.ndim == 1
                                else stamps)
        rows = np.arange(values.shape[0]) if values.ndim == 2 else None
        return values, [(rows, ts)], cell_coords, name, attrs
    if stamps.shape != values.shape:
        raise ValueError(f"the 'timestamps' coordinate has shape {stamps.shape}, the traces "
                         f"{values.shape}; it must give every cell's frame times")
    # cells sharing a clock (one imaging plane group) are interpolated together
    _, first, which = np.unique(np.ascontiguousarray(stamps).view(
        np.dtype((np.void, stamps.dtype.itemsize * stamps.shape[1]))).ravel(),
        return_index=True, return_inverse=True)
    clocks = []
    for k in np.argsort(first):
        rows = np.flatnonzero(which == k)
        row = stamps[rows[0]]
        n = int(np.count_nonzero(~np.isnan(row)))
        if np.isnan(row[:n]).any():
            raise ValueError(f"the timestamps of cell {rows[0]} have NaN before the end; "
                             "only padding at the end (a plane with fewer frames) is allowed")
        clocks.append((rows, _checks.timestamps(row[:n], f"timestamps of cell {rows[0]}")))
    return values, clocks, cell_coords, name, attrs


def _native_rate(clocks) -> float:
    """The traces' own sampling rate (Hz): 1 / median frame interval, the median over
    clocks when there are several."""
    return float(np.median([1.0 / np.median(np.diff(ts)) for _, ts in clocks]))


def resample_traces(traces: xr.DataArray, sampling_rate: float | None = None,
                    start: float | None = None, stop: float | None = None,
                    max_gb: float = _checks.MAX_OUTPUT_GB) -> xr.DataArray:
    """Put every cell on one common time grid by linear interpolation on its own clock.

    Planes of a mesoscope session are imaged at different times (one clock per imaging
    plane group), so a whole session has no shared time axis. This makes one, on
    purpose: the grid is ``start + k / sampling_rate`` for k = 0, 1, ... up to ``stop``,
    and each cell's value there is ``np.interp(grid, cell_timestamps, cell_trace)``.

    Parameters
    ----------
    traces : DataArray with dims ("cell", "frame") and a ``timestamps`` (cell, frame)
        coordinate (:func:`course_utils.experiments.load_session_traces` or
        :func:`course_utils.experiments.session_trace_array`), or ("cell", "time").
    sampling_rate : grid rate in Hz; default the traces' own rate (median over clocks).
    start, stop : first and last grid time (s); default the span every cell covers
        (latest first frame to earliest last frame), so no grid point is NaN.
    max_gb : refuse (``ValueError``, before any work) a result larger than this, in GB.

    Returns
    -------
    DataArray, dims ("cell", "time"), float64, with the cell coordinates of ``traces``;
    ``time`` in seconds. Grid points outside a cell's own recording are NaN.

    Notes
    -----
    The error is that of linear interpolation between two frames, at most
    ``h**2 / 8 * max|x''|`` for frame interval ``h`` (93 ms here): it smooths the peak
    of a fast calcium transient a little, and it shifts nothing in time. Without
    resampling, treating the groups' frames as simultaneous would misplace them by up
    to (group_count - 1) / group_count of a frame (62 ms here).
    """
    if not isinstance(traces, xr.DataArray):
        raise TypeError("traces must be an xarray.DataArray with its timestamps (from "
                        "load_session_traces or session_trace_array)")
    values, clocks, cell_coords, name, attrs = _traces_and_clocks(traces, None)
    if values.ndim != 2:
        raise ValueError(f"traces must be (cell, frame), got dims {traces.dims}")
    rate = float(sampling_rate) if sampling_rate is not None else _native_rate(clocks)
    if not (np.isfinite(rate) and rate > 0):
        raise ValueError(f"sampling_rate must be a positive number of Hz, got {sampling_rate!r}")
    first = max(ts[0] for _, ts in clocks) if start is None else float(start)
    last = min(ts[-1] for _, ts in clocks) if stop is None else float(stop)
    if not (np.isfinite(first) and np.isfinite(last)) or last < first:
        raise ValueError(f"empty grid: start={first!r} s must not come after stop={last!r} s")
    _checks.output_size((values.shape[0], int((last - first) * rate) + 1), 8, max_gb,
                        "the resampled traces", "lower sampling_rate or a shorter "
                        "start..stop span")
    grid = first + np.arange(int(np.floor((last - first) * rate + _EPS)) + 1) / rate
    out = np.empty((values.shape[0], grid.size))
    values = values.astype(np.float64, copy=False)
    for rows, ts in clocks:
        out[rows] = interpolate_at(values[rows, :ts.size], ts, grid)
    coords = {"cell": ("cell", np.arange(values.shape[0])), **cell_coords,
              "time": ("time", grid)}
    attrs = {**attrs, "sampling_rate": rate, "time_units": "s",
             "resampling": f"linear interpolation of each of {len(clocks)} clock(s) onto "
                           f"start + k / {rate:.6g} Hz"}
    return xr.DataArray(out, dims=("cell", "time"), coords=coords, name=name, attrs=attrs)


def event_triggered_responses(traces, event_times, t_before: float, t_after: float, *,
                              timestamps=None, sampling_rate: float | None = None,
                              events_outside: str = "nan",
                              max_gb: float = _checks.MAX_OUTPUT_GB) -> xr.DataArray:
    """Cut every trace around every event and resample it on one relative time grid.

    Parameters
    ----------
    traces : DataArray with dims ("cell", "time") (e.g. from
        :func:`course_utils.experiments.trace_array`; its ``time`` coordinate gives the
        timestamps); or with dims ("cell", "frame") and a coordinate ``timestamps``
        (cell, frame) giving each cell's own frame times (a whole mesoscope session, from
        :func:`course_utils.experiments.load_session_traces`: its planes have different
        clocks); or an array of shape (n_cells, n_frames) or (n_frames,) together with
        ``timestamps``.
    event_times : event times in seconds, shape (n_events,), on the traces' clock. A
        ``pandas.Series`` keeps its index as the event ids (e.g. stimulus_presentations_id).
    t_before, t_after : window edges in seconds *relative to the event*, signed:
        ``t_before=-1.0, t_after=1.5`` covers one second before to 1.5 s after.
    timestamps : sample times in seconds, shape (n_frames,), strictly increasing. Only
        when ``traces`` is not a DataArray.
    sampling_rate : output grid rate in Hz; default: the traces' own rate
        (1 / median frame interval; with several clocks, the median over them). The grid
        is ``k / sampling_rate`` within the window, the same for every cell.
    events_outside : what to do with an event whose time lies before the first or after
        the last timestamp: ``"nan"`` (keep it, all values NaN) or ``"raise"``.
    max_gb : refuse (``ValueError``, before any work) a result larger than this, in GB.

    Returns
    -------
    DataArray, dims ("cell", "event", "time") (("event", "time") for a 1-D trace), float64.
        Value at (cell, event, t) = ``np.interp(event_time + t, timestamps, trace)``
        with the cell's own timestamps. Grid points outside the recording are NaN. Coordinates: ``cell`` (and any extra
        cell coordinates of the input), ``event`` (ids), ``event_time`` (s), ``time``
        (s relative to the event). The input is never modified.
    """
    t_before, t_after = _checks.window(t_before, t_after)
    if events_outside not in ("nan", "raise"):
        raise ValueError(f"events_outside must be 'nan' or 'raise', got {events_outside!r}")

    values, clocks, cell_coords, name, attrs = _traces_and_clocks(traces, timestamps)

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
    for rows, ts in clocks:
        outside = (events < ts[0]) | (events > ts[-1])
        if outside.any() and events_outside == "raise":
            raise ValueError(f"{int(outside.sum())} event(s) lie outside the recording "
                             f"[{ts[0]:.3f}, {ts[-1]:.3f}] s, e.g. {events[outside][:3]}; "
                             "drop them or pass events_outside='nan'")

    rate = float(sampling_rate) if sampling_rate is not None else _native_rate(clocks)
    if not np.isfinite(rate) or rate <= 0:
        raise ValueError(f"sampling_rate must be a positive number of Hz, got {sampling_rate!r}")
    n_cells = values.shape[0] if values.ndim == 2 else 1
    _checks.output_size((n_cells, events.size, int((t_after - t_before) * rate) + 1), 8,
                        max_gb, "the aligned responses", "lower sampling_rate, narrow the "
                        "window, or align fewer events or cells at a time")
    rel = relative_grid(t_before, t_after, rate)
    absolute = events[:, None] + rel[None, :]
    values = values.astype(np.float64, copy=False)
    if values.ndim == 1:
        ((_, ts),) = clocks
        out = interpolate_at(values[:ts.size], ts, absolute)
        out[(events < ts[0]) | (events > ts[-1]), :] = np.nan
    else:
        out = np.empty((values.shape[0], events.size, rel.size))
        for rows, ts in clocks:       # each clock on its own: cells of one plane group
            part = interpolate_at(values[rows, :ts.size], ts, absolute)
            part[:, (events < ts[0]) | (events > ts[-1]), :] = np.nan
            out[rows] = part

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
    if len(clocks) > 1:
        attrs["clocks"] = (f"{len(clocks)} clocks (imaging plane groups), each cell "
                           "interpolated on its own")
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
