"""Sessions with several clocks (mesoscope imaging plane groups): every helper that puts
cells of several planes on one time axis interpolates each plane on its own clock.
Oracles are plain ``np.interp`` on each cell's own timestamps."""
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from course_utils.alignment import event_triggered_responses, resample_traces
from course_utils.experiments import _stack_planes, plane_clocks
from course_utils.responses import stimulus_response_table
from course_utils.tidy import tidy_traces

RNG = np.random.default_rng(7)
INTERVAL = 0.09322
GROUPS = 3


def _session(frames=(400, 400, 399), cells=(2, 3, 2)):
    """A fake mesoscope session: plane p in group p, group g's clock = every 3rd tick of
    one sync line from tick g (AllenSDK's rule); the last plane is one frame short."""
    sync = np.round(10.52216 + np.arange(max(frames) * GROUPS) * INTERVAL / GROUPS, 5)
    parts, clocks, truth = [], [], []
    cell_id = 1000
    for group, (n_frames, n_cells) in enumerate(zip(frames, cells)):
        ts = sync[group::GROUPS][:n_frames]
        # a smooth signal of absolute time: the same function for every cell, so any
        # error of clock would show as a value error
        values = np.stack([np.sin(0.7 * ts + c) + 0.1 * ts for c in range(n_cells)])
        ids = np.arange(cell_id, cell_id + n_cells)
        cell_id += n_cells
        parts.append(xr.Dataset(
            {"dff": (("cell", "frame"), values.astype(np.float32)),
             "events": (("cell", "frame"), (values > 0.9).astype(np.float32)),
             "filtered_events": (("cell", "frame"), values.astype(np.float32))},
            coords={"cell": ids, "cell_roi_id": ("cell", ids + 5),
                    "ophys_experiment_id": ("cell", np.full(n_cells, 900 + group)),
                    "imaging_plane_group": ("cell", np.full(n_cells, group)),
                    "targeted_structure": ("cell", np.repeat("VISp", n_cells)),
                    "imaging_depth": ("cell", np.full(n_cells, 100 * (group + 1)))}))
        clocks.append(ts)
        truth.extend((ts, v) for v in values.astype(np.float32))
    return _stack_planes(parts, clocks), truth


def test_stacked_planes_keep_their_own_clocks():
    ds, truth = _session()
    assert ds["dff"].dims == ("cell", "frame") and ds.sizes == {"cell": 7, "frame": 400}
    assert ds["timestamps"].dims == ("cell", "frame")
    for i, (ts, _) in enumerate(truth):
        np.testing.assert_array_equal(ds["timestamps"].values[i, :ts.size], ts)
        assert np.isnan(ds["timestamps"].values[i, ts.size:]).all()
        assert np.isnan(ds["dff"].values[i, ts.size:]).all()
    np.testing.assert_array_equal(ds["n_frames"].values, [400] * 5 + [399] * 2)
    clocks = plane_clocks(ds)
    assert list(clocks.index) == [900, 901, 902]
    assert clocks["n_frames"].tolist() == [400, 400, 399]
    # groups are interleaved: a third of a frame apart
    np.testing.assert_allclose(np.diff(clocks["first_frame_s"]), INTERVAL / 3, atol=1e-5)
    np.testing.assert_allclose(clocks["frame_interval_s"], INTERVAL, atol=1e-5)


def test_event_aligned_values_equal_np_interp_on_each_cells_own_clock():
    ds, truth = _session()
    events = pd.Series(np.sort(RNG.uniform(12.0, 45.0, 20)),
                       index=pd.Index(np.arange(20) + 100, name="stimulus_presentations_id"))
    r = event_triggered_responses(ds["dff"], events, -1.0, 1.5, sampling_rate=30.0)
    assert r.dims == ("cell", "event", "time") and r.shape == (7, 20, 76)
    assert list(r["ophys_experiment_id"].values) == [900] * 2 + [901] * 3 + [902] * 2
    absolute = events.to_numpy()[:, None] + r["time"].values[None, :]
    for i, (ts, v) in enumerate(truth):
        np.testing.assert_allclose(r.values[i], np.interp(absolute, ts, v), atol=1e-12)
    # a single shared clock would have been wrong by up to 2/3 of a frame
    wrong = np.interp(absolute, truth[0][0][:399], truth[-1][1])
    assert np.abs(wrong - r.values[-1]).max() > 1e-3


