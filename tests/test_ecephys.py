"""Neuropixels helpers on the offline sample: the walkthrough's figures, counts equal to
its loop, and the saved file round-trips."""
import numpy as np
import pytest

from conftest import ECEPHYS_SESSION
from course_utils.ecephys import (by_area, epoch_spike_counts, load_ecephys_session,
                                  stimulus_epochs, units_by_area)
from course_utils.export import load_netcdf, save_netcdf
from test_spikes import loop_counts

WALKTHROUGH_STARTS = [84.49618798636119, 1285.4833979863608, 1585.7344179863614,
                      2216.2614979863615, 2846.7885979863613, 3177.0646879863616,
                      4077.8343479863615, 4708.361437986361, 5398.938717986361,
                      5909.365397986361, 6690.017947986361, 7200.444627986361,
                      7710.871347986361, 8041.147407986361, 8611.624247986361]


@pytest.fixture(scope="module")
def counts(ecephys_session):
    return epoch_spike_counts(ecephys_session, pre=10, post=90, bin_size=0.1)


def test_units_and_epochs(ecephys_session):
    units = units_by_area(ecephys_session)
    assert units["area"].value_counts(sort=False).to_dict() == {
        "V1": 51, "LM": 30, "RL": 24, "AL": 51, "PM": 90, "AM": 72}
    assert list(units["area"].unique()) == ["V1", "LM", "RL", "AL", "PM", "AM"]
    assert set(units.index) <= set(ecephys_session.units.index)   # quality filters kept
    epochs = stimulus_epochs(ecephys_session)
    assert len(epochs) == 15
    np.testing.assert_allclose(epochs["start_time"], WALKTHROUGH_STARTS, atol=1e-6)
    assert not epochs["stimulus_name"].isin(["spontaneous", "invalid_presentation"]).any()


def test_counts_equal_the_walkthrough_loop(ecephys_session, counts):
    assert dict(counts.sizes) == {"epoch": 15, "time": 1000, "unit": 318}
    assert counts.attrs["session_id"] == ECEPHYS_SESSION
    v1 = by_area(counts)["V1"]
    assert v1.isel(epoch=0).shape == (1000, 51)        # the walkthrough's matrix
    starts = counts["start_time"].values
    units = list(v1["unit"].values[:10]) + list(by_area(counts)["AM"]["unit"].values[:10])
    for edges in (counts.attrs["bin_edges"], np.arange(0, 100.1, 0.1)):
        ours = epoch_spike_counts(ecephys_session, edges=edges).sel(unit=units)
        expected = loop_counts(ecephys_session.spike_times, units, starts, 10, 90, edges)
        np.testing.assert_array_equal(ours.values, expected)


def test_round_trip(tmp_path, counts):
    path = save_netcdf(counts, tmp_path / "counts.nc")
    back = load_netcdf(path)
    assert back.identical(counts)
    assert list(back.attrs["areas"]) == list(counts.attrs["areas"])
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_netcdf(counts, path)
    before = path.stat().st_mtime_ns
    save_netcdf(counts.isel(epoch=[0]), path, overwrite=True)
    assert load_netcdf(path).sizes["epoch"] == 1 and path.stat().st_mtime_ns >= before
    assert [p.name for p in tmp_path.iterdir()] == ["counts.nc"]     # no temp files left


def test_failed_save_leaves_no_file(tmp_path, counts, monkeypatch):
    import xarray as xr

    def boom(self, *args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(xr.Dataset, "to_netcdf", boom)     # save_netcdf writes a Dataset
    monkeypatch.setattr(xr.DataArray, "to_netcdf", boom)
    with pytest.raises(OSError, match="disk full"):
        save_netcdf(counts, tmp_path / "counts.nc")
    assert list(tmp_path.iterdir()) == []


def test_errors(ecephys_cache, ecephys_session, tmp_path, counts):
    with pytest.raises(KeyError, match="unknown Neuropixels session 123"):
        load_ecephys_session(ecephys_cache, 123)
    with pytest.raises(ValueError, match=r"no units in \['VISx'\].*areas with units"):
        units_by_area(ecephys_session, ["VISp", "VISx"])
    with pytest.raises(ValueError, match="more than once"):
        units_by_area(ecephys_session, ["VISp", "VISl", "VISp"])
    with pytest.raises(ValueError, match=".nc extension"):
        save_netcdf(counts, tmp_path / "counts.pkl")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_netcdf(counts, tmp_path / "missing" / "counts.nc")


def test_command_line_writes_the_same_file(tmp_path, counts, capsys):
    from course_utils.tools.cli import main
    out = tmp_path / "cli.nc"
    assert main(["bin-spikes", "--session", str(ECEPHYS_SESSION), "--bin-size", "0.1",
                 "--pre", "10", "--post", "90", "--out", str(out), "--quiet"]) == 0
    assert load_netcdf(out).identical(counts)
    assert "318 units" in capsys.readouterr().out
    assert main(["bin-spikes", "--out", str(out), "--quiet"]) == 2          # no overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main(["bin-spikes", "--session", "1", "--out", str(tmp_path / "x.nc"),
                 "--quiet"]) == 2
    assert "unknown Neuropixels session 1" in capsys.readouterr().err


def test_one_open_file_gives_allensdks_tables(ecephys_cache, monkeypatch):
    """Tables read through load_ecephys_session's one open NWB file (AllenSDK alone
    parses the file again for every table) are the ones AllenSDK gives without it."""
    import warnings

    import pynwb

    from course_utils.sample.more_sessions import ensure_more_sessions

    session_id = 754312389                       # a small one of the seven
    ensure_more_sessions([session_id], progress=False)        # built if it is not yet
    reads = []
    read = pynwb.NWBHDF5IO.read
    monkeypatch.setattr(pynwb.NWBHDF5IO, "read",
                        lambda self, *a, **k: reads.append(1) or read(self, *a, **k))
    ours = load_ecephys_session(ecephys_cache, session_id)
    units = ours.units                 # reads units, probes and channels: most of the file
    # one parse is AllenSDK's own check when it creates the session, one serves all tables
    assert len(reads) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = ecephys_cache.get_session_data(session_id)
        assert units.equals(plain.units)
    assert len(reads) > 3                        # one parse per table without the change
