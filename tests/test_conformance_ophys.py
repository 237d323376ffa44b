"""The offline Visual Behavior 2P sample against the real schema (release v1.1.0).

Each object in ``tests/real_schema/visual_behavior_ophys.json`` is its own test: the sample
object, read through AllenSDK, must show the real columns, index name, dtype families and
known values. Further tests check the value conventions stored with the entries (each with
its source in the JSON). Everything uses the session-scoped ``ophys_cache`` and
``ophys_experiments`` fixtures, so no NWB file is opened twice.
"""
from __future__ import annotations

import math
import uuid

import numpy as np
import pandas as pd
import pytest

try:
    from schema_check import frame_differences, load_schema, mapping_differences
except ImportError:  # run from the repository root as a package
    from tests.schema_check import frame_differences, load_schema, mapping_differences

SCHEMA = load_schema("visual_behavior_ophys")
FIRST = 854759890  # first plane of session 854060305 (tests/conftest.py EXPERIMENTS[0])

# the six planes of session 854060305 and their plane groups (task brief / lead)
PLANE_GROUPS = {int(k): v for k, v in
                SCHEMA["experiment.metadata"]["conventions"]
                ["session_854060305_plane_groups"]["value"].items()}
PLANE_GROUP_COUNT = SCHEMA["experiment.metadata"]["conventions"][
    "session_854060305_plane_groups"]["count"]
SESSION_TIMING = SCHEMA["experiment.ophys_timestamps"]["conventions"]["session_854060305"]["value"]

EXPERIMENT_FRAMES = sorted(k for k, v in SCHEMA.items()
                           if k.startswith("experiment.") and v["kind"] == "frame")
CACHE_FRAMES = sorted(k for k in SCHEMA if k.startswith("cache."))
TABLES_WITH_COUNTS = [k for k in CACHE_FRAMES if "n_rows" in SCHEMA[k].get("conventions", {})]


# Differences known and kept (found in issue 12, documented in data/README.md): strict
# xfail, so a fix makes them fail until this list is updated, and a new difference is
# never hidden.
OLD_TABLES = ("known difference: the shipped release tables are AllenSDK's test copies "
              "(4,787 / 704 / 1,941 rows), not release v1.1.0; see data/README.md")
KNOWN_OPEN = {
    "frame": {},
    "cache": {"cache.get_behavior_session_table": OLD_TABLES,
              "cache.get_ophys_experiment_table": OLD_TABLES},
    "size": {"cache.get_behavior_session_table": OLD_TABLES,
             "cache.get_ophys_experiment_table": OLD_TABLES,
             "cache.get_ophys_session_table": OLD_TABLES},
}


def _params(names, known: dict):
    return [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=known[n]))
            if n in known else n for n in names]


def _attr(name: str) -> str:
    return name.split(".", 1)[1]


def _per_experiment(experiments, check) -> list[str]:
    """Run ``check(experiment) -> list[str]`` on every plane; messages say which plane
    (identical messages from several planes are listed once, with all their planes)."""
    seen: dict[str, list[int]] = {}
    for eid, experiment in experiments.items():
        for message in check(experiment):
            seen.setdefault(message, []).append(eid)
    return [f"{msg} (experiments {ids})" for msg, ids in seen.items()]


# --- the schema file itself ----------------------------------------------------------------

def test_schema_entries_are_cited():
    for name, entry in SCHEMA.items():
        assert entry["kind"] in {"frame", "mapping", "sequence"}, name
        source = entry["source"]
        assert source["repo"] and source["path"], name
        assert "cell" in source and "allensdk_version" in source, name
        if source["path"].endswith(".ipynb"):
            assert len(source["commit"]) == 40, name
        if not entry.get("certain", True):
            assert entry.get("uncertain_because"), name


# --- one test per object ---------------------------------------------------------------------