def test_default_rate_is_the_planes_rate_and_events_past_a_short_plane_are_nan():
    ds, truth = _session()
    last_of_short_plane = truth[-1][0][-1]
    events = np.array([20.0, last_of_short_plane + 0.01])
    r = event_triggered_responses(ds["dff"], events, -0.5, 0.5)
    assert r.attrs["sampling_rate"] == pytest.approx(1 / INTERVAL, rel=1e-3)
    # the second event is inside the long planes' recording, outside the short plane's
    assert np.isnan(r.values[-1, 1]).all()
    assert not np.isnan(r.values[0, 1, r["time"].values <= 0]).any()
    with pytest.raises(ValueError, match="outside the recording"):
        event_triggered_responses(ds["dff"], events, -0.5, 0.5, events_outside="raise")


def test_resampled_values_equal_np_interp_on_the_stated_grid():
    ds, truth = _session()
    out = resample_traces(ds["dff"], sampling_rate=20.0)
    assert out.dims == ("cell", "time")
    grid = out["time"].values
    # default span: what every cell covers, so no NaN
    assert grid[0] == pytest.approx(max(ts[0] for ts, _ in truth))
    assert grid[-1] <= min(ts[-1] for ts, _ in truth)
    np.testing.assert_allclose(np.diff(grid), 1 / 20.0)
    for i, (ts, v) in enumerate(truth):
        np.testing.assert_allclose(out.values[i], np.interp(grid, ts, v), atol=1e-12)
    # an explicit grid past a short plane's end gives NaN there, not a held value
    wide = resample_traces(ds["dff"], 10.0, start=11.0, stop=truth[0][0][-1])
    assert np.isnan(wide.values[-1, -1]) and not np.isnan(wide.values[0, -1])
    assert "linear interpolation" in wide.attrs["resampling"]


def test_tidy_rows_keep_their_own_timestamps_and_skip_padding():
    ds, truth = _session()
    table = tidy_traces(ds, metadata=("ophys_experiment_id", "imaging_plane_group",
                                      "imaging_depth"))
    assert len(table) == sum(ts.size for ts, _ in truth) == 5 * 400 + 2 * 399
    assert not table["timestamps"].isna().any()
    for cell, (ts, v) in zip(ds["cell"].values, truth):
        rows = table[table["cell_specimen_id"] == cell]
        np.testing.assert_array_equal(rows["timestamps"].to_numpy(), ts)
        np.testing.assert_array_equal(rows["dff"].to_numpy(), v)
    firsts = table.groupby("imaging_plane_group", observed=True)["timestamps"].first()
    assert firsts.is_monotonic_increasing and firsts.nunique() == 3


def test_stimulus_response_table_uses_each_cells_clock():
    ds, truth = _session()
    flashes = pd.DataFrame({"start_time": [15.0, 25.0, 35.0], "image_name": ["a", "b", "a"]},
                           index=pd.Index([7, 8, 9], name="stimulus_presentations_id"))
    table = stimulus_response_table(ds["dff"], flashes, sampling_rate=50.0)
    grid = np.arange(0, 26) / 50.0          # response window 0..0.5 s at 50 Hz
    for i, (ts, v) in enumerate(truth):
        cell = ds["cell"].values[i]
        got = table.loc[table["cell_specimen_id"] == cell, "mean_response"].to_numpy()
        want = [np.interp(t0 + grid, ts, v).mean() for t0 in flashes["start_time"]]
        np.testing.assert_allclose(got, want, atol=1e-9)


def test_clear_errors():
    ds, _ = _session()
    broken = ds["dff"].copy()
    stamps = broken["timestamps"].values.copy()
    stamps[0, 10] = stamps[0, 9]          # not increasing
    broken = broken.assign_coords(timestamps=(("cell", "frame"), stamps))
    with pytest.raises(ValueError, match="strictly increasing"):
        event_triggered_responses(broken, [20.0], -1.0, 1.0)
    stamps[0, 10] = np.nan                 # a gap inside, not padding at the end
    broken = broken.assign_coords(timestamps=(("cell", "frame"), stamps))
    with pytest.raises(ValueError, match="NaN before the end"):
        resample_traces(broken)
    with pytest.raises(ValueError, match="'frame' dimension with a 'timestamps'"):
        event_triggered_responses(ds["dff"].drop_vars("timestamps"), [20.0], -1.0, 1.0)
    with pytest.raises(ValueError, match="empty grid"):
        resample_traces(ds["dff"], start=40.0, stop=30.0)
    with pytest.raises(TypeError, match="DataArray"):
        resample_traces(ds["dff"].values)
