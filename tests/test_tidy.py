"""The tidy trace table on the offline sample: the walkthrough's figures, content equal
to a plain per-cell build, compact dtypes that survive concatenation."""
import numpy as np
import pandas as pd
import pytest

from conftest import EXPERIMENTS, OPHYS_SESSION
from course_utils.experiments import load_experiments, session_trace_array, trace_array
from course_utils.tidy import DEFAULT_METADATA, concat_tidy, tidy_traces


@pytest.fixture(scope="module")
def table(ophys_experiments):
    return tidy_traces(ophys_experiments)


def _reference(experiment):
    """The straightforward build: one frame per valid cell, then concat (the content
    mindscope_utilities.build_tidy_cell_df produces)."""
    parts = []
    cells = experiment.cell_specimen_table.query("valid_roi")
    for csid, row in cells.iterrows():
        parts.append(pd.DataFrame({
            "timestamps": experiment.ophys_timestamps,
            "dff": experiment.dff_traces.loc[csid, "dff"],
            "events": experiment.events.loc[csid, "events"],
            "filtered_events": experiment.events.loc[csid, "filtered_events"],
            "cell_roi_id": row["cell_roi_id"], "cell_specimen_id": csid}))
    out = pd.concat(parts, ignore_index=True)
    for key in DEFAULT_METADATA:
        out[key] = experiment.metadata[key]
    return out


def _assert_same_table(a, b):
    """Column by column (pandas' assert_frame_equal is very slow on 2.5M categoricals)."""
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    assert a.index.equals(b.index)
    for col in a.columns:
        x, y = a[col], b[col]
        assert x.dtype == y.dtype, col
        if isinstance(x.dtype, pd.CategoricalDtype):
            assert list(x.cat.categories) == list(y.cat.categories), col
            x, y = x.cat.codes, y.cat.codes
        np.testing.assert_array_equal(x.to_numpy(), y.to_numpy(), err_msg=col)


def test_walkthrough_figures(table):
    assert len(table) == 2_561_543
    assert table["cell_specimen_id"].nunique() == 53
    assert table["ophys_experiment_id"].nunique() == 6
    assert set(table["ophys_experiment_id"].unique()) == set(EXPERIMENTS)
    assert set(table["ophys_session_id"].unique()) == {OPHYS_SESSION}
    assert table.index.is_unique and isinstance(table.index, pd.RangeIndex)
    assert table["timestamps"].iloc[0] == pytest.approx(10.52216)
    per_cell = table.groupby("cell_specimen_id", observed=True).size()
    assert (per_cell == 48_331).all()


def test_content_equals_per_cell_build(table, ophys_experiments):
    offset = 0
    for exp_id, exp in ophys_experiments.items():
        ref = _reference(exp)
        ours = table.iloc[offset:offset + len(ref)].reset_index(drop=True)
        offset += len(ref)
        for col in ("timestamps", "dff", "events"):        # stored as float32/64: exact
            np.testing.assert_array_equal(ours[col].to_numpy(), ref[col].to_numpy())
        # filtered_events are float64 in the files: float32 keeps 7 significant digits
        np.testing.assert_allclose(ours["filtered_events"], ref["filtered_events"],
                                   rtol=1e-6, atol=1e-12)
        for col in ("cell_roi_id", "cell_specimen_id", "ophys_experiment_id",
                    "ophys_session_id", "imaging_depth"):
            np.testing.assert_array_equal(ours[col].astype(np.int64), ref[col].astype(np.int64))
        for col in ("targeted_structure", "equipment_name", "cre_line", "mouse_id", "sex"):
            assert (ours[col].astype(str) == ref[col].astype(str)).all(), col
    assert offset == len(table)


def test_compact_dtypes(table):
    assert table["timestamps"].dtype == np.float64
    for col in ("dff", "events", "filtered_events"):
        assert table[col].dtype == np.float32
    for col in ("cell_roi_id", "cell_specimen_id", "ophys_experiment_id", "targeted_structure",
                "cre_line", "sex", "mouse_id"):
        assert isinstance(table[col].dtype, pd.CategoricalDtype), col
    assert table["imaging_depth"].dtype == np.int16
    assert table.memory_usage(deep=True).sum() < 85e6       # about 31 bytes per row


