"""Load Visual Behavior 2P experiments (imaging planes) and read their traces.

An *ophys session* is one recording day of one mouse; each of its *experiments* is one
imaging plane (the mesoscope records up to eight at once). Traces live per experiment:
``experiment.dff_traces`` holds dF/F, ``experiment.events`` the detected events and
their smoothed version.

>>> from course_utils.caches import open_ophys_cache
>>> cache = open_ophys_cache()
>>> experiments = load_session_experiments(cache, 854060305)   # {experiment id: experiment}
>>> dff = trace_array(experiments[854759890], "dff")             # DataArray (cell, time)
>>> dff.sizes
Frozen({'cell': 3, 'time': 48331})
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import xarray as xr

#: Trace name -> (experiment attribute, column) where AllenSDK keeps it.
TRACES = {"dff": ("dff_traces", "dff"),
          "events": ("events", "events"),
          "filtered_events": ("events", "filtered_events")}
TRACE_UNITS = {"dff": "dF/F (fraction)", "events": "event magnitude (a.u.)",
               "filtered_events": "event magnitude (a.u.)"}
#: Experiment metadata copied onto each cell of :func:`trace_array`.
CELL_METADATA = ("ophys_experiment_id", "targeted_structure", "imaging_depth")


def _known_ids(table: pd.DataFrame, ids: Iterable[int], what: str) -> list[int]:
    ids = [int(i) for i in ids]
    unknown = [i for i in ids if i not in table.index]
    if unknown:
        raise KeyError(f"unknown {what} id(s) {unknown}: not in the cache's {what} table "
                       f"({len(table)} rows; e.g. {list(table.index[:3])}). Check the id, "
                       "or the data source (the offline sample holds the full tables but "
                       "only session 854060305's files).")
    return ids


def load_experiments(cache, experiment_ids: Iterable[int]) -> dict[int, object]:
    """Load experiments by id: ``{ophys_experiment_id: BehaviorOphysExperiment}``.

    Raises ``KeyError`` naming any id the cache's experiment table does not list.
    """
    table = cache.get_ophys_experiment_table()
    ids = _known_ids(table, experiment_ids, "ophys experiment")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # pynwb/hdmf deprecation chatter on every file
        return {i: cache.get_behavior_ophys_experiment(i) for i in ids}


def load_session_experiments(cache, ophys_session_id: int) -> dict[int, object]:
    """Load every released plane of one ophys session, in the session table's order."""
    table = cache.get_ophys_session_table()
    (session,) = _known_ids(table, [ophys_session_id], "ophys session")
    return load_experiments(cache, table.loc[session, "ophys_experiment_id"])


def cell_table(experiment, exclude_invalid_rois: bool = True) -> pd.DataFrame:
    """The experiment's cell specimen table, valid ROIs only unless asked otherwise."""
    cells = experiment.cell_specimen_table
    return cells[cells["valid_roi"]] if exclude_invalid_rois else cells


def trace_matrix(experiment, trace: str, cell_ids, out: np.ndarray | None = None,
                 table: pd.DataFrame | None = None) -> np.ndarray:
    """One trace type for the given cells as a float32 array, shape (n_cells, n_frames).

    Cells without that trace (possible in the release for invalid ROIs) are all-NaN rows.
    ``out`` (optional) is filled in place; ``table`` (optional) is the experiment's
    ``dff_traces`` or ``events`` table if the caller already holds it (AllenSDK builds
    it anew on every attribute access).
    """
    if trace not in TRACES:
        raise ValueError(f"unknown trace {trace!r}; choose one of {list(TRACES)}")
    attribute, column = TRACES[trace]
    if table is None:
        table = getattr(experiment, attribute)
    n_frames = len(experiment.ophys_timestamps)
    if out is None:
        out = np.empty((len(cell_ids), n_frames), dtype=np.float32)
    elif out.shape != (len(cell_ids), n_frames):
        raise ValueError(f"out has shape {out.shape}, expected {(len(cell_ids), n_frames)}")
    values = table[column]
    rows = table.index.get_indexer(cell_ids)
    for out_row, row in enumerate(rows):
        if row < 0:
            out[out_row] = np.nan
            continue
        trace_values = values.iat[row]
        if np.shape(trace_values) != (n_frames,):
            raise ValueError(f"{trace} of cell {cell_ids[out_row]} has shape "
                             f"{np.shape(trace_values)}, but the experiment has {n_frames} "
                             "ophys timestamps")
        out[out_row] = trace_values
    return out


def _cell_coords(experiment, cells: pd.DataFrame, metadata: Iterable[str]) -> dict:
    """Coordinates along ``cell``: ids, ROI ids and experiment metadata per cell."""
    meta = experiment.metadata
    absent = [k for k in metadata if k not in meta]
    if absent:
        raise KeyError(f"experiment {meta.get('ophys_experiment_id')} has no metadata "
                       f"{absent}; available: {sorted(meta)}")
    coords = {"cell": ("cell", cells.index.to_numpy()),
              "cell_roi_id": ("cell", cells["cell_roi_id"].to_numpy())}
    for key in metadata:
        coords[key] = ("cell", np.repeat(np.asarray([meta[key]]), len(cells)))
    return coords