@pytest.mark.parametrize("name", _params(EXPERIMENT_FRAMES, KNOWN_OPEN["frame"]))
def test_experiment_frame_matches_real(name, ophys_experiments):
    entry = SCHEMA[name]
    problems = _per_experiment(
        ophys_experiments, lambda e: frame_differences(getattr(e, _attr(name)), entry))
    assert not problems, f"{name}: " + "; ".join(problems)


@pytest.mark.parametrize("name", _params(CACHE_FRAMES, KNOWN_OPEN["cache"]))
def test_cache_table_matches_real(name, ophys_cache):
    entry = SCHEMA[name]
    table = getattr(ophys_cache, _attr(name))()
    problems = frame_differences(table, entry)
    assert not problems, f"{name}: " + "; ".join(problems)


def test_experiment_metadata_matches_real(ophys_experiments):
    entry = SCHEMA["experiment.metadata"]
    problems = _per_experiment(ophys_experiments,
                               lambda e: mapping_differences(e.metadata, entry))
    assert not problems, "experiment.metadata: " + "; ".join(problems)


def test_ophys_timestamps_match_real(ophys_experiments):
    entry = SCHEMA["experiment.ophys_timestamps"]

    def check(e):
        ts = e.ophys_timestamps
        out = []
        if not isinstance(ts, np.ndarray):
            out.append(f"type {type(ts).__name__}, real numpy.ndarray")
        elif ts.ndim != 1:
            out.append(f"{ts.ndim}-D, real 1-D")
        if str(np.asarray(ts).dtype) != entry["dtype"]:
            out.append(f"dtype {np.asarray(ts).dtype}, real {entry['dtype']}")
        return out

    problems = _per_experiment(ophys_experiments, check)
    assert not problems, "experiment.ophys_timestamps: " + "; ".join(problems)


# --- value conventions -----------------------------------------------------------------------

def test_dff_rows_are_float64(ophys_experiments):
    problems = _per_experiment(ophys_experiments, lambda e: sorted(
        {f"dff row dtype {np.asarray(r).dtype}, real float64"
         for r in e.dff_traces["dff"] if np.asarray(r).dtype != np.float64}))
    assert not problems, "; ".join(problems)


def test_events_rows_are_float64(ophys_experiments):
    def check(e):
        out = set()
        for col in ("events", "filtered_events"):
            for r in e.events[col]:
                if np.asarray(r).dtype != np.float64:
                    out.add(f"{col} row dtype {np.asarray(r).dtype}, believed float64")
        return sorted(out)

    problems = _per_experiment(ophys_experiments, check)
    assert not problems, "; ".join(problems)


def test_trace_rows_as_long_as_ophys_timestamps(ophys_experiments):
    def check(e):
        n = len(e.ophys_timestamps)
        out = set()
        for table, col in (("dff_traces", "dff"), ("events", "events")):
            lengths = {len(r) for r in getattr(e, table)[col]}
            if lengths != {n}:
                out.add(f"{table}.{col} lengths {sorted(lengths)}, ophys_timestamps {n}")
        return sorted(out)

    problems = _per_experiment(ophys_experiments, check)
    assert not problems, "; ".join(problems)


def test_roi_masks_are_2d_bool(ophys_experiments):
    def check(e):
        masks = [np.asarray(m) for m in e.cell_specimen_table["roi_mask"]]
        bad = {(m.dtype.name, m.ndim) for m in masks if m.dtype != bool or m.ndim != 2}
        return [f"roi_mask dtype/ndim {b}, real bool 2-D" for b in sorted(bad)]

    problems = _per_experiment(ophys_experiments, check)
    assert not problems, "; ".join(problems)


def test_response_latency_nan_on_aborted_trials(ophys_experiments):
    trials = ophys_experiments[FIRST].trials
    aborted = trials[trials["aborted"]]
    assert len(aborted) > 0, "no aborted trials (real sessions have them)"
    latency = aborted["response_latency"].astype(float)
    assert latency.isna().all(), (
        f"response_latency on aborted trials: {latency[latency.notna()].head().tolist()}, "
        "real NaN")
    response = aborted["response_time"].astype(float)
    assert response.isna().all(), "response_time on aborted trials should be NaN"
    assert (aborted["change_frame"] == -99).all(), "change_frame on aborted trials, real -99"


