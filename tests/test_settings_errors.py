"""One clear line for a wrong setting or a file the data source does not hold (issue 14,
item 14), instead of a traceback or a silent surprise."""
import os

import pandas as pd
import pytest

from course_utils.tools.cli import main
from course_utils.config import allen_cache_dir, sample_dir
from course_utils.experiments import load_experiments


def test_empty_folder_settings_are_refused(monkeypatch):
    monkeypatch.setenv("COURSE_ALLEN_CACHE_DIR", "")
    with pytest.raises(ValueError, match="COURSE_ALLEN_CACHE_DIR is set but empty; unset it"):
        allen_cache_dir()
    monkeypatch.setenv("COURSE_SAMPLE_DIR", "  ")
    with pytest.raises(ValueError, match="COURSE_SAMPLE_DIR is set but empty"):
        sample_dir()


def test_a_sample_dir_that_is_a_file_or_foreign_or_unwritable_gets_one_line(
        tmp_path, monkeypatch, capsys):
    afile = tmp_path / "sample.txt"
    afile.write_text("x")
    monkeypatch.setenv("COURSE_SAMPLE_DIR", str(afile))
    assert main(["build-sample", "--quiet"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    foreign = tmp_path / "downloads"
    foreign.mkdir()
    (foreign / "data.nwb").write_text("real data")
    monkeypatch.setenv("COURSE_SAMPLE_DIR", str(foreign))
    assert main(["run-notebooks"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is not a course sample" in err
    assert "Traceback" not in err and (foreign / "data.nwb").read_text() == "real data"
    if os.geteuid() != 0:             # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        monkeypatch.setenv("COURSE_SAMPLE_DIR", str(locked / "sample"))
        assert main(["build-sample", "--quiet"]) == 2
        assert "is not writable" in capsys.readouterr().err


def test_an_experiment_without_a_file_in_this_cache_is_named():
    class Cache:
        def get_ophys_experiment_table(self):
            return pd.DataFrame({"file_id": [0, -999]},
                                index=pd.Index([854759890, 951980471], name="ophys_experiment_id"))

        def get_behavior_ophys_experiment(self, i):
            raise AssertionError("AllenSDK's 'file_id: -999' error reached the learner")

    with pytest.raises(KeyError, match=r"\[951980471\] are in the release table but this "
                                       r"cache holds no file for them; it has files for "
                                       r"\[854759890\]"):
        load_experiments(Cache(), [951980471])
