"""Tidy tables of ophys traces: one row per (cell, frame), every trace type a column.

>>> from course_utils.caches import open_ophys_cache
>>> from course_utils.experiments import load_session_experiments
>>> experiments = load_session_experiments(open_ophys_cache(), 854060305)
>>> table = tidy_traces(experiments)
>>> len(table), table["cell_specimen_id"].nunique()
(2561543, 53)

Dtypes are chosen for size without losing anything a learner reads:

* ``timestamps`` float64 (seconds; float32 would round 4,000 s to about 0.5 ms);
* ``dff``, ``events``, ``filtered_events`` float32: the NWB files hold float64, and
  float32 keeps 7 significant digits, more than any table or plot shows (dF/F noise is
  in the second or third digit) at half the memory;
* ids and text labels categorical (one small integer code per row instead of a
  64-bit integer or a Python string), with the same categories for every experiment,
  so the columns stay categorical after joining experiments (see :func:`concat_tidy`);
* ``imaging_depth`` int16 (micrometres; it is a quantity, so it stays numeric).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from pandas.api.types import union_categoricals

from .experiments import TRACES, cell_table, trace_matrix

#: Experiment metadata added to every row by default (the walkthrough's choice, plus the
#: imaging plane group, which says which clock a row's timestamp comes from).
DEFAULT_METADATA = ("ophys_experiment_id", "imaging_plane_group", "ophys_session_id",
                    "targeted_structure", "imaging_depth", "equipment_name", "cre_line",
                    "mouse_id", "sex")
#: Metadata kept numeric rather than categorical, with their dtype.
NUMERIC_METADATA = {"imaging_depth": np.int16, "age_in_days": np.int16}
ID_COLUMNS = ("cell_roi_id", "cell_specimen_id")


def _as_experiments(experiments) -> list[tuple[object, object]]:
    """(label, experiment) pairs from one experiment, a mapping or a sequence."""
    if isinstance(experiments, Mapping):
        items = list(experiments.items())
    elif isinstance(experiments, Sequence) and not isinstance(experiments, str):
        items = [(i, e) for i, e in enumerate(experiments)]
    else:
        items = [(0, experiments)]
    if not items:
        raise ValueError("no experiments given")
    for label, exp in items:
        # look on the class: AllenSDK computes these properties on every access
        missing = [a for a in ("ophys_timestamps", "cell_specimen_table", "dff_traces",
                               "events", "metadata") if not hasattr(type(exp), a)]
        if missing:
            raise TypeError(f"experiments[{label!r}] is a {type(exp).__name__}, not an "
                            f"AllenSDK BehaviorOphysExperiment (it lacks {missing}); load it "
                            "with cache.get_behavior_ophys_experiment(id)")
    return items


def _categorical(per_block_values: list, block_sizes: np.ndarray) -> pd.Categorical:
    """A categorical column where block i (``block_sizes[i]`` rows) holds one value."""
    categories = pd.Index(per_block_values).unique()
    codes = categories.get_indexer(per_block_values)
    dtype = np.int8 if len(categories) < 2**7 else np.int16 if len(categories) < 2**15 \
        else np.int32
    out = np.empty(int(np.sum(block_sizes)), dtype=dtype)
    start = 0
    for code, size in zip(codes, block_sizes):      # a few slice fills, no np.repeat
        out[start:start + size] = code
        start += size
    return pd.Categorical.from_codes(out, categories=categories)


def tidy_traces(experiments, metadata: Sequence[str] = DEFAULT_METADATA,
                traces: Sequence[str] = tuple(TRACES), exclude_invalid_rois: bool = True
                ) -> pd.DataFrame:
    """Every cell's traces of one or many experiments as one tidy table.

    Parameters
    ----------
    experiments : an AllenSDK ``BehaviorOphysExperiment``, or a mapping
        ``{ophys_experiment_id: experiment}`` (as from
        :func:`course_utils.experiments.load_session_experiments`), or a list of them;
        or the Dataset of :func:`course_utils.experiments.load_session_traces` (which
        needs far less memory for a whole session).
    metadata : keys of ``experiment.metadata`` to add as columns.
    traces : trace columns, any of ``"dff"``, ``"events"``, ``"filtered_events"``.
    exclude_invalid_rois : keep only ROIs with ``valid_roi`` True.

    Returns
    -------
    DataFrame with n_rows = sum over experiments of n_cells x n_frames and a unique
    RangeIndex. ``timestamps`` is each row's own frame time: planes of different imaging
    plane groups have different clocks, so the same frame number has a different time
    in each group. Columns: ``timestamps`` (s), the trace columns, ``cell_roi_id``,
    ``cell_specimen_id``, then the metadata. Rows run cell by cell, frames in time
    order, experiments in the order given. Cells missing a trace get NaN there.
    """
    unknown = [t for t in traces if t not in TRACES]
    if unknown or not traces:
        raise ValueError(f"unknown trace column(s) {unknown}; choose from {list(TRACES)}")
    if isinstance(experiments, xr.Dataset):
        return _tidy_from_dataset(experiments, metadata, traces)
    items = _as_experiments(experiments)
    for label, exp in items:
        absent = [k for k in metadata if k not in exp.metadata]
        if absent:
            raise KeyError(f"experiment {label!r} has no metadata {absent}; available: "
                           f"{sorted(exp.metadata)}")

    cells = [cell_table(exp, exclude_invalid_rois) for _, exp in items]
    n_frames = np.array([len(exp.ophys_timestamps) for _, exp in items])
    n_cells = np.array([len(c) for c in cells])
    rows = n_cells * n_frames
    total = int(rows.sum())
    starts = np.concatenate([[0], np.cumsum(rows)])

    # Fill preallocated columns in place, one experiment at a time: no per-cell frames,
    # no concatenation, no intermediate copies.
    columns: dict[str, np.ndarray] = {"timestamps": np.empty(total, np.float64)}
    for t in traces:
        columns[t] = np.empty(total, np.float32)
    for k, ((_, exp), cell_rows) in enumerate(zip(items, cells)):
        block = slice(starts[k], starts[k + 1])
        shape = (n_cells[k], n_frames[k])
        columns["timestamps"][block].reshape(shape)[:] = np.asarray(exp.ophys_timestamps)
        tables = {}
        for t in traces:
            attribute = TRACES[t][0]
            if attribute not in tables:
                tables[attribute] = getattr(exp, attribute)
            trace_matrix(exp, t, cell_rows.index, out=columns[t][block].reshape(shape),
                         table=tables[attribute])

    frame = pd.DataFrame(columns, copy=False)
    cell_rows = np.repeat(n_frames, n_cells)          # rows per cell, cells in order
    frame["cell_roi_id"] = _categorical(
        np.concatenate([c["cell_roi_id"].to_numpy() for c in cells]).tolist(), cell_rows)
    frame["cell_specimen_id"] = _categorical(
        np.concatenate([c.index.to_numpy() for c in cells]).tolist(), cell_rows)
    for key in metadata:
        values = [exp.metadata[key] for _, exp in items]
        if key in NUMERIC_METADATA:
            frame[key] = np.repeat(np.asarray(values, dtype=NUMERIC_METADATA[key]), rows)
        else:
            frame[key] = _categorical(values, rows)
    return frame


def _tidy_from_dataset(ds: xr.Dataset, metadata: Sequence[str], traces: Sequence[str]
                       ) -> pd.DataFrame:
    """The tidy table of a session Dataset of traces with per-cell metadata.

    ``ds`` has dims (cell, frame) and each cell's own frame times in the 2-D coordinate
    ``timestamps`` (:func:`course_utils.experiments.load_session_traces`), or dims
    (cell, time) with one clock for all cells. Each row keeps its own cell's timestamp;
    frames past the end of a shorter plane (NaN timestamps) are left out.
    """
    missing = [t for t in traces if t not in ds] + \
        [k for k in ("cell_roi_id", *metadata) if k not in ds.coords]
    dims = ds[traces[0]].dims if not missing else ()
    per_cell_clock = dims == ("cell", "frame") and "timestamps" in ds.coords
    if missing or not (per_cell_clock or dims == ("cell", "time")):
        raise KeyError(f"the Dataset lacks {missing} or is not (cell, frame) with "
                       "'timestamps' or (cell, time); build it with "
                       "course_utils.experiments.load_session_traces")
    n_cells = ds.sizes["cell"]
    if per_cell_clock:
        stamps = ds["timestamps"].transpose("cell", "frame").values
        keep = ~np.isnan(stamps)                       # drop the padding of short planes
        rows_per_cell = keep.sum(axis=1)
        all_kept = bool(keep.all())
        columns = {"timestamps": stamps.ravel() if all_kept else stamps[keep]}
    else:
        n_frames = ds.sizes["time"]
        rows_per_cell = np.full(n_cells, n_frames)
        all_kept = True
        columns = {"timestamps": np.empty(n_cells * n_frames, np.float64)}
        columns["timestamps"].reshape(n_cells, n_frames)[:] = ds["time"].values
    for t in traces:
        values = ds[t].transpose(*dims).values.astype(np.float32, copy=False)
        columns[t] = values.ravel() if all_kept else values[keep]
    frame = pd.DataFrame(columns, copy=False)
    frame["cell_roi_id"] = _categorical(ds["cell_roi_id"].values.tolist(), rows_per_cell)
    frame["cell_specimen_id"] = _categorical(ds["cell"].values.tolist(), rows_per_cell)
    for key in metadata:
        values = ds[key].values
        if key in NUMERIC_METADATA:
            frame[key] = np.repeat(values.astype(NUMERIC_METADATA[key]), rows_per_cell)
        else:
            frame[key] = _categorical(values.tolist(), rows_per_cell)
    return frame


def concat_tidy(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate tidy tables, keeping categorical columns categorical.

    ``pd.concat`` turns a categorical column into a plain (object or integer) one as
    soon as two tables' categories differ; here categories are united first. The result
    has a fresh RangeIndex.
    """
    if not tables:
        raise ValueError("no tables to concatenate")
    first = list(tables[0].columns)
    for i, t in enumerate(tables[1:], 1):
        if list(t.columns) != first:
            raise ValueError(f"table {i} has columns {list(t.columns)}, expected {first}")
    out = {}
    for col in first:
        parts = [t[col] for t in tables]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            out[col] = union_categoricals([p.array for p in parts])
        else:
            out[col] = np.concatenate([p.to_numpy() for p in parts])
    return pd.DataFrame(out)
