"""``python -m course_utils build-sample`` at the command line: reuses a current sample,
passes --force and --quiet through, prints the build report, and refuses a foreign folder
with exit code 2 (the build itself is tested in test_sample_build.py)."""
import os
import subprocess
import sys

import pytest

from course_utils import sample as sample_module
from course_utils.tools.cli import main
from course_utils.sample import BuildReport, read_marker


def test_a_current_sample_is_reused(sample_path, capsys, monkeypatch):
    monkeypatch.setenv("COURSE_SAMPLE_DIR", str(sample_path))
    before = read_marker(sample_path)
    assert main(["build-sample", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"offline sample is up to date at {sample_path}" in out
    assert f"(built {before['built']}; use --force to rebuild)" in out
    assert read_marker(sample_path) == before


def test_force_and_quiet_reach_the_builder_and_the_report_is_printed(monkeypatch, capsys, tmp_path):
    calls = []
    report = BuildReport(path=str(tmp_path), seconds=61.5, megabytes=298.3,
                         peak_megabytes=2275.2, files=21, source_sha256="0" * 64)

    def fake_build(force, progress, hashes):
        calls.append((force, progress, hashes))
        return report

    monkeypatch.setattr(sample_module, "build_sample", fake_build)
    assert main(["build-sample", "--force", "--quiet"]) == 0
    assert calls == [(True, False, True)]      # the command compares hashes
    out = capsys.readouterr().out.splitlines()
    assert out == report.lines()
    assert "build time     61.5 s   (budget 180 s)" in out[1]


def test_a_foreign_folder_is_refused_with_exit_code_2(tmp_path):
    foreign = tmp_path / "my_downloads"
    foreign.mkdir()
    (foreign / "keep.nwb").write_bytes(b"real data")
    run = subprocess.run([sys.executable, "-m", "course_utils", "build-sample", "--quiet"],
                         env={**os.environ, "COURSE_SAMPLE_DIR": str(foreign)},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.startswith(f"error: {foreign} exists and is not a course sample")
    assert "Traceback" not in run.stderr
    assert [p.name for p in foreign.iterdir()] == ["keep.nwb"]


def test_build_workers_fit_the_machine(monkeypatch):
    """Two worker processes only where 2 CPUs and 3 GB are there; Binder's 1 CPU / 2 GB
    gets one. COURSE_BUILD_WORKERS overrides, and a bad value is refused."""
    from course_utils.sample import build
    monkeypatch.delenv("COURSE_BUILD_WORKERS", raising=False)
    for cpus, memory, workers in ((2, 24.0, 2), (1, 24.0, 1), (2, 2.0, 1), (8, 3.0, 2)):
        monkeypatch.setattr(build, "_cpus", lambda: cpus)
        monkeypatch.setattr(build, "_memory_gb", lambda: memory)
        assert build.build_workers() == workers, (cpus, memory)
    monkeypatch.setenv("COURSE_BUILD_WORKERS", "1")
    monkeypatch.setattr(build, "_cpus", lambda: 8)
    assert build.build_workers() == 1
    monkeypatch.setenv("COURSE_BUILD_WORKERS", "many")
    with pytest.raises(ValueError, match="expected 1 or 2"):
        build.build_workers()


def test_one_worker_builds_in_this_process_two_in_worker_processes():
    """With one worker the jobs run here, one after the other (a single pool worker
    would run beside this process holding every queued job: 1.9 GB peak measured, against
    1.55 GB inline, on Binder's 2 GB); with two, in two other processes."""
    import os
    from course_utils.sample import build
    with build._jobs(1) as submit:
        assert submit(os.getpid, ()).get() == os.getpid()
        assert submit(divmod, (7, 2)).get() == (3, 1)
    with build._jobs(2) as submit:
        pids = {submit(os.getpid, ()).get() for _ in range(4)}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_machine_readings_are_plausible():
    from course_utils.sample import build
    assert 1 <= build._cpus() <= (os.cpu_count() or 1)
    assert 0.5 < build._memory_gb()
