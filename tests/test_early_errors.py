"""Clear errors, early (issue 14, items 12-14): what can be checked without data is
checked before anything is loaded, and results too large for the machine are refused
with their size before any memory is taken."""
import numpy as np
import pytest
import xarray as xr

from course_utils import caches
from course_utils.alignment import event_triggered_responses, resample_traces
from course_utils.tools.cli import main
from course_utils.spikes import bin_spikes, window_edges


@pytest.fixture
def no_loading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the cache was opened before the arguments were checked")
    monkeypatch.setattr(caches, "open_ecephys_cache", refuse)


@pytest.mark.parametrize("extra, message", [
    (["--bin-size", "0.3"], "not a whole number of 0.3 s bins"),
    (["--bin-size", "1e9"], "bin_size 1000000000.0 s is longer than the window"),
    (["--bin-size", "-1"], "bin_size must be positive"),
    (["--pre", "-50", "--post", "10"], "empty window"),
    (["--max-gb", "0"], "--max-gb must be a positive number of gigabytes, got 0.0"),
    (["--max-gb", "nan"], "--max-gb must be a positive number of gigabytes, got nan"),
])
def test_bad_bins_and_windows_fail_before_loading(tmp_path, capsys, no_loading, extra, message):
    assert main(["bin-spikes", "--out", str(tmp_path / "x.nc"), "--quiet", *extra]) == 2
    assert message in capsys.readouterr().err                # and no_loading held
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, overwrite, message", [
    ("counts.csv", False, ".nc extension"),
    ("missing/counts.nc", False, "does not exist; create it first"),
    ("folder.nc", False, "is a folder; give a file name"),
    ("folder.nc", True, "is a folder; give a file name"),
])
def test_bad_output_paths_fail_before_loading(tmp_path, capsys, no_loading, name, overwrite,
                                              message):
    (tmp_path / "folder.nc").mkdir()
    argv = ["bin-spikes", "--out", str(tmp_path / name), "--quiet"]
    assert main(argv + (["--overwrite"] if overwrite else [])) == 2
    assert message in capsys.readouterr().err
    assert (tmp_path / "folder.nc").is_dir() and list((tmp_path / "folder.nc").iterdir()) == []


def test_spike_counts_too_large_are_refused_with_their_size():
    trains = {u: np.array([1.0, 2.0]) for u in range(318)}
    starts = np.arange(15) * 200.0 + 100
    with pytest.raises(ValueError, match=r"the spike counts would need 19.1 GB "
                                         r"\(15 x 1,000,000 x 318 values\), more than max_gb=2"):
        bin_spikes(trains, starts, 10.0, 90.0, 1e-4)
    small = bin_spikes(trains, starts, 10.0, 90.0, 1e-4, unit_ids=[0], max_gb=0.1)
    assert small.shape == (15, 1_000_000, 1)
    assert window_edges(10.0, 90.0, 100.0).tolist() == [0.0, 100.0]   # one bin is fine


def test_bin_spikes_too_large_is_refused_before_the_session_loads(tmp_path, capsys,
                                                                   monkeypatch):
    """1e-4 s bins over the 100 s window: 1,000,000 bins x 318 units is 1.3 GB for one
    epoch; the cache's units table gives the unit count, so no session is loaded."""
    from course_utils import ecephys

    def refuse(*args, **kwargs):
        raise AssertionError("the session was loaded before the size was checked")
    monkeypatch.setattr(ecephys, "load_ecephys_session", refuse)
    out = tmp_path / "x.nc"
    assert main(["bin-spikes", "--out", str(out), "--quiet", "--bin-size", "1e-4",
                 "--max-gb", "1"]) == 2
    err = capsys.readouterr().err
    assert "the spike counts of a single epoch would need 1.3 GB (1 x 1,000,000 x 318 " \
           "values), more than max_gb=1" in err and "--bin-size" in err
    assert list(tmp_path.iterdir()) == []
    # one epoch fits in the default 2 GB, so the session is loaded (the 15 epochs are
    # then refused by bin_spikes, tested above): the early check never over-refuses
    with pytest.raises(AssertionError, match="session was loaded"):
        main(["bin-spikes", "--out", str(out), "--quiet", "--bin-size", "1e-4"])


def test_alignment_and_resampling_too_large_are_refused_before_any_work(monkeypatch):
    from course_utils import alignment

    ts = np.arange(1000) * 0.1
    traces = xr.DataArray(np.zeros((3, ts.size)), dims=("cell", "time"), coords={"time": ts})
    real_grid = alignment.relative_grid

    def grid_only_if_small(t_before, t_after, rate):
        assert (t_after - t_before) * rate < 1e6, "the grid was built before the size check"
        return real_grid(t_before, t_after, rate)

    monkeypatch.setattr(alignment, "relative_grid", grid_only_if_small)
    with pytest.raises(ValueError, match=r"aligned responses would need .* GB .*lower "
                                         "sampling_rate"):
        event_triggered_responses(traces, [10.0, 20.0], -1.0, 1.5, sampling_rate=1e9)
    frames = traces.rename(time="frame").assign_coords(
        timestamps=(("cell", "frame"), np.tile(ts, (3, 1))))
    with pytest.raises(ValueError, match=r"resampled traces would need"):
        resample_traces(frames, 1e9)
    with pytest.raises(ValueError, match="positive number of Hz"):
        event_triggered_responses(traces, [10.0], -1.0, 1.5, sampling_rate=0.0)
    ok = event_triggered_responses(traces, [10.0, 20.0], -1.0, 1.5, sampling_rate=1e4)
    assert ok.shape == (3, 2, 25001)
