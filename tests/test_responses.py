"""The stimulus-response table: known answers on a ramp, then the sample session."""
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from conftest import EXPERIMENTS
from course_utils.experiments import session_trace_array
from course_utils.responses import stimulus_response_table, window_means


@pytest.fixture
def ramp():
    """Two cells on a 10 Hz clock: y = t and y = 2 t."""
    ts = np.arange(0.0, 100.0, 0.1)
    return xr.DataArray(np.vstack([ts, 2 * ts]), dims=("cell", "time"),
                        coords={"cell": [101, 102], "time": ts,
                                "targeted_structure": ("cell", ["VISp", "VISl"])})


@pytest.fixture
def presentations():
    return pd.DataFrame({"start_time": [10.0, 20.0, 99.8],
                         "image_name": ["im000", "im106", "omitted"],
                         "is_change": [False, True, False],
                         "omitted": [False, False, True]},
                        index=pd.Index([5, 6, 7], name="stimulus_presentations_id"))


def test_known_answer_on_a_ramp(ramp, presentations):
    table = stimulus_response_table(ramp, presentations, response_window=(0.0, 0.5),
                                    baseline_window=(-0.5, 0.0))
    assert len(table) == 2 * 3
    assert list(table.columns[:4]) == ["cell_specimen_id", "stimulus_presentations_id",
                                       "mean_response", "baseline_response"]
    row = table.query("cell_specimen_id == 102 and stimulus_presentations_id == 6").iloc[0]
    # grid 20.0 .. 20.5 on y = 2t: mean 2 * 20.25; baseline 19.5 .. 20.0: 2 * 19.75
    assert row.mean_response == pytest.approx(40.5)
    assert row.baseline_response == pytest.approx(39.5)
    assert row.image_name == "im106" and row.is_change and row.targeted_structure == "VISl"
    late = table.query("stimulus_presentations_id == 7")       # runs past the recording
    assert late["mean_response"].isna().all() and late["baseline_response"].notna().all()


def test_input_not_modified(ramp, presentations):
    before = presentations.copy()
    stimulus_response_table(ramp, presentations)
    pd.testing.assert_frame_equal(presentations, before)


def test_errors(ramp, presentations):
    with pytest.raises(ValueError, match="'start_time' column"):
        stimulus_response_table(ramp, presentations.drop(columns="start_time"))
    with pytest.raises(ValueError, match="empty"):
        stimulus_response_table(ramp, presentations.iloc[:0])
    with pytest.raises(ValueError, match="duplicate index"):
        stimulus_response_table(ramp, pd.concat([presentations, presentations]))
    with pytest.raises(ValueError, match="empty response window"):
        stimulus_response_table(ramp, presentations, response_window=(0.5, 0.0))
    with pytest.raises(ValueError, match="no grid point"):
        window_means(ramp, (200.0, 201.0))


def test_sample_session_flashes(ophys_experiments):
    dff = session_trace_array(ophys_experiments, "dff")
    stim = ophys_experiments[EXPERIMENTS[0]].stimulus_presentations
    flashes = stim[stim["stimulus_block_name"] == "change_detection_behavior"]
    table = stimulus_response_table(dff, flashes)
    assert len(table) == 53 * len(flashes)
    assert table["cell_specimen_id"].nunique() == 53
    assert table["mean_response"].notna().all()
    assert set(table["image_name"].unique()) >= {"omitted", "im000"}
    assert table["image_name"].nunique() == 9              # eight images and "omitted"
