"""Many sessions on Dask (course_utils.many_sessions, ``bin-sessions``), against real
schedulers and workers: a LocalCluster of 2 processes, and an external cluster the test
starts as separate ``dask scheduler`` / ``dask worker`` processes on 127.0.0.1. Results
must be identical to running the sessions one by one in this process; a killed worker
leaves every file complete; a rerun does no work; a damaged session file is reported by
id while the rest complete."""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from course_utils.export import load_netcdf
from course_utils.many_sessions import (bin_session, bin_sessions, default_workers,
                                        population_rates, session_file)
from course_utils.sample.build import CACHE_BOOKKEEPING, MARKER

distributed = pytest.importorskip("distributed")

SESSIONS = [754312389, 719161530]        # two small sessions built on demand


@pytest.fixture(scope="module")
def serial(sample_path, tmp_path_factory):
    """The reference: each session's job run in this process, one after the other."""
    out = tmp_path_factory.mktemp("serial")
    for session_id in SESSIONS:
        bin_session(session_id, out)
    return out


def _assert_same_files(folder: Path, reference: Path, session_ids=SESSIONS) -> None:
    for session_id in session_ids:
        got = load_netcdf(session_file(folder, session_id))
        want = load_netcdf(session_file(reference, session_id))
        assert got.identical(want), session_id
    assert not list(folder.glob(".*.tmp")), "no temporary file may be left"