def test_response_latency_inf_without_lick(ophys_experiments):
    trials = ophys_experiments[FIRST].trials
    no_lick = trials["lick_times"].map(len) == 0
    eligible = (trials["go"] | trials["catch"] | trials["auto_rewarded"]) & ~trials["aborted"]
    rows = trials[eligible & no_lick]
    assert len(rows) > 0, "no go/catch trial without licks (real sessions have misses)"
    latency = rows["response_latency"].astype(float)
    assert np.isinf(latency).all(), (
        f"response_latency on go/catch trials without licks: "
        f"{latency[~np.isinf(latency)].head().tolist()}, real inf")


def test_response_latency_on_hits_is_first_lick_minus_change(ophys_experiments):
    trials = ophys_experiments[FIRST].trials
    hits = trials[trials["hit"]]
    assert len(hits) > 0, "no hit trials"
    latency = hits["response_latency"].astype(float)
    expected = hits["response_time"].astype(float) - hits["change_time"].astype(float)
    assert np.isfinite(latency).all(), "response_latency on hits should be finite"
    np.testing.assert_allclose(latency, expected, atol=1e-6)


def test_is_image_novel_missing_on_omitted_flashes(ophys_experiments):
    sp = ophys_experiments[FIRST].stimulus_presentations
    omitted = sp[sp["omitted"].fillna(False).astype(bool)]
    assert len(omitted) > 0, "no omitted flashes"
    names = set(omitted["image_name"].astype(str))
    assert names == {"omitted"}, f"image_name on omitted flashes {sorted(names)}, real 'omitted'"
    novel = omitted["is_image_novel"]
    assert novel.isna().all(), (
        f"is_image_novel on omitted flashes: {novel[novel.notna()].unique().tolist()}, "
        "real <NA>")
    assert isinstance(novel.dtype, pd.BooleanDtype), (
        f"is_image_novel dtype {novel.dtype}, real pandas 'boolean' (<NA> when missing)")


def test_eye_tracking_populated_with_bool_likely_blink(ophys_experiments):
    def check(e):
        et = e.eye_tracking
        out = []
        if len(et) == 0:
            out.append("eye_tracking is empty")
        if not pd.api.types.is_bool_dtype(et["likely_blink"].dtype):
            out.append(f"likely_blink dtype {et['likely_blink'].dtype}, real bool")
        return out

    problems = _per_experiment(ophys_experiments, check)
    assert not problems, "; ".join(problems)


def test_metadata_value_types(ophys_experiments):
    def check(e):
        m = e.metadata
        out = []
        if not isinstance(m.get("behavior_session_uuid"), uuid.UUID):
            out.append(f"behavior_session_uuid is {type(m.get('behavior_session_uuid')).__name__}"
                       ", real uuid.UUID")
        if not isinstance(m.get("mouse_id"), str):
            out.append(f"mouse_id is {type(m.get('mouse_id')).__name__}, real str")
        if not isinstance(m.get("driver_line"), list):
            out.append(f"driver_line is {type(m.get('driver_line')).__name__}, real list")
        doa = m.get("date_of_acquisition")
        if getattr(doa, "tzinfo", None) is None:
            out.append("date_of_acquisition is not timezone-aware")
        return out

    problems = _per_experiment(ophys_experiments, check)
    assert not problems, "; ".join(problems)


