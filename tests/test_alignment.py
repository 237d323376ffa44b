"""Event-triggered responses: known answers on synthetic traces, and the edge cases
where the peer (mindscope_utilities.event_triggered_response) goes wrong."""
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from course_utils.alignment import (event_triggered_responses, interpolate_at, mean_sem,
                                    relative_grid, responses_to_tidy)

RNG = np.random.default_rng(0)


@pytest.fixture
def recording():
    """3 cells on an irregular ~10 Hz clock from 5 s to about 105 s."""
    ts = 5.0 + np.cumsum(RNG.uniform(0.08, 0.12, size=1000))
    traces = RNG.normal(size=(3, ts.size))
    return ts, traces


def test_grid_is_anchored_on_the_event():
    grid = relative_grid(-1.0, 1.5, 10.0)
    assert grid.size == 26 and grid[0] == -1.0 and grid[-1] == 1.5
    assert 0.0 in grid
    grid = relative_grid(-0.25, 0.31, 10.0)           # edges between grid points
    np.testing.assert_allclose(grid, [-0.2, -0.1, 0.0, 0.1, 0.2, 0.3])


def test_values_equal_np_interp_everywhere_inside(recording):
    ts, traces = recording
    events = np.sort(RNG.uniform(ts[0] + 2, ts[-1] - 2, size=50))
    r = event_triggered_responses(traces, events, -1.0, 1.5, timestamps=ts,
                                  sampling_rate=30.0)
    assert r.dims == ("cell", "event", "time") and r.shape == (3, 50, 76)
    absolute = events[:, None] + r["time"].values[None, :]
    for c in range(3):
        expected = np.interp(absolute, ts, traces[c])
        np.testing.assert_allclose(r.values[c], expected, rtol=0, atol=1e-12)


def test_window_edges_use_frames_outside_the_window():
    # The peer slices the frames inside the window and interpolates only among them,
    # so grid points before the first frame in the window repeat that frame's value.
    ts = np.arange(0.0, 10.0, 1.0)
    trace = ts * 2.0                                   # a ramp: exact answers known
    r = event_triggered_responses(trace, [4.5], -1.0, 1.0, timestamps=ts,
                                  sampling_rate=2.0)
    np.testing.assert_allclose(r["time"], [-1.0, -0.5, 0.0, 0.5, 1.0])
    # absolute times 3.5, 4, 4.5, 5, 5.5 -> ramp 7, 8, 9, 10, 11 (the peer: 8, 8, 9, 10, 10)
    np.testing.assert_allclose(r.values[0], [7.0, 8.0, 9.0, 10.0, 11.0])


def test_points_outside_the_recording_are_nan_not_wrapped_or_held():
    ts = np.arange(0.0, 10.0, 1.0)
    trace = np.arange(10.0) + 100                     # last value 109, first 100
    r = event_triggered_responses(trace, [0.5, 9.0], -2.0, 2.0, timestamps=ts,
                                  sampling_rate=1.0)
    # event 0.5: absolute -1.5 .. 2.5; before 0 s there is no data (not 109, not 100)
    np.testing.assert_allclose(r.values[0], [np.nan, np.nan, 100.5, 101.5, 102.5])
    # event 9.0: absolute 7 .. 11; after 9 s there is no data (not 109)
    np.testing.assert_allclose(r.values[1], [107.0, 108.0, 109.0, np.nan, np.nan])


def test_event_outside_recording_nan_or_raise(recording):
    ts, traces = recording
    events = np.array([ts[0] - 0.5, 50.0, ts[-1] + 0.01])
    r = event_triggered_responses(traces, events, -1.0, 1.0, timestamps=ts)
    assert np.isnan(r.values[:, 0]).all() and np.isnan(r.values[:, 2]).all()
    assert not np.isnan(r.values[:, 1]).any()
    with pytest.raises(ValueError, match="2 event.*outside the recording"):
        event_triggered_responses(traces, events, -1.0, 1.0, timestamps=ts,
                                  events_outside="raise")


def test_inputs_are_not_modified(recording):
    ts, traces = recording
    events = pd.Series([20.0, 30.0, 40.0], index=[7, 8, 9])    # unnamed index
    ts_copy, traces_copy, events_copy = ts.copy(), traces.copy(), events.copy()
    r = event_triggered_responses(traces, events, -1.0, 1.0, timestamps=ts)
    assert events.index.name is None                  # the peer renames it in place
    pd.testing.assert_series_equal(events, events_copy)
    np.testing.assert_array_equal(ts, ts_copy)
    np.testing.assert_array_equal(traces, traces_copy)
    assert list(r["event"].values) == [7, 8, 9]
    np.testing.assert_array_equal(r["event_time"], [20.0, 30.0, 40.0])


