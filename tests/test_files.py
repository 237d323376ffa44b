"""Files the course writes (issue 14, items 4, 7 and 15): what is saved loads back
identical, new files get the mode a plain open() gives under the umask, rewritten files
keep theirs, and Ctrl-C during a save stops it without leaving a file."""
import os
import shutil
import signal
import stat
from contextlib import contextmanager

import nbformat
import numpy as np
import pytest
import xarray as xr

from course_utils.tools import colab
from course_utils._fs import atomic_path, current_umask
from course_utils.tools.authoring import write_notebook
from course_utils.export import load_netcdf, save_netcdf

from test_colab import SCRIPTS


@contextmanager
def umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------------ item 4: round trip
def test_a_data_array_with_one_element_lists_and_bools_loads_back_identical(tmp_path):
    counts = xr.DataArray(np.arange(6, dtype="int32").reshape(2, 3), name="spike_counts",
                          dims=("epoch", "unit"), coords={"unit": [101, 102, 103]},
                          attrs={"areas": ["VISp"], "bin_edges": np.linspace(0, 1, 3),
                                 "pre": [10.0], "shuffled": False, "session_id": 756029989})
    counts["unit"].attrs["notes"] = ["one"]
    before = counts.copy(deep=True)
    back = load_netcdf(save_netcdf(counts, tmp_path / "counts.nc"))
    assert isinstance(back, xr.DataArray) and back.identical(counts)
    assert back.attrs["areas"] == ["VISp"] and back.attrs["shuffled"] is False
    assert counts.identical(before), "saving changed the caller's object"


def test_a_one_variable_dataset_stays_a_dataset_with_its_attributes(tmp_path):
    ds = xr.Dataset({"rate": ("time", np.arange(4.0))}, coords={"time": np.arange(4) * 0.1},
                    attrs={"areas": ["VISp"], "session_id": 1})
    ds["rate"].attrs["units"] = "Hz"
    back = load_netcdf(save_netcdf(ds, tmp_path / "rate.nc"))
    assert isinstance(back, xr.Dataset) and back.identical(ds)


def test_what_netcdf_would_confuse_is_refused(tmp_path):
    with pytest.raises(ValueError, match="name save_netcdf uses"):
        save_netcdf(xr.DataArray([1], dims="x", attrs={"course_utils_layout": "mine"}),
                    tmp_path / "a.nc")
    with pytest.raises(ValueError, match="named 'x' like one of its dimensions"):
        save_netcdf(xr.DataArray([1], dims="x", name="x"), tmp_path / "b.nc")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", [[], ["a", 1], {"a": 1}, [["nested"]]])
def test_attributes_netcdf_cannot_hold_unchanged_are_refused(tmp_path, value):
    da = xr.DataArray([1, 2], dims="x", attrs={"bad": value})
    with pytest.raises(TypeError, match="attribute 'bad'"):
        save_netcdf(da, tmp_path / "x.nc")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- item 7: modes
@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_files_get_the_mode_open_gives(tmp_path, mask, expected):
    with umask(mask):
        assert current_umask() == mask
        nc = save_netcdf(xr.DataArray([1.0], dims="x"), tmp_path / "a.nc")
        nb = tmp_path / "a.ipynb"
        write_notebook(nbformat.v4.new_notebook(), nb)
        with atomic_path(tmp_path / "plain.txt") as tmp:
            tmp.write_text("x")
        with open(tmp_path / "reference.txt", "w"):
            pass
    reference = _mode(tmp_path / "reference.txt")
    assert reference == expected
    assert [_mode(p) for p in (nc, nb, tmp_path / "plain.txt")] == [reference] * 3


def test_rewritten_files_keep_their_mode(tmp_path, monkeypatch):
    path = tmp_path / "a.nc"
    save_netcdf(xr.DataArray([1.0], dims="x"), path)
    path.chmod(0o640)
    save_netcdf(xr.DataArray([2.0], dims="x"), path, overwrite=True)
    assert _mode(path) == 0o640 and float(load_netcdf(path)[0]) == 2.0
    script = tmp_path / SCRIPTS[0].name                     # colab-cells on a tracked script
    shutil.copy(SCRIPTS[0], script)
    script.chmod(0o644)
    monkeypatch.setattr(colab, "GITHUB_REPOSITORY", "someone/fork")   # forces a rewrite
    with umask(0o077):
        assert colab.update_notebook(script) is True
    assert _mode(script) == 0o644


# -------------------------------------------------------------------- item 15: Ctrl-C
def test_ctrl_c_during_a_save_stops_it_and_leaves_no_file(tmp_path, monkeypatch):
    """h5py can swallow a KeyboardInterrupt raised inside its C code: simulated by a write
    that catches it and completes anyway. The save must still stop, with no file."""
    real = xr.Dataset.to_netcdf

    def swallowing_write(self, path, *args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            pass                                      # what a C library may do
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(xr.Dataset, "to_netcdf", swallowing_write)
    # as in an interactive session (a background job, e.g. the 3.12 stage, ignores SIGINT)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            save_netcdf(xr.DataArray([1.0], dims="x"), tmp_path / "a.nc")
        assert list(tmp_path.iterdir()) == []
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_process_that_ignores_ctrl_c_keeps_ignoring_it(tmp_path):
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with atomic_path(tmp_path / "a.txt") as tmp:
            os.kill(os.getpid(), signal.SIGINT)       # ignored, as the process asked
            tmp.write_text("done")
        assert (tmp_path / "a.txt").read_text() == "done"
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
