"""``check``: every check passes here, and each one fails on purpose with its fix."""
import json

import pytest

from course_utils.tools import check
from course_utils.tools.cli import main
from course_utils.sample.build import MARKER

from conftest import ECEPHYS_SESSION, EXPERIMENTS


def test_every_check_passes_in_the_course_environment(sample_path, capsys, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_SOURCE", raising=False)
    assert main(["check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [l.split()[:2] for l in lines[:-1]] == [
        ["ok", "python"], ["ok", "packages"], ["ok", "sample"], ["ok", "sessions"],
        ["ok", "nwb"], ["ok", "disk"], ["ok", "source"]]
    assert lines[-1] == "all checks passed"
    assert "Neuropixels sessions built on demand are ready" in lines[3]
    assert "dF/F of 3 cells x 48331 frames" in lines[4]


def test_a_failing_check_prints_its_fix_and_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_SAMPLE_DIR", str(tmp_path / "no_sample"))
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "FIX  sample" in out and "FIX: run python -m course_utils build-sample" in out
    assert out.splitlines()[-1] == "2 check(s) need a fix (see FIX above)"   # sample and nwb
    assert not (tmp_path / "no_sample").exists()                         # check changes nothing


@pytest.mark.parametrize("version, ok, text", [
    ((3, 11, 7), True, "Python 3.11.7"),
    ((3, 12, 1), True, "the Colab recipe"),
    ((3, 10, 4), False, "FIX: install Python 3.11"),
    ((3, 13, 0), False, "the course needs 3.11"),
])
def test_python_version(version, ok, text):
    result = check.check_python(version)
    assert result.ok is ok and text in result.line()


def test_a_wrong_or_missing_package_is_named_with_its_pin():
    installed = {"hdmf": "5.0.0", "pynwb": None}

    def version_of(name):
        if name in installed:
            if installed[name] is None:
                raise check.PackageNotFoundError(name)
            return installed[name]
        return check.installed_version(name)

    result = check.check_packages(version_of=version_of)
    assert not result.ok
    assert (f"2 differ from {check.pins_file().name}: hdmf 5.0.0 (pinned 3.14.6), "
            "pynwb missing (pinned 2.8.3)") in result.line()
    assert result.line().endswith("FIX: " + check.SETUP)


def test_python_312_uses_its_own_pins_when_the_course_has_them(tmp_path, monkeypatch):
    monkeypatch.setattr(check, "REPO_ROOT", tmp_path)
    (tmp_path / "requirements.txt").write_text("numpy==1.23.5\n")
    assert check.pins_file((3, 12)) == tmp_path / "requirements.txt"
    (tmp_path / "requirements-py312.txt").write_text("# Colab\nnumpy==1.26.4\n")
    assert check.pins_file((3, 12)) == tmp_path / "requirements-py312.txt"
    assert check.pins_file((3, 11)) == tmp_path / "requirements.txt"
    assert check.read_pins(tmp_path / "requirements-py312.txt") == {"numpy": "1.26.4"}
    (tmp_path / "requirements.txt").write_text("numpy>=1.2\n")
    with pytest.raises(ValueError, match="not an exact pin: 'numpy>=1.2'"):
        check.read_pins(tmp_path / "requirements.txt")


def test_sample_missing_foreign_or_outdated(tmp_path):
    missing = check.check_sample(tmp_path / "none")
    assert not missing.ok and "FIX: run python -m course_utils build-sample" in missing.line()
    foreign = tmp_path / "downloads"
    foreign.mkdir()
    (foreign / "manifest.json").write_text("{}")
    result = check.check_sample(foreign)
    assert "is not a course sample" in result.line() and "COURSE_SAMPLE_DIR" in result.fix
    old = tmp_path / "old"
    old.mkdir()
    (old / MARKER).write_text(json.dumps({"source_sha256": "0" * 64, "built": "2020-01-01"}))
    result = check.check_sample(old)
    assert not result.ok and "older than the recipe" in result.line()
    assert "it replaces the old one" in result.fix


def test_nwb_check_reads_the_sample_and_reports_unreadable_files(sample_path, tmp_path):
    assert check.check_nwb(sample_path).ok
    assert "build-sample first" in check.check_nwb(tmp_path).line()
    bad = tmp_path / "visual_behavior_ophys" / "v" / "behavior_ophys_experiments"
    bad.mkdir(parents=True)
    (bad / "behavior_ophys_experiment_1.nwb").write_bytes(b"not an HDF5 file")
    result = check.check_nwb(tmp_path)
    assert not result.ok
    assert "pynwb/hdmf cannot read behavior_ophys_experiment_1.nwb" in result.line()
    assert "pynwb 2.8.3 needs hdmf 3.x" in result.fix


def test_disk_space_for_the_sample(tmp_path, sample_path):
    assert check.check_disk(sample_path, free_bytes=lambda p: 0).ok      # built: needs nothing
    result = check.check_disk(tmp_path / "new", free_bytes=lambda p: 100_000_000)
    assert not result.ok
    assert "100 MB free" in result.line() and "needs 800 MB" in result.line()
    assert "COURSE_SAMPLE_DIR" in result.fix
    assert check.check_disk(tmp_path / "new", free_bytes=lambda p: 10**9).ok


def test_data_source_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_SOURCE", "allan")
    [result] = check.check_source()
    assert not result.ok and "Unknown data source 'allan'" in result.line()
    assert "unset COURSE_DATA_SOURCE" in result.fix
    monkeypatch.setenv("COURSE_DATA_SOURCE", "allen")

    def offline(url):
        raise ConnectionError("Cannot reach visual-behavior-ophys-data (name not resolved). More.")

    [result] = check.check_source(reachable=offline)
    assert not result.ok and "(name not resolved)" in result.line() and "More" not in result.line()
    assert "unset COURSE_DATA_SOURCE to use the offline sample" in result.fix


def test_real_data_source_reports_what_fetch_has_put_in_place(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_SOURCE", "allen")
    monkeypatch.setenv("COURSE_ALLEN_CACHE_DIR", str(tmp_path))
    source, fetched = check.check_source(reachable=lambda url: None)
    assert source.ok and not fetched.ok
    assert f"7 of 7 NWB files the notebooks use are not in {tmp_path}" in fetched.line()
    assert "FIX: run python -m course_utils fetch" in fetched.line()
    planes = tmp_path / "visual-behavior-ophys-1.1.0" / "behavior_ophys_experiments"
    planes.mkdir(parents=True)
    for e in EXPERIMENTS:
        (planes / f"behavior_ophys_experiment_{e}.nwb").touch()
    assert "1 of 7" in check.check_fetched().line()
    session = tmp_path / f"session_{ECEPHYS_SESSION}"
    session.mkdir()
    (session / f"session_{ECEPHYS_SESSION}.nwb").touch()
    assert check.check_fetched().ok