@pytest.fixture(scope="module")
def external_cluster(sample_path, tmp_path_factory):
    """A scheduler and a nanny with 2 worker processes, each its own OS process."""
    folder = tmp_path_factory.mktemp("cluster")
    scheduler_file = folder / "scheduler.json"
    # `dask scheduler` / `dask worker`, run by this interpreter (the Python 3.12 / Colab
    # recipe installs packages into a folder, without the `dask` script)
    dask = [sys.executable, "-m", "dask"]
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(600):
            if scheduler_file.exists() and scheduler_file.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        procs.append(subprocess.Popen(
            [*dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard",
             "--host", "127.0.0.1", "--local-directory", str(folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with distributed.Client(address) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_a_local_cluster_of_two_processes_matches_the_serial_run(serial, tmp_path):
    # One session here: two sessions on two workers are compared with the serial run by
    # the external cluster's test below, and by notebook 06 on a local cluster.
    session_ids = SESSIONS[:1]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        pids = set(client.run(os.getpid).values())
        results = bin_sessions(client, session_ids, tmp_path, progress=False)
    assert len(pids) == 2 and os.getpid() not in pids          # real worker processes
    assert results == {i: str(session_file(tmp_path.resolve(), i)) for i in session_ids}
    _assert_same_files(tmp_path, serial, session_ids)
    # a rerun does no work: no task runs, no file is written again
    stamps = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as tasks:
            again = bin_sessions(client, session_ids, tmp_path, progress=False)
    assert again == results and tasks.data == []
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == stamps


def test_the_command_on_an_external_cluster_matches_the_serial_run(serial, external_cluster,
                                                                   tmp_path):
    out = tmp_path / "binned"
    done = subprocess.run(
        [sys.executable, "-m", "course_utils", "bin-sessions", "--sessions",
         *map(str, SESSIONS), "--out", str(out), "--scheduler", external_cluster, "--quiet"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"connecting to the Dask cluster at {external_cluster}" in done.stdout
    assert "2/2 sessions done" in done.stdout
    _assert_same_files(out, serial)
    combined = load_netcdf(out / "population_rates.nc")
    expected = population_rates([session_file(serial, i) for i in SESSIONS])
    assert combined.identical(expected)
    assert combined.dims == ("session", "area", "epoch", "time")
    assert combined.sizes == {"session": 2, "area": 6, "epoch": 15, "time": 1000}
    # the combined rate is the mean count per unit and bin over 0.1 s
    counts = load_netcdf(session_file(serial, SESSIONS[0]))
    v1 = counts.isel(unit=(counts["area"] == "V1").values).mean("unit") / 0.1
    assert abs(float(combined.sel(session=SESSIONS[0], area="V1").mean())
               - float(v1.mean())) < 1e-9


def test_a_worker_killed_mid_session_still_ends_with_every_file_complete(
        serial, external_cluster, tmp_path):
    killed = []

    def kill_a_busy_worker(client):
        # wait until a worker has been running a session's job for 2 s (a job takes 20 s
        # or more), check that it still is, and kill that worker's process
        for _ in range(2400):
            busy = {w: [k for k in keys if str(k).startswith("bin_session-")]
                    for w, keys in client.processing().items()}
            busy = {w: keys for w, keys in busy.items() if keys}
            if busy:
                worker = next(iter(busy))
                time.sleep(2.0)
                if busy[worker][0] not in client.processing().get(worker, ()):
                    continue
                pid = client.run(os.getpid, workers=[worker])[worker]
                os.kill(pid, signal.SIGKILL)
                killed.append(busy[worker][0])
                return
            time.sleep(0.05)

    def times_started(key):
        return sum(1 for t in client.run_on_scheduler(
            lambda dask_scheduler: list(dask_scheduler.transition_log))
            if t[0] == key and t[2] == "processing")

    with distributed.Client(external_cluster) as client:
        killer = threading.Thread(target=kill_a_busy_worker, args=(client,))
        killer.start()
        results = bin_sessions(client, SESSIONS, tmp_path, progress=False)
        killer.join()
        assert killed, "no worker was killed mid-session"
        assert times_started(killed[0]) >= 2, "the killed session was not run again"
    assert all(isinstance(r, str) for r in results.values()), results
    _assert_same_files(tmp_path, serial)


def _sample_with_damaged_session(sample_path: Path, folder: Path, damaged: int) -> Path:
    """A sample folder of symbolic links to the real one, whose session ``damaged`` has
    an NWB file of the right size and wrong bytes (which the cheap size check misses)."""
    root = folder / "sample"
    for path in sample_path.rglob("*"):
        rel = path.relative_to(sample_path)
        target = root / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif rel.as_posix() in CACHE_BOOKKEEPING or path.name == MARKER:
            shutil.copy(path, target)                    # AllenSDK may write these
        else:
            target.symlink_to(path)
    nwb = root / "visual_coding_neuropixels" / f"session_{damaged}" / f"session_{damaged}.nwb"
    size = nwb.stat().st_size
    nwb.unlink()
    with open(nwb, "wb") as f:
        f.truncate(size)                                 # zeros: not an HDF5 file
    return root


def test_a_damaged_session_is_reported_by_id_and_the_rest_complete(serial, sample_path,
                                                                   tmp_path):
    bad, good = SESSIONS
    root = _sample_with_damaged_session(sample_path, tmp_path, bad)
    out = tmp_path / "binned"
    out.mkdir()
    # the good session's file is there from an earlier run (the command keeps it: see the
    # rerun test), so the run's only work is the damaged one
    shutil.copy(session_file(serial, good), session_file(out, good))
    done = subprocess.run(
        [sys.executable, "-m", "course_utils", "bin-sessions", "--sessions", str(bad),
         str(good), "--out", str(out), "--workers", "2", "--quiet"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "COURSE_SAMPLE_DIR": str(root)})
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAILED  {bad}" in done.stdout and f"ok      {good}" in done.stdout
    assert f"build-sample --more-sessions {bad}" in done.stdout      # how to fix it
    assert "1/2 sessions done" in done.stdout
    assert not session_file(out, bad).exists() and not list(out.glob(".*.tmp"))
    assert load_netcdf(session_file(out, good)).identical(
        load_netcdf(session_file(serial, good)))
    assert "population_rates.nc not written" in done.stdout
    assert not (out / "population_rates.nc").exists()


def test_bad_arguments_fail_before_any_cluster_starts(tmp_path, capsys):
    from course_utils.tools.cli import main

    def run(*args):
        code = main(["bin-sessions", *args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    a_file = tmp_path / "file.nc"
    a_file.write_text("x")
    for args, message in [
            (["--sessions", "all", "--out", str(a_file)], "is a file"),
            (["--sessions", "VISp", "--out", str(tmp_path / "o")], "expected 'all' or session ids"),
            (["--sessions", "123", "--out", str(tmp_path / "o")], "unknown Neuropixels session"),
            (["--sessions", "all", "--out", str(tmp_path / "o"), "--workers", "0"],
             "expected 1 or more"),
            (["--sessions", "all", "--out", str(tmp_path / "o"), "--workers", "2",
              "--scheduler", "tcp://127.0.0.1:1"], "--workers is for a local cluster")]:
        done = run(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert "Dask dashboard" not in done.stdout


def test_default_workers_follow_cpus_and_memory(monkeypatch):
    import course_utils.many_sessions as many

    monkeypatch.setattr(many, "usable_cpus", lambda: 2)
    monkeypatch.setattr(many, "usable_memory_gb", lambda: 16.0)
    assert default_workers() == 2
    monkeypatch.setattr(many, "usable_memory_gb", lambda: 2.0)      # Binder: 2 GB
    assert default_workers() == 1
    monkeypatch.setattr(many, "usable_memory_gb", lambda: 3.4)      # 0.5 for the client
    assert default_workers() == 1
    monkeypatch.setattr(many, "usable_memory_gb", lambda: 0.5)
    assert default_workers() == 1
    monkeypatch.setattr(many, "usable_cpus", lambda: 8)
    monkeypatch.setattr(many, "usable_memory_gb", lambda: 7.0)
    assert default_workers() == 4


def test_an_unreadable_sample_session_says_how_to_rebuild_it():
    from course_utils.caches import OfflineSampleApi

    api = OfflineSampleApi()
    with pytest.raises(ConnectionError, match="build-sample --more-sessions 754312389"):
        api.get_session_data(754312389)
    with pytest.raises(ConnectionError, match="build-sample --force"):
        api.get_session_data(756029989)
    with pytest.raises(ConnectionError, match="use the real data"):
        api.get_session_data(715093703)


def test_files_of_another_job_or_other_data_are_refused_before_any_work(serial, tmp_path):
    from course_utils.export import save_netcdf

    session_id = SESSIONS[0]
    counts = load_netcdf(session_file(serial, session_id))
    assert counts.attrs["data_source"] == "sample" and len(counts.attrs["sample_sha256"]) == 64
    other_build = counts.copy()
    other_build.attrs["sample_sha256"] = "0" * 64               # an older sample
    (tmp_path / "a").mkdir()
    save_netcdf(other_build, session_file(tmp_path / "a", session_id))
    with pytest.raises(FileExistsError, match="from other data"):
        bin_sessions(None, [session_id], tmp_path / "a")   # (no client needed to refuse)
    (tmp_path / "b").mkdir()
    shutil.copy(session_file(serial, session_id), session_file(tmp_path / "b", session_id))
    with pytest.raises(FileExistsError, match="another job"):
        bin_sessions(None, [session_id], tmp_path / "b", bin_size=0.05)
    with pytest.raises(FileExistsError, match="from other data"):
        bin_session(session_id, tmp_path / "a")


def test_a_scheduler_that_does_not_answer_is_named():
    from course_utils.many_sessions import connect

    with pytest.raises(ConnectionError, match="no Dask scheduler answered at tcp://127.0.0.1:1"):
        connect("tcp://127.0.0.1:1", timeout=2)
