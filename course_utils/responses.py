"""Stimulus-response tables: one row per (cell, presentation) with its mean response.

>>> from course_utils.caches import open_ophys_cache
>>> from course_utils.experiments import load_experiments, trace_array
>>> experiment = load_experiments(open_ophys_cache(), [854759890])[854759890]
>>> dff = trace_array(experiment, "dff")                              # (cell, time)
>>> flashes = experiment.stimulus_presentations.query(
...     "stimulus_block_name == 'change_detection_behavior'")
>>> table = stimulus_response_table(dff, flashes)
>>> table.columns[:4].tolist()
['cell_specimen_id', 'stimulus_presentations_id', 'mean_response', 'baseline_response']
>>> table.shape                                   # 3 cells x 4800 flashes, 13 columns
(14400, 13)
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import xarray as xr

from . import _checks
from .alignment import event_triggered_responses

#: Stimulus columns joined by default, when the presentations table has them.
STIMULUS_COLUMNS = ("start_time", "image_name", "is_change", "omitted")


def window_means(responses: xr.DataArray, window: tuple[float, float]) -> xr.DataArray:
    """Mean over the grid points of ``responses`` with ``window[0] <= time <= window[1]``.

    A window that contains a NaN (e.g. it runs past the recording) gives NaN: a mean of
    part of a window would not be comparable with the others.
    """
    start, stop = _checks.window(*window, name="response window")
    inside = (responses["time"] >= start - 1e-9) & (responses["time"] <= stop + 1e-9)
    if not bool(inside.any()):
        raise ValueError(f"no grid point of the responses lies in [{start}, {stop}] s")
    return responses.where(inside, drop=True).mean("time", skipna=False)


def stimulus_response_table(traces: xr.DataArray, presentations: pd.DataFrame,
                            response_window: tuple[float, float] = (0.0, 0.5),
                            baseline_window: tuple[float, float] = (-0.5, 0.0),
                            stimulus_columns: Sequence[str] = STIMULUS_COLUMNS,
                            sampling_rate: float | None = None) -> pd.DataFrame:
    """Mean response and baseline of every cell to every presentation.

    Parameters
    ----------
    traces : DataArray with dims ("cell", "time"), e.g. ``["dff"]`` of
        :func:`course_utils.experiments.load_session_traces`.
    presentations : AllenSDK ``stimulus_presentations`` (or any subset of it): index
        ``stimulus_presentations_id``, a ``start_time`` column in seconds.
    response_window, baseline_window : seconds relative to each presentation's start.
        Means are taken over the trace resampled by linear interpolation on the grid
        ``k / sampling_rate`` (default: the traces' frame rate).
    stimulus_columns : columns of ``presentations`` copied into the table (those absent
        are skipped).

    Returns
    -------
    DataFrame, one row per (cell, presentation), n_cells x n_presentations rows, with
    ``cell_specimen_id``, ``stimulus_presentations_id``, ``mean_response``,
    ``baseline_response`` (float64, the trace's units), the traces' extra cell
    coordinates (e.g. ``targeted_structure``) and the stimulus columns. Presentations
    whose windows leave the recording have NaN means.
    """
    if not isinstance(presentations, pd.DataFrame) or "start_time" not in presentations:
        raise ValueError("presentations must be a DataFrame with a 'start_time' column "
                         "(seconds), such as experiment.stimulus_presentations")
    if presentations.empty:
        raise ValueError("presentations is empty: nothing to measure responses to")
    if not presentations.index.is_unique:
        raise ValueError("presentations has duplicate index values; each presentation "
                         "needs its own id (reset_index() makes one)")
    response_window = _checks.window(*response_window, name="response window")
    baseline_window = _checks.window(*baseline_window, name="baseline window")

    start = min(response_window[0], baseline_window[0])
    stop = max(response_window[1], baseline_window[1])
    responses = event_triggered_responses(traces, presentations["start_time"], start, stop,
                                          sampling_rate=sampling_rate)
    means = xr.Dataset({"mean_response": window_means(responses, response_window),
                        "baseline_response": window_means(responses, baseline_window)})
    means = means.drop_vars("event_time")
    cell_name = "cell_specimen_id"
    event_name = presentations.index.name or "stimulus_presentations_id"
    table = (means.to_dataframe(dim_order=["cell", "event"])
             .reset_index()
             .rename(columns={"cell": cell_name, "event": event_name}))
    first = [cell_name, event_name, "mean_response", "baseline_response"]
    table = table[first + [c for c in table.columns if c not in first]]
    keep = [c for c in stimulus_columns if c in presentations.columns]
    stim = presentations[keep].rename_axis(event_name).reset_index()
    table = table.merge(stim, on=event_name, how="left", validate="many_to_one")
    return table