def trace_array(experiment, trace: str = "dff", exclude_invalid_rois: bool = True
                ) -> xr.DataArray:
    """One experiment's traces as a labelled array.

    Returns
    -------
    xarray.DataArray, dims ``("cell", "time")``, float32
        ``cell``: cell_specimen_id, with ``cell_roi_id`` and the experiment's
        ``ophys_experiment_id``, ``targeted_structure`` and ``imaging_depth`` (µm) as
        extra coordinates; ``time``: ophys timestamps in seconds.
    """
    cells = cell_table(experiment, exclude_invalid_rois)
    coords = _cell_coords(experiment, cells, CELL_METADATA)
    coords["time"] = ("time", np.asarray(experiment.ophys_timestamps, dtype=np.float64))
    return xr.DataArray(trace_matrix(experiment, trace, cells.index), dims=("cell", "time"),
                        coords=coords, name=trace,
                        attrs={"units": TRACE_UNITS[trace], "time_units": "s"})


def session_trace_array(experiments: Mapping[int, object], trace: str = "dff",
                        exclude_invalid_rois: bool = True) -> xr.DataArray:
    """All planes' traces in one (cell, time) array; the planes must share timestamps.

    Mesoscope planes of one session are imaged on one frame clock, so their timestamps
    agree; if they do not, align each plane on its own with
    :func:`course_utils.alignment.event_triggered_responses` and ``xr.concat`` the results
    along ``cell`` (they share the relative time grid when given one ``sampling_rate``).
    """
    arrays = [trace_array(e, trace, exclude_invalid_rois) for e in experiments.values()]
    first = arrays[0]["time"].values
    for exp_id, arr in zip(experiments, arrays):
        if not np.array_equal(arr["time"].values, first):
            raise ValueError(f"experiment {exp_id} has different ophys timestamps from the "
                             "first plane; align planes separately and concatenate along 'cell'")
    return xr.concat(arrays, dim="cell")


def load_session_traces(cache, ophys_session_id: int,
                        metadata: Iterable[str] = ("ophys_experiment_id", "ophys_session_id",
                                                   "targeted_structure", "imaging_depth",
                                                   "equipment_name", "cre_line", "mouse_id",
                                                   "sex"),
                        exclude_invalid_rois: bool = True, progress: bool = False
                        ) -> xr.Dataset:
    """Every cell's dF/F, events and filtered events for a whole session, loading one
    plane at a time.

    A loaded ``BehaviorOphysExperiment`` holds far more than its traces (the session's
    stimulus images alone take about 90 MB per plane), so keeping all eight planes of a
    mesoscope session in memory can exceed a 2 GB Binder or Colab machine. This loads
    each plane, copies its traces out and lets the plane go.

    Returns
    -------
    xarray.Dataset with variables ``dff``, ``events``, ``filtered_events`` (float32),
    dims ``("cell", "time")``: ``cell`` = cell_specimen_id, with ``cell_roi_id`` and each
    ``metadata`` key as extra coordinates; ``time`` = ophys timestamps (s). Raises
    ``ValueError`` if the planes' timestamps differ.
    """
    table = cache.get_ophys_session_table()
    (session,) = _known_ids(table, [ophys_session_id], "ophys session")
    ids = list(table.loc[session, "ophys_experiment_id"])
    metadata = list(metadata)
    parts, times = [], None
    for n, exp_id in enumerate(ids, 1):
        experiment = load_experiments(cache, [exp_id])[exp_id]
        cells = cell_table(experiment, exclude_invalid_rois)
        coords = _cell_coords(experiment, cells, metadata)
        ts = np.asarray(experiment.ophys_timestamps, dtype=np.float64)
        if times is None:
            times = ts
        elif not np.array_equal(ts, times):
            raise ValueError(f"experiment {exp_id} has different ophys timestamps from "
                             f"experiment {ids[0]}; load and align its planes separately")
        tables = {attr: getattr(experiment, attr) for attr in ("dff_traces", "events")}
        data = {t: (("cell", "time"), trace_matrix(experiment, t, cells.index,
                                                   table=tables[TRACES[t][0]]),
                    {"units": TRACE_UNITS[t]})
                for t in TRACES}
        parts.append(xr.Dataset(data, coords=coords))
        del experiment, tables
        if progress:
            print(f"plane {n}/{len(ids)}: experiment {exp_id}, {len(cells)} cells", flush=True)
    out = xr.concat(parts, dim="cell")
    out = out.assign_coords(time=("time", times))
    out["time"].attrs["units"] = "s"
    out.attrs["ophys_session_id"] = int(session)
    return out
