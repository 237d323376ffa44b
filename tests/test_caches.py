"""Choosing the data source: sample by default, real data with one setting, failing
fast and helpfully without a network."""
import socket
import subprocess
import sys

import pytest

from course_utils import caches, config


def test_default_source_is_the_sample(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_SOURCE", raising=False)
    assert config.data_source() == "sample"
    monkeypatch.setenv("COURSE_DATA_SOURCE", "Allen")
    assert config.data_source() == "allen"
    assert config.data_source("sample") == "sample"      # the argument wins


def test_unknown_source_is_rejected_with_the_choices(monkeypatch):
    monkeypatch.setenv("COURSE_DATA_SOURCE", "s3")
    with pytest.raises(ValueError, match="COURSE_DATA_SOURCE=sample"):
        caches.open_ophys_cache()


@pytest.mark.parametrize("opener", [caches.open_ophys_cache, caches.open_ecephys_cache])
def test_real_data_without_network_fails_fast_and_points_to_the_sample(opener, tmp_path,
                                                                        monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(socket, "create_connection", offline)
    with pytest.raises(ConnectionError, match="source='sample'"):
        opener(source="allen", cache_dir=tmp_path / "allen")


def test_real_data_never_goes_into_the_sample_folder(monkeypatch):
    monkeypatch.setattr(caches, "_check_reachable", lambda host: None)
    with pytest.raises(ValueError, match="offline sample's folder"):
        caches.open_ophys_cache(source="allen", cache_dir=config.sample_dir())


def test_missing_session_in_the_sample_fails_without_deleting_anything(ecephys_cache,
                                                                       sample_path):
    before = sorted(p.name for p in (sample_path / "visual_coding_neuropixels").iterdir())
    with pytest.raises(ConnectionError, match="holds the project tables and Neuropixels session 756029989"):
        ecephys_cache.get_session_data(715093703)      # real session, not in the sample
    after = sorted(p.name for p in (sample_path / "visual_coding_neuropixels").iterdir())
    assert [p for p in after if p.startswith("session_")] == \
        [p for p in before if p.startswith("session_")]


def test_command_line_reports_an_up_to_date_sample(sample_path):
    out = subprocess.run([sys.executable, "-m", "course_utils", "build-sample"],
                         capture_output=True, text=True, check=True)
    assert "up to date" in out.stdout
