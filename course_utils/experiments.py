"""Load Visual Behavior 2P experiments (imaging planes) and read their traces.

An *ophys session* is one recording day of one mouse; each of its *experiments* is one
imaging plane (the mesoscope records up to eight at once). Traces live per experiment:
``experiment.dff_traces`` holds dF/F, ``experiment.events`` the detected events and
their smoothed version.

**Clocks.** The mesoscope images its planes in *imaging plane groups* (two planes per
group here) and takes the groups' frames in turn, so each group has its own frame times:
group 1's frames come about a third of a frame after group 0's, and so on
(``experiment.metadata["imaging_plane_group"]``). A single plane has one clock, so
:func:`trace_array` has a ``time`` dimension. A whole session does not: its arrays
(:func:`session_trace_array`, :func:`load_session_traces`) have dims ``("cell",
"frame")`` and a 2-D coordinate ``timestamps`` (cell, frame) holding each cell's own
frame times. To put cells of several planes on one time axis, align them to events
(:func:`course_utils.alignment.event_triggered_responses`) or resample them
(:func:`course_utils.alignment.resample_traces`): both interpolate each plane on its
own clock.

>>> from course_utils.caches import open_ophys_cache
>>> cache = open_ophys_cache()
>>> experiments = load_session_experiments(cache, 854060305)   # {experiment id: experiment}
>>> dff = trace_array(experiments[854759890], "dff")             # DataArray (cell, time)
>>> dff.sizes
Frozen({'cell': 3, 'time': 48331})
"""
from __future__ import annotations

import warnings
from pathlib import Path
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from . import _checks
from .memory import release_memory

#: Trace name -> (experiment attribute, column) where AllenSDK keeps it.
TRACES = {"dff": ("dff_traces", "dff"),
          "events": ("events", "events"),
          "filtered_events": ("events", "filtered_events")}
TRACE_UNITS = {"dff": "dF/F (fraction)", "events": "event magnitude (a.u.)",
               "filtered_events": "event magnitude (a.u.)"}
#: Experiment metadata copied onto each cell of :func:`trace_array`.
CELL_METADATA = ("ophys_experiment_id", "imaging_plane_group", "targeted_structure",
                 "imaging_depth")
#: Metadata :func:`load_session_traces` copies onto each cell by default.
SESSION_METADATA = ("ophys_experiment_id", "imaging_plane_group", "ophys_session_id",
                    "targeted_structure", "imaging_depth", "equipment_name", "cre_line",
                    "mouse_id", "sex")


def _known_ids(table: pd.DataFrame, ids: Iterable[int], what: str) -> list[int]:
    ids = _checks.id_list(ids, what)
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
    if "file_id" in table:
        # -999: listed in the release table, but this cache has no file for it
        absent = [i for i in ids if table.loc[i, "file_id"] == -999]
        if absent:
            have = [int(i) for i in table.index[table["file_id"] != -999][:8]]
            raise KeyError(f"ophys experiment(s) {absent} are in the release table but this "
                           f"cache holds no file for them; it has files for {have}. Use one "
                           "of those, or real data (COURSE_DATA_SOURCE=allen, then fetch).")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # pynwb/hdmf deprecation chatter on every file
        return {i: _load_one(cache, table, i) for i in ids}


def _load_one(cache, table: pd.DataFrame, experiment_id: int):
    """``cache.get_behavior_ophys_experiment``, naming the file and the fix when the
    file cannot be read (damaged on disk: h5py's own error names neither)."""
    try:
        return cache.get_behavior_ophys_experiment(experiment_id)
    except OSError as err:
        path = _experiment_file(cache, table, experiment_id)
        if path is None or not path.is_file():
            raise                     # not a file on disk that failed (e.g. no network)
        from .config import sample_dir

        inside_sample = Path(sample_dir()).resolve() in Path(path).resolve().parents
        fix = ("It belongs to the offline sample: rebuild the sample with "
               "python -m course_utils build-sample --force" if inside_sample else
               "Delete it; loading the experiment again downloads it afresh")
        raise OSError(f"cannot read the file of ophys experiment {experiment_id}, {path} "
                      f"({err}): the file is damaged. {fix}.") from err