def test_dataarray_input_keeps_cell_labels(recording):
    ts, traces = recording
    da = xr.DataArray(traces.astype(np.float32), dims=("cell", "time"),
                      coords={"cell": [11, 12, 13], "time": ts,
                              "targeted_structure": ("cell", ["VISp", "VISp", "VISl"])},
                      name="dff", attrs={"units": "dF/F"})
    r = event_triggered_responses(da, [30.0, 60.0], -0.5, 0.5)
    assert list(r["cell"].values) == [11, 12, 13]
    assert list(r["targeted_structure"].values) == ["VISp", "VISp", "VISl"]
    assert r.name == "dff" and r.attrs["units"] == "dF/F"
    assert r.attrs["sampling_rate"] == pytest.approx(1 / np.median(np.diff(ts)))
    assert da.attrs == {"units": "dF/F"}


def test_exact_sample_beside_nan_keeps_its_value():
    ts = np.arange(5.0)
    trace = np.array([0.0, 1.0, np.nan, 3.0, 4.0])
    out = interpolate_at(trace, ts, np.array([1.0, 1.5, 3.0, 3.5]))
    expected = np.interp([1.0, 1.5, 3.0, 3.5], ts, trace)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_allclose(out[~np.isnan(out)], expected[~np.isnan(expected)])


@pytest.mark.parametrize("kwargs, message", [
    ({"t_before": 1.0, "t_after": 1.0}, "empty window"),
    ({"t_before": 1.5, "t_after": -1.0}, "must be smaller"),
    ({"t_before": 0.01, "t_after": 0.05}, "holds no sample"),
    ({"t_before": float("nan"), "t_after": 1.0}, "finite number"),
])
def test_bad_windows(recording, kwargs, message):
    ts, traces = recording
    with pytest.raises(ValueError, match=message):
        event_triggered_responses(traces, [50.0], timestamps=ts, **kwargs)


def test_bad_inputs(recording):
    ts, traces = recording
    with pytest.raises(ValueError, match="strictly increasing"):
        event_triggered_responses(traces, [50.0], -1, 1, timestamps=ts[::-1])
    with pytest.raises(ValueError, match="real numbers"):
        event_triggered_responses(traces.astype(str), [50.0], -1, 1, timestamps=ts)
    with pytest.raises(ValueError, match="real numbers"):
        event_triggered_responses(traces, ["50"], -1, 1, timestamps=ts)
    with pytest.raises(ValueError, match="1000 timestamps"):
        event_triggered_responses(traces.T, [50.0], -1, 1, timestamps=ts)
    with pytest.raises(ValueError, match="empty"):
        event_triggered_responses(traces, [], -1, 1, timestamps=ts)
    with pytest.raises(ValueError, match="NaN"):
        event_triggered_responses(traces, [50.0, np.nan], -1, 1, timestamps=ts)
    with pytest.raises(ValueError, match="pass timestamps"):
        event_triggered_responses(traces, [50.0], -1, 1)
    with pytest.raises(ValueError, match="events_outside"):
        event_triggered_responses(traces, [50.0], -1, 1, timestamps=ts, events_outside="x")


def test_mean_sem_and_tidy_known_answer():
    r = xr.DataArray(np.array([[[1.0, 2.0], [3.0, 4.0], [5.0, np.nan]]]),
                     dims=("cell", "event", "time"),
                     coords={"cell": [9], "event": [0, 1, 2], "time": [0.0, 0.1]}, name="dff")
    s = mean_sem(r)
    np.testing.assert_allclose(s["mean"].values, [[3.0, 3.0]])
    np.testing.assert_allclose(s["sem"].values, [[2.0 / np.sqrt(3), np.sqrt(2) / np.sqrt(2)]])
    np.testing.assert_array_equal(s["n"].values, [[3, 2]])
    tidy = responses_to_tidy(r)
    assert list(tidy.columns) == ["cell", "event", "time", "dff"] and len(tidy) == 6
    assert tidy.loc[(tidy.event == 1) & (tidy.time == 0.1), "dff"].item() == 4.0
