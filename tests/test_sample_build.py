"""Building the sample: deterministic, atomic, never touching foreign folders, and the
AllenSDK writer shortcuts it uses give the same result as AllenSDK's own code."""
import json

import numpy as np
import pytest

from course_utils.sample import build as build_module
from course_utils.sample import (NotASampleError, build_sample, generate_ecephys,
                                 generate_ophys, is_current, load_recipe, read_marker)
from course_utils.sample.nwb_writing import concat_ragged, keep_mantissa_bits

from conftest import EXPERIMENTS


def test_generation_is_deterministic():
    recipe = load_recipe()
    a, b = generate_ophys(recipe), generate_ophys(recipe)
    for pa, pb in zip(a.planes, b.planes):
        for field in ("dff", "events", "corrected", "roi_masks", "max_projection", "motion"):
            np.testing.assert_array_equal(getattr(pa, field), getattr(pb, field))
    assert a.task.presentations.equals(b.task.presentations)
    assert a.task.trials.drop(columns="lick_times").equals(b.task.trials.drop(columns="lick_times"))
    ea, eb = generate_ecephys(recipe), generate_ecephys(recipe)
    assert ea.units.equals(eb.units) and ea.channels.equals(eb.channels)
    assert ea.presentations.equals(eb.presentations)
    assert ea.spike_times.keys() == eb.spike_times.keys()
    for unit in ea.spike_times:
        np.testing.assert_array_equal(ea.spike_times[unit], eb.spike_times[unit])


def test_built_files_hold_exactly_the_generated_arrays(ophys_experiments, ecephys_session):
    recipe = load_recipe()
    ophys = generate_ophys(recipe)
    for exp_id, plane, ids in zip(ophys.experiments.index, ophys.planes, ophys.cell_ids):
        exp = ophys_experiments[exp_id]
        on_disk = np.stack(exp.dff_traces.set_index("cell_roi_id").loc[ids.cell_roi_id, "dff"])
        np.testing.assert_array_equal(on_disk, plane.dff)
    ecephys = generate_ecephys(recipe)
    for unit in ecephys_session.units.index[:50]:
        np.testing.assert_array_equal(ecephys_session.spike_times[unit], ecephys.spike_times[unit])


def test_up_to_date_sample_is_not_rebuilt(sample_path):
    before = read_marker(sample_path)
    assert is_current(sample_path)
    assert build_sample(sample_path, progress=False) is None
    assert read_marker(sample_path) == before
    assert before["megabytes"] <= 400 and before["peak_megabytes"] <= 3072


def test_interrupted_build_leaves_no_sample(tmp_path, monkeypatch):
    target = tmp_path / "sample"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_module, "generate_ophys", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_sample(target, progress=False)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []     # no temporary folder left behind


def test_failed_build_keeps_the_previous_sample(tmp_path, monkeypatch):
    target = tmp_path / "sample"
    target.mkdir()
    (target / build_module.MARKER).write_text(json.dumps({"source_sha256": "old"}))
    kept = target / build_module.OPHYS_DIR / "kept.txt"
    kept.parent.mkdir()
    kept.write_text("previous sample")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build_module, "generate_ophys", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        build_sample(target, progress=False)
    assert kept.read_text() == "previous sample"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample"]


def test_refuses_a_folder_that_is_not_a_sample(tmp_path):
    target = tmp_path / "allen_downloads"
    target.mkdir()
    (target / "manifest.json").write_text("{}")
    with pytest.raises(NotASampleError, match="left untouched"):
        build_sample(target, progress=False)
    assert [p.name for p in target.iterdir()] == ["manifest.json"]