def _experiment_file(cache, table: pd.DataFrame, experiment_id: int) -> Path | None:
    """Where the cache keeps an experiment's NWB file, or None if it cannot say."""
    try:
        file_id = str(table.loc[experiment_id, "file_id"])
        return Path(cache.fetch_api.cache.data_path(file_id)["local_path"])
    except (AttributeError, KeyError, TypeError, ValueError, OSError):
        return None


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


def _plane_timestamps(experiment) -> np.ndarray:
    """The plane's frame times (s) as float64, checked: 1-D, finite, increasing."""
    ts = np.asarray(experiment.ophys_timestamps, dtype=np.float64)
    meta = getattr(experiment, "metadata", {}) or {}
    name = f"ophys_timestamps of experiment {meta.get('ophys_experiment_id', '?')}"
    if ts.ndim != 1 or ts.size < 2:
        raise ValueError(f"{name} must be 1-D with at least two frames, got shape {ts.shape}")
    if not np.isfinite(ts).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if (np.diff(ts) <= 0).any():
        bad = int(np.argmax(np.diff(ts) <= 0))
        raise ValueError(f"{name} are not strictly increasing at frame {bad + 1}")
    return ts


def _stack_planes(parts: list[xr.Dataset], clocks: list[np.ndarray]) -> xr.Dataset:
    """Concatenate per-plane (cell, frame) Datasets along ``cell``, giving every cell its
    plane's frame times as the 2-D coordinate ``timestamps`` (cell, frame). Planes with
    fewer frames are padded at the end with NaN (values and timestamps)."""
    n_frames = max(len(c) for c in clocks)
    padded = []
    for part, clock in zip(parts, clocks):
        if len(clock) < n_frames:
            part = part.pad(frame=(0, n_frames - len(clock)))   # NaN for float data
        times = np.full((part.sizes["cell"], n_frames), np.nan)
        times[:, :len(clock)] = clock
        padded.append(part.assign_coords(timestamps=(("cell", "frame"), times)))
    out = xr.concat(padded, dim="cell")
    out = out.assign_coords(frame=("frame", np.arange(n_frames)))
    out["timestamps"].attrs.update(units="s", description=(
        "each cell's own frame times (its imaging plane group's clock); NaN where its "
        "plane has fewer frames than the longest plane"))
    out["n_frames"] = ("cell", np.repeat([len(c) for c in clocks],
                                         [p.sizes["cell"] for p in parts]))
    out = out.set_coords("n_frames")
    return out


def session_trace_array(experiments: Mapping[int, object], trace: str = "dff",
                        exclude_invalid_rois: bool = True) -> xr.DataArray:
    """All planes' traces in one array, each cell on its own plane's clock.

    Returns
    -------
    xarray.DataArray, dims ``("cell", "frame")``, float32 (NaN past the end of a plane
        that has fewer frames). Coordinates: ``cell`` (cell_specimen_id) with the
        coordinates of :func:`trace_array`; ``frame`` (frame number in the plane);
        ``timestamps`` (cell, frame), each cell's frame times in seconds; ``n_frames``
        (cell), its plane's frame count. Planes of different imaging plane groups have
        different timestamps, so there is no shared ``time`` axis: use
        :func:`course_utils.alignment.event_triggered_responses` or
        :func:`course_utils.alignment.resample_traces` for one.
    """
    parts, clocks = [], []
    for exp in experiments.values():
        arr = trace_array(exp, trace, exclude_invalid_rois)
        clocks.append(arr["time"].values)
        parts.append(arr.drop_vars("time").rename(time="frame").to_dataset(name=trace))
    return _stack_planes(parts, clocks)[trace]