def test_concat_keeps_categoricals(ophys_experiments):
    parts = [tidy_traces(ophys_experiments[e]) for e in EXPERIMENTS[:2]]
    assert pd.concat(parts)["cell_specimen_id"].dtype != "category"   # what pandas does
    joined = concat_tidy(parts)
    assert isinstance(joined["cell_specimen_id"].dtype, pd.CategoricalDtype)
    assert joined["cell_specimen_id"].nunique() == 3 + 14
    assert len(joined) == 17 * 48_331 and joined.index.is_unique
    both = tidy_traces({e: ophys_experiments[e] for e in EXPERIMENTS[:2]})
    _assert_same_table(joined, both)


def test_tidy_errors(ophys_experiments):
    one = ophys_experiments[EXPERIMENTS[0]]
    with pytest.raises(ValueError, match="unknown trace"):
        tidy_traces(one, traces=["corrected_fluorescence"])
    with pytest.raises(KeyError, match="no metadata \\['brain_area'\\]"):
        tidy_traces(one, metadata=["brain_area"])
    with pytest.raises(TypeError, match="not an AllenSDK BehaviorOphysExperiment"):
        tidy_traces({1: "experiment"})
    with pytest.raises(ValueError, match="no experiments"):
        tidy_traces({})
    with pytest.raises(ValueError, match="columns"):
        concat_tidy([tidy_traces(one), tidy_traces(one, traces=["dff"])])


def test_unknown_ids_are_named(ophys_cache):
    with pytest.raises(KeyError, match="unknown ophys experiment id\\(s\\) \\[123\\]"):
        load_experiments(ophys_cache, [EXPERIMENTS[0], 123])
    from course_utils.experiments import load_session_experiments
    with pytest.raises(KeyError, match="unknown ophys session id"):
        load_session_experiments(ophys_cache, 42)


def test_trace_arrays(ophys_experiments):
    one = trace_array(ophys_experiments[EXPERIMENTS[1]], "events")
    assert one.dims == ("cell", "time") and one.shape == (14, 48_331)
    assert set(one["ophys_experiment_id"].values) == {EXPERIMENTS[1]}
    whole = session_trace_array(ophys_experiments, "dff")
    assert whole.dims == ("cell", "frame") and whole.shape == (53, 48_331)
    assert whole["timestamps"].dims == ("cell", "frame")
    assert list(np.unique(whole["targeted_structure"].values)) == ["VISl", "VISp"]
    with pytest.raises(ValueError, match="unknown trace"):
        trace_array(ophys_experiments[EXPERIMENTS[1]], "spikes")


def test_session_traces_plane_by_plane(ophys_cache, table, ophys_experiments, tmp_path,
                                       monkeypatch):
    """load_session_traces, called through course_utils.reuse (as notebook 02 does):
    the stored result reads back identical without loading any plane."""
    from course_utils import reuse
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    held = dict(list(ophys_experiments.items())[:3])      # planes the caller already has
    read = []
    real_get = type(ophys_cache).get_behavior_ophys_experiment
    monkeypatch.setattr(type(ophys_cache), "get_behavior_ophys_experiment",
                        lambda self, i: read.append(i) or real_get(self, i))
    ds = reuse.session_traces(ophys_cache, OPHYS_SESSION, loaded=held)
    assert sorted(read) == sorted(set(ophys_experiments) - set(held))   # only the others
    monkeypatch.setattr(reuse, "load_session_traces",
                        lambda *a, **k: pytest.fail("the planes were loaded again"))
    assert reuse.session_traces(ophys_cache, OPHYS_SESSION).identical(ds)
    assert dict(ds.sizes) == {"cell": 53, "frame": 48_331}
    assert set(ds.data_vars) == {"dff", "events", "filtered_events"}
    whole = session_trace_array(ophys_experiments, "dff")
    np.testing.assert_array_equal(ds["dff"].values, whole.values)
    np.testing.assert_array_equal(ds["timestamps"].values, whole["timestamps"].values)
    # each cell carries its own plane's clock
    for exp_id, exp in ophys_experiments.items():
        rows = ds["ophys_experiment_id"].values == exp_id
        assert (ds["imaging_plane_group"].values[rows] == exp.metadata["imaging_plane_group"]).all()
        np.testing.assert_array_equal(ds["timestamps"].values[rows],
                                      np.broadcast_to(exp.ophys_timestamps, (rows.sum(), 48_331)))
    from_ds = tidy_traces(ds)
    _assert_same_table(from_ds, table)
    with pytest.raises(KeyError, match="lacks \\['brain_area'\\]"):
        tidy_traces(ds, metadata=["brain_area"])