def test_concat_ragged_matches_allensdk():
    from allensdk.brain_observatory import dict_to_indexed_array

    rng = np.random.default_rng(0)
    ragged = {k: rng.random(n) for k, n in enumerate([3, 0, 5, 1])}
    waveforms = {k: rng.random((4, 6)).astype(np.float32) for k in range(3)}
    for data in (ragged, waveforms):
        order = sorted(data, reverse=True)
        idx_a, val_a = dict_to_indexed_array(data, order)
        idx_b, val_b = concat_ragged(data, order)
        assert idx_a == idx_b
        assert val_a.dtype == val_b.dtype
        np.testing.assert_array_equal(val_a, val_b)


def test_keep_mantissa_bits_bounds_the_relative_error():
    x = np.random.default_rng(1).normal(0, 3, 10_000).astype(np.float32)
    x[:3] = [np.nan, np.inf, 0.0]
    y = keep_mantissa_bits(x, 12)
    assert np.isnan(y[0]) and np.isinf(y[1]) and y[2] == 0
    rel = np.abs(y[3:] - x[3:]) / np.abs(x[3:])
    assert rel.max() <= 2.0 ** -12
    assert (y[3:].view(np.uint32) & 0x7FF).max() == 0     # the 11 low bits are zero
    with pytest.raises(ValueError):
        keep_mantissa_bits(x, 0)


def test_sample_files_are_where_the_caches_expect(sample_path):
    vbo = sample_path / "visual_behavior_ophys"
    manifest = json.loads((vbo / "visual-behavior-ophys_manifest_v1.1.0.json").read_text())
    assert len(manifest["data_files"]) == len(EXPERIMENTS)
    assert set(manifest["metadata_files"]) == {"behavior_session_table", "ophys_session_table",
                                               "ophys_experiment_table", "ophys_cells_table"}
    nx = sample_path / "visual_coding_neuropixels"
    assert (nx / "session_756029989" / "session_756029989.nwb").stat().st_size > 10e6


def _fake_sample(target, current=True):
    """A small built-looking sample: two files and a marker with their inventory."""
    nwb = target / build_module.OPHYS_DIR / "plane.nwb"
    nwb.parent.mkdir(parents=True)
    nwb.write_bytes(b"x" * 1000)
    (target / build_module.ECEPHYS_DIR).mkdir()
    (target / build_module.ECEPHYS_DIR / "units.csv").write_text("id\n1\n")
    marker = {"source_sha256": build_module.recipe_digest() if current else "old",
              "inventory": build_module._inventory(target)}
    (target / build_module.MARKER).write_text(json.dumps(marker))
    return nwb


def test_a_truncated_or_deleted_file_makes_the_sample_damaged(tmp_path):
    """Issue 14, item 10: a truncated NWB file was called healthy."""
    from course_utils.tools.check import check_sample

    target = tmp_path / "sample"
    nwb = _fake_sample(target)
    assert is_current(target) and build_module.damaged_files(target, hashes=True) == []
    (target / build_module.OPHYS_DIR / "_manifest_last_used.txt").write_text("AllenSDK's")
    assert check_sample(target).ok
    nwb.write_bytes(b"x" * 10)                                   # truncated
    assert build_module.damaged_files(target) == [
        f"{build_module.OPHYS_DIR}/plane.nwb: 10 bytes, built with 1,000"]
    assert not is_current(target)                                # so build-sample rebuilds
    result = check_sample(target)
    assert not result.ok and "plane.nwb: 10 bytes" in result.detail
    assert "build-sample" in result.fix
    nwb.write_bytes(b"y" * 1000)                                 # same size, other bytes
    assert build_module.damaged_files(target) == []
    assert build_module.damaged_files(target, hashes=True) == [
        f"{build_module.OPHYS_DIR}/plane.nwb: contents changed since the build (hash differs)"]
    assert not check_sample(target).ok
    nwb.unlink()
    assert build_module.damaged_files(target) == [f"{build_module.OPHYS_DIR}/plane.nwb: missing"]