def load_session_traces(cache, ophys_session_id: int,
                        metadata: Iterable[str] = SESSION_METADATA,
                        exclude_invalid_rois: bool = True, progress: bool = False,
                        loaded: Mapping[int, object] | None = None) -> xr.Dataset:
    """Every cell's dF/F, events and filtered events for a whole session, loading one
    plane at a time.

    A loaded ``BehaviorOphysExperiment`` holds far more than its traces (the session's
    stimulus images alone take about 90 MB per plane), so keeping all eight planes of a
    mesoscope session in memory can exceed a 2 GB Binder or Colab machine. This loads
    each plane, copies its traces out and lets the plane go. Planes you already hold can
    be passed as ``loaded`` (``{experiment_id: experiment}``) and are not read again.

    Returns
    -------
    xarray.Dataset with variables ``dff``, ``events``, ``filtered_events`` (float32;
    the files hold float64, float32 keeps 7 significant digits), dims ``("cell",
    "frame")``: ``cell`` = cell_specimen_id, with ``cell_roi_id`` and each ``metadata``
    key as extra coordinates; ``frame`` = frame number in the plane; ``timestamps``
    (cell, frame) = each cell's own frame times (s), since planes of different imaging
    plane groups are imaged at different times (see the module docstring); ``n_frames``
    (cell) = its plane's frame count. A plane with fewer frames than the longest is
    padded with NaN at the end.
    """
    table = cache.get_ophys_session_table()
    (session,) = _known_ids(table, [ophys_session_id], "ophys session")
    ids = list(table.loc[session, "ophys_experiment_id"])
    metadata = list(metadata)
    parts, clocks = [], []
    for n, exp_id in enumerate(ids, 1):
        held = (loaded or {}).get(exp_id)
        if held is not None and held.metadata.get("ophys_experiment_id") != exp_id:
            raise ValueError(f"loaded[{exp_id}] is experiment "
                             f"{held.metadata.get('ophys_experiment_id')}: key each loaded "
                             "plane by its own ophys_experiment_id")
        experiment = held if held is not None else load_experiments(cache, [exp_id])[exp_id]
        cells = cell_table(experiment, exclude_invalid_rois)
        coords = _cell_coords(experiment, cells, metadata)
        clocks.append(_plane_timestamps(experiment))
        tables = {attr: getattr(experiment, attr) for attr in ("dff_traces", "events")}
        data = {t: (("cell", "frame"), trace_matrix(experiment, t, cells.index,
                                                    table=tables[TRACES[t][0]]),
                    {"units": TRACE_UNITS[t]})
                for t in TRACES}
        parts.append(xr.Dataset(data, coords=coords))
        del experiment, tables
        release_memory()        # hand the plane's freed pages back before the next one
        if progress:
            print(f"plane {n}/{len(ids)}: experiment {exp_id}, {len(cells)} cells, "
                  f"{len(clocks[-1])} frames from {clocks[-1][0]:.5f} s", flush=True)
    out = _stack_planes(parts, clocks)
    out.attrs["ophys_session_id"] = int(session)
    return out


def plane_clocks(traces: xr.Dataset | xr.DataArray) -> pd.DataFrame:
    """One row per plane: its imaging plane group, frame count, first frame time and
    median frame interval (s), from a session array (:func:`load_session_traces`,
    :func:`session_trace_array`). Index: ``ophys_experiment_id``."""
    needed = ("ophys_experiment_id", "timestamps", "n_frames")
    missing = [c for c in needed if c not in traces.coords]
    if missing:
        raise KeyError(f"traces lack the coordinate(s) {missing}; build them with "
                       "load_session_traces or session_trace_array")
    exp_ids = traces["ophys_experiment_id"].values
    _, first = np.unique(exp_ids, return_index=True)
    rows = []
    for i in sorted(first):
        n = int(traces["n_frames"].values[i])
        ts = traces["timestamps"].values[i, :n]
        group = (traces["imaging_plane_group"].values[i]
                 if "imaging_plane_group" in traces.coords else None)
        rows.append({"ophys_experiment_id": exp_ids[i], "imaging_plane_group": group,
                     "n_frames": n, "first_frame_s": ts[0],
                     "frame_interval_s": float(np.median(np.diff(ts)))})
    return pd.DataFrame(rows).set_index("ophys_experiment_id")