def test_imaging_plane_groups(ophys_experiments):
    problems = []
    for eid, e in ophys_experiments.items():
        m = e.metadata
        group, count = m.get("imaging_plane_group"), m.get("imaging_plane_group_count")
        if not isinstance(group, (int, np.integer)) or isinstance(group, bool):
            problems.append(f"{eid}: imaging_plane_group {group!r} is not an int")
        elif group != PLANE_GROUPS[eid]:
            problems.append(f"{eid}: imaging_plane_group {group}, expected {PLANE_GROUPS[eid]}")
        if count != PLANE_GROUP_COUNT:
            problems.append(f"{eid}: imaging_plane_group_count {count!r}, "
                            f"expected {PLANE_GROUP_COUNT}")
        elif isinstance(group, (int, np.integer)) and not 0 <= group < count:
            problems.append(f"{eid}: group {group} outside 0..{count - 1}")
    assert not problems, "; ".join(problems)


def test_plane_group_timestamps(ophys_experiments):
    by_group: dict[int, list[np.ndarray]] = {}
    for eid, e in ophys_experiments.items():
        by_group.setdefault(PLANE_GROUPS[eid], []).append(np.asarray(e.ophys_timestamps))
    problems = []
    for g, series in sorted(by_group.items()):
        if any(len(s) != SESSION_TIMING["frames_per_plane"] for s in series):
            problems.append(f"group {g}: frame counts {[len(s) for s in series]}, "
                            f"expected {SESSION_TIMING['frames_per_plane']}")
        if not all(np.array_equal(series[0], s) for s in series[1:]):
            problems.append(f"group {g}: planes of one group have different timestamps")
    first = {g: s[0] for g, s in by_group.items()}
    if 0 in first and not math.isclose(first[0][0], SESSION_TIMING["group0_first_s"],
                                       abs_tol=1e-5):
        problems.append(f"group 0 starts at {first[0][0]!r}, expected "
                        f"{SESSION_TIMING['group0_first_s']}")
    groups = sorted(first)
    for a in groups:
        for b in groups:
            if a < b and np.intersect1d(first[a], first[b]).size:
                problems.append(f"groups {a} and {b} share timestamps")
    n = min(len(s) for s in first.values())
    if len(groups) > 1 and n:
        labels = np.concatenate([np.full(n, g) for g in groups])
        times = np.concatenate([first[g][:n] for g in groups])
        order = labels[np.argsort(times, kind="stable")]
        cycle = order[:len(groups)]
        if sorted(cycle) != groups or not np.array_equal(order, np.tile(cycle, n)):
            problems.append("plane groups are not interleaved frame by frame "
                            f"(first labels {order[:2 * len(groups)].tolist()})")
    assert not problems, "; ".join(problems)


def test_stimulus_templates_dtypes(ophys_experiments):
    templates = ophys_experiments[FIRST].stimulus_templates
    unwarped = {np.asarray(a).dtype.kind for a in templates["unwarped"]}
    warped = {np.asarray(a).dtype.kind for a in templates["warped"]}
    assert unwarped == {"f"}, f"unwarped dtype kinds {unwarped}, real float"
    assert warped <= {"u", "i"}, f"warped dtype kinds {warped}, real integer"


@pytest.mark.parametrize("name", _params(TABLES_WITH_COUNTS, KNOWN_OPEN["size"]))
def test_cache_table_size(name, ophys_cache):
    conv = SCHEMA[name]["conventions"]
    table = getattr(ophys_cache, _attr(name))()
    problems = []
    if len(table) != conv["n_rows"]["value"]:
        problems.append(f"{len(table)} rows, real {conv['n_rows']['value']}")
    if table.shape[1] != conv["n_columns"]["value"]:
        problems.append(f"{table.shape[1]} columns, real {conv['n_columns']['value']}")
    assert not problems, f"{name}: " + "; ".join(problems)


@pytest.mark.parametrize("name", ["cache.get_behavior_session_table",
                                  "cache.get_ophys_session_table",
                                  "cache.get_ophys_experiment_table"])
def test_cache_dates_are_utc(name, ophys_cache):
    dates = getattr(ophys_cache, _attr(name))()["date_of_acquisition"]
    tz = getattr(dates.dtype, "tz", None)
    assert tz is not None and str(tz) == "UTC", f"{name}.date_of_acquisition dtype {dates.dtype}"