def test_build_sample_command_rebuilds_a_file_damaged_at_its_built_size(tmp_path,
                                                                          monkeypatch, capsys):
    """Issue 14, item 10: ``build-sample`` compares the files' hashes (about 1 s), so a
    file whose contents changed at the same size is rebuilt, not called up to date; the
    automatic check on every cache open stays sizes-only."""
    from course_utils.tools.cli import main

    target = tmp_path / "sample"
    nwb = _fake_sample(target)
    monkeypatch.setenv("COURSE_SAMPLE_DIR", str(target))
    built = []

    class Stop(Exception):
        pass

    def record(work, *args):
        built.append(work)
        raise Stop                          # stands in for the minute-long real build
    monkeypatch.setattr(build_module, "_build_into", record)
    assert main(["build-sample", "--quiet"]) == 0 and built == []     # intact: up to date
    assert "up to date" in capsys.readouterr().out
    nwb.write_bytes(b"y" * 1000)                                       # same size
    assert build_sample(target, progress=False) is None                # sizes only: kept
    with pytest.raises(Stop):
        main(["build-sample", "--quiet"])
    assert len(built) == 1
    assert nwb.read_bytes() == b"y" * 1000          # a failed build keeps the old sample


@pytest.mark.parametrize("force", [False, True])
def test_a_rebuild_refuses_to_delete_files_it_did_not_make(tmp_path, monkeypatch, force):
    """Issue 14, item 6: --force and automatic rebuilds deleted a learner's files."""
    target = tmp_path / "sample"
    _fake_sample(target, current=False)
    notes = target / build_module.OPHYS_DIR / "my_notes.txt"
    notes.write_text("mine")
    monkeypatch.setattr(build_module, "generate_ophys", lambda *a: pytest.fail("built"))
    with pytest.raises(NotASampleError, match=r"1 file\(s\) the sample build did not make "
                                              r"\(e.g. visual_behavior_ophys/my_notes.txt\)"):
        build_sample(target, progress=False, force=force)
    assert notes.read_text() == "mine"


def test_temporaries_of_dead_builds_are_removed_and_live_ones_kept(tmp_path, monkeypatch):
    """Issue 14, item 8: a build killed with SIGKILL left <sample>.tmp-<pid> for good."""
    import socket
    import subprocess

    target = tmp_path / "sample"
    dead = subprocess.Popen(["true"])
    dead.wait()
    live = subprocess.Popen(["sleep", "30"])
    host = socket.gethostname()
    try:
        def folder(name, owner=None):
            path = tmp_path / name
            (path / "part").mkdir(parents=True)
            if owner:
                (path / build_module.OWNER).write_text(owner)
            return path

        folder(f"sample.tmp-{dead.pid}", f"{host} {dead.pid}")                # removed
        kept = [folder(f"sample.tmp-{live.pid}", f"{host} {live.pid}"),     # running
                folder("sample.tmp-999999999", "other-host 999999999"),
                folder("sample.tmp-20240105"),                           # a user's copy
                folder(f"sample.old-{dead.pid}", f"{host} {dead.pid}")]

        def stop(*args, **kwargs):
            raise RuntimeError("stopped after the clean-up")

        monkeypatch.setattr(build_module, "generate_ophys", stop)
        with pytest.raises(RuntimeError, match="stopped after"):
            build_sample(target, progress=False)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in kept)
    finally:
        live.kill()
        live.wait()


def test_check_says_when_the_sample_is_read_only(tmp_path, monkeypatch):
    """Issue 14, item 11: a read-only sample passed check, then open_ophys_cache failed."""
    from course_utils.tools import check

    target = tmp_path / "sample"
    _fake_sample(target)
    assert check.check_sample(target).ok
    real_access = check.os.access
    monkeypatch.setattr(check.os, "access", lambda path, mode: False if mode & check.os.W_OK
                        else real_access(path, mode))      # as if not writable (root is)
    result = check.check_sample(target)
    assert not result.ok and "read-only" in result.detail and "COURSE_SAMPLE_DIR" in result.fix


@pytest.mark.parametrize("opener", ["open_ophys_cache", "open_ecephys_cache"])
def test_opening_a_read_only_sample_says_so(sample_path, monkeypatch, opener):
    """Issue 14, item 11: opening a read-only sample failed inside AllenSDK (it writes
    ``_manifest_last_used.txt`` on every open); now it is refused first, with the fix."""
    from course_utils import caches

    real_access = caches.os.access
    monkeypatch.setattr(caches.os, "access", lambda path, mode: False if mode & caches.os.W_OK
                        else real_access(path, mode))      # as if not writable (root is)
    with pytest.raises(PermissionError, match=r"read-only, and AllenSDK writes .* set "
                                              r"COURSE_SAMPLE_DIR"):
        getattr(caches, opener)(source="sample")


def test_a_damaged_plane_file_names_itself_and_the_fix(sample_path, tmp_path, monkeypatch):
    """Issue 14, item 10: a file with the built size but damaged contents passes the
    cheap size check on open; loading it gave h5py's bare "file signature not found".
    A copy of the sample (hard links, so no disk; the damaged file and AllenSDK's
    bookkeeping files are real copies) with one plane's header overwritten."""
    import os
    import shutil

    from course_utils.caches import open_ophys_cache
    from course_utils.experiments import load_experiments

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:                                   # another file system
            shutil.copy2(src, dst)

    copy = tmp_path / "sample"
    shutil.copytree(sample_path, copy, copy_function=link)
    name = f"behavior_ophys_experiment_{EXPERIMENTS[0]}.nwb"
    (damaged,) = copy.rglob(name)
    for path in [damaged, *(copy / rel for rel in build_module.CACHE_BOOKKEEPING)]:
        if path.exists():
            data = path.read_bytes()
            path.unlink()                                 # break the link, then copy
            path.write_bytes(data)
    with open(damaged, "r+b") as f:
        f.write(b"\0" * 64)                               # same size, HDF5 signature gone
    monkeypatch.setenv("COURSE_SAMPLE_DIR", str(copy))
    cache = open_ophys_cache(source="sample")             # sizes match: opens
    with pytest.raises(OSError) as err:
        load_experiments(cache, [EXPERIMENTS[0]])
    message = str(err.value)
    assert f"ophys experiment {EXPERIMENTS[0]}" in message and str(damaged) in message
    assert "file signature not found" in message
    assert "python -m course_utils build-sample --force" in message
    assert build_module.damaged_files(copy, hashes=True) == [
        f"{damaged.relative_to(copy).as_posix()}: contents changed since the build "
        "(hash differs)"]
    assert len(load_experiments(cache, [EXPERIMENTS[1]])) == 1     # the others still load


def test_a_failed_load_without_a_file_on_disk_keeps_its_own_error(tmp_path):
    """Only a file that exists and fails to read is called damaged: on real data with no
    network the cache's own error (an OSError too) must come through unchanged."""
    import pandas as pd
    from types import SimpleNamespace

    from course_utils import experiments

    def refuse(experiment_id):
        raise ConnectionError("cannot reach the warehouse")

    cache = SimpleNamespace(
        get_behavior_ophys_experiment=refuse,
        fetch_api=SimpleNamespace(cache=SimpleNamespace(
            data_path=lambda file_id: {"local_path": tmp_path / "not_downloaded.nwb"})))
    table = pd.DataFrame({"file_id": [5]}, index=pd.Index([1], name="ophys_experiment_id"))
    with pytest.raises(ConnectionError, match="^cannot reach the warehouse$"):
        experiments._load_one(cache, table, 1)
    (tmp_path / "not_downloaded.nwb").write_bytes(b"partial")
    with pytest.raises(OSError, match="the file is damaged. Delete it; loading the "
                                      "experiment again downloads it afresh"):
        experiments._load_one(cache, table, 1)
