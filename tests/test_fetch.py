"""``fetch`` against a local fake of the Allen servers that serves the offline sample's
files in the real layout: files land exactly where AllenSDK's caches look, and those
caches then open them without downloading anything."""
import io
import json
import shutil
import socket
from collections import namedtuple

import pandas as pd
import pytest

from course_utils.tools import allen_files as af
from course_utils.tools import fetch as fetch_module
from course_utils.caches import OfflineSampleApi
from course_utils.tools.cli import main
from course_utils.tools.download import DownloadError
from course_utils.tools.fetch import execute, make_plan

from conftest import ECEPHYS_SESSION, EXPERIMENTS
from fake_http import FakeServer, without_proxies


@pytest.fixture(autouse=True)
def _direct(monkeypatch):
    without_proxies(monkeypatch)


S = ECEPHYS_SESSION
MANIFEST = "visual-behavior-ophys_project_manifest_v1.1.0.json"
OLD_MANIFEST = "visual-behavior-ophys_project_manifest_v1.0.1.json"
NWB_LINK = "/api/v2/well_known_file_download/1026124469"
TABLES = ["behavior_session_table", "ophys_session_table", "ophys_experiment_table",
          "ophys_cells_table"]


@pytest.fixture()
def allen(sample_path):
    """The fake server: S3 bucket layout (two manifests) and the warehouse."""
    vbo = sample_path / "visual_behavior_ophys"
    manifest = json.loads((vbo / "visual-behavior-ophys_manifest_v1.1.0.json").read_text())
    with FakeServer() as server:
        server.add(f"/visual-behavior-ophys/manifests/{MANIFEST}", json.dumps(manifest).encode())
        server.add(f"/visual-behavior-ophys/manifests/{OLD_MANIFEST}",
                   json.dumps(dict(manifest, manifest_version="1.0.1")).encode())
        root = vbo / "visual-behavior-ophys-1.1.0"
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            server.add(f"/visual-behavior-ophys/{path.relative_to(root).as_posix()}", path)
        server.rma[f"[attachable_id$eq{S}]"] = [{"download_link": NWB_LINK, "attachable_id": S}]
        server.add(NWB_LINK, sample_path / "visual_coding_neuropixels" / f"session_{S}" /
                   f"session_{S}.nwb")
        server.manifest = manifest
        yield server


@pytest.fixture()
def cache_dir(allen, tmp_path, monkeypatch):
    """Point the course's settings at the fake server and a fresh cache folder."""
    monkeypatch.setenv("COURSE_FETCH_OPHYS_URL", allen.url)
    monkeypatch.setenv("COURSE_FETCH_ECEPHYS_URL", allen.url)
    monkeypatch.setenv("COURSE_ALLEN_CACHE_DIR", str(tmp_path / "allen"))
    yield (tmp_path / "allen").resolve()
    shutil.rmtree(tmp_path / "allen", ignore_errors=True)     # up to 300 MB of copies


def _nwb_gets(server):
    return [r for r in server.log
            if r["method"] == "GET" and r["path"].endswith((".nwb", "1026124469"))]


def test_plan_puts_every_file_where_the_caches_look(allen, cache_dir, sample_path):
    from allensdk.api.cloud_cache.manifest import Manifest
    from allensdk.brain_observatory.ecephys.ecephys_project_cache import EcephysProjectCache

    cache_dir.mkdir()
    plan = make_plan(cache_dir, {"ophys": allen.url, "ecephys": allen.url})
    assert plan.manifest_name == MANIFEST                     # the latest of 1.0.1 and 1.1.0
    assert json.loads((cache_dir / MANIFEST).read_text()) == allen.manifest
    expected = ([f"visual-behavior-ophys-1.1.0/project_metadata/{t}.csv" for t in TABLES] +
                [f"visual-behavior-ophys-1.1.0/behavior_ophys_experiments/"
                 f"behavior_ophys_experiment_{e}.nwb" for e in EXPERIMENTS] +
                [f"session_{S}/session_{S}.nwb"])
    assert [f.dest.relative_to(cache_dir).as_posix() for f in plan.files] == expected
    # AllenSDK's own manifest class puts each Visual Behavior file at the same path.
    with open(cache_dir / MANIFEST) as f:
        sdk = Manifest(cache_dir=cache_dir, json_input=f)
    sdk_paths = {sdk.metadata_file_attributes(t).local_path for t in TABLES}
    sdk_paths |= {sdk.data_file_attributes(k).local_path for k in allen.manifest["data_files"]}
    assert {f.dest for f in plan.files[:-1]} == sdk_paths
    ecephys = EcephysProjectCache.from_warehouse(manifest=str(cache_dir / "manifest.json"))
    assert plan.files[-1].dest == cache_dir / ecephys.get_cache_path(
        None, ecephys.SESSION_NWB_KEY, S, S)
    # Sizes from the server, hashes from the manifest, the manifest's object versions.
    for f in plan.files[:-1]:
        assert f.size == allen.files[f.url.split("?")[0][len(allen.url):]].stat().st_size
        assert f.url.endswith("?versionId=course-sample") and len(f.blake2b) == 128
    assert plan.files[-1].size > 10e6 and plan.files[-1].blake2b is None and plan.files[-1].hdf5
    assert _nwb_gets(allen) == []                            # planning downloads no data
    assert plan.remaining() == sum(f.size for f in plan.files)
    assert plan.lines()[-1].startswith(f"to download: {fetch_module.human(plan.remaining())}")


def test_choose_manifest_prefers_the_one_the_cache_last_used(tmp_path):
    newest = "visual-behavior-ophys_project_manifest_v1.10.0.json"   # semver, not text order
    listed = {MANIFEST: 1, "visual-behavior-ophys_project_manifest_v1.9.0.json": 1, newest: 1}
    assert af.choose_manifest(tmp_path, listed) == newest
    (tmp_path / af.LAST_USED).write_text(MANIFEST)
    assert af.choose_manifest(tmp_path, listed) == MANIFEST
    (tmp_path / af.LAST_USED).write_text("withdrawn_manifest_v0.1.0.json")
    assert af.choose_manifest(tmp_path, listed) == newest


class NoDownloadS3:
    """Stands in for boto3's S3 client: lists the manifest, refuses any download."""

    def __init__(self, keys):
        self.keys = keys

    def get_paginator(self, name):
        return self

    def paginate(self, Bucket, Prefix):
        return [{"Contents": [{"Key": k} for k in self.keys if k.startswith(Prefix)]}]

    def get_object(self, **kwargs):
        raise AssertionError(f"AllenSDK tried to download {kwargs}")

    list_object_versions = get_object


def test_fetch_ophys_then_the_s3_cache_downloads_nothing(allen, cache_dir, capsys, monkeypatch):
    from allensdk.api.cloud_cache.cloud_cache import S3CloudCache
    from allensdk.brain_observatory.behavior.behavior_project_cache import (
        VisualBehaviorOphysProjectCache)

    assert main(["fetch", "--dataset", "ophys", "--yes", "--quiet"]) == 0
    assert "done:" in capsys.readouterr().out
    assert len(_nwb_gets(allen)) == len(EXPERIMENTS)
    assert (cache_dir / af.LAST_USED).read_text() == MANIFEST
    record = json.loads((cache_dir / af.DOWNLOADED).read_text())
    assert len(record) == len(TABLES) + len(EXPERIMENTS)
    assert all(len(h) == 128 for h in record.values())
    # A second run finds everything in place and moves no data.
    assert main(["fetch", "--dataset", "ophys", "--yes", "--quiet"]) == 0
    assert "to download: 0 B" in capsys.readouterr().out
    assert len(_nwb_gets(allen)) == len(EXPERIMENTS)
    # AllenSDK's S3 cache opens the fetched files and never asks S3 for a file.
    monkeypatch.setattr(S3CloudCache, "s3_client", property(
        lambda self: NoDownloadS3([f"visual-behavior-ophys/manifests/{MANIFEST}"])))
    cache = VisualBehaviorOphysProjectCache.from_s3_cache(cache_dir=cache_dir)
    assert len(cache.get_ophys_experiment_table()) == 1941
    plane = cache.get_behavior_ophys_experiment(854759894)
    assert plane.dff_traces.shape[0] == 14 and len(plane.ophys_timestamps) == 48331


class SampleWarehouse:
    """Stands in for the warehouse API: the sample's tables, as the warehouse returns them."""

    def __init__(self, folder):
        self.folder, self.calls = folder, []

    def _table(self, name):
        self.calls.append(name)
        return pd.read_csv(self.folder / f"{name}.csv", index_col="id")

    def get_sessions(self):
        return self._table("sessions")

    def get_probes(self):
        return self._table("probes")

    def get_channels(self):
        return self._table("channels")

    def get_units(self):
        return self._table("units")

    def get_unit_analysis_metrics(self, ecephys_session_ids):
        self.calls.append(f"metrics {ecephys_session_ids}")
        path = self.folder / f"session_{S}" / f"session_{S}_analysis_metrics.csv"
        return pd.read_csv(path, index_col="ecephys_unit_id")


def test_fetch_ecephys_then_the_warehouse_cache_downloads_nothing(allen, cache_dir, sample_path):
    from allensdk.brain_observatory.ecephys.ecephys_project_cache import EcephysProjectCache

    cache_dir.mkdir()
    plan = make_plan(cache_dir, {"ecephys": allen.url})
    warehouse = SampleWarehouse(sample_path / "visual_coding_neuropixels")
    execute(plan, progress=False, fetch_api=warehouse)
    assert sorted(warehouse.calls) == sorted(["sessions", "probes", "channels", "units",
                                              f"metrics {[S]}"])
    assert [p for p in af.ecephys_tables(cache_dir, S) if not p.exists()] == []
    cache = EcephysProjectCache.from_warehouse(manifest=str(cache_dir / "manifest.json"))
    cache.fetch_api = OfflineSampleApi()                     # any download would raise
    sessions = cache.get_session_table()
    assert len(sessions) == 58 and S in sessions.index
    assert len(cache.get_unit_analysis_metrics_for_session(S, annotate=False)) == 753
    session = cache.get_session_data(S)                      # reads the fetched NWB file
    epochs = session.get_stimulus_epochs()
    assert len(epochs) == 30 and (epochs["stimulus_name"] != "spontaneous").sum() == 15


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_fetch_fails_fast_and_creates_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_FETCH_OPHYS_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("COURSE_ALLEN_CACHE_DIR", str(tmp_path / "allen"))
    assert main(["fetch", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "Cannot reach 127.0.0.1" in err and "offline sample needs no download" in err
    assert not (tmp_path / "allen").exists()


def test_fetch_asks_first_and_dry_run_downloads_no_data(allen, cache_dir, capsys, monkeypatch):
    assert main(["fetch", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"session_{S}.nwb" in out and "to download" in out
    assert _nwb_gets(allen) == []
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))       # not a terminal
    assert main(["fetch"]) == 2
    assert "add --yes" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    assert main(["fetch"]) == 1                              # answered "n"
    assert "nothing downloaded" in capsys.readouterr().out
    assert _nwb_gets(allen) == []


def test_not_enough_disk_space_stops_before_any_download(allen, cache_dir, monkeypatch, capsys):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(fetch_module.shutil, "disk_usage", lambda path: usage(1, 1, 50_000_000))
    assert main(["fetch", "--yes"]) == 2
    assert "not enough disk space" in capsys.readouterr().err
    assert _nwb_gets(allen) == []


def test_a_corrupted_table_is_not_put_in_place(allen, cache_dir, capsys, sample_path):
    table = "/visual-behavior-ophys/project_metadata/behavior_session_table.csv"
    good = allen.files[table].read_bytes()
    allen.add(table, good[:-10] + b"0123456789")
    assert main(["fetch", "--dataset", "ophys", "--yes", "--quiet"]) == 2
    assert "behavior_session_table.csv" in capsys.readouterr().err
    assert not list(cache_dir.rglob("behavior_session_table.csv*"))
    assert _nwb_gets(allen) == []                            # stops at the first bad file


def test_an_existing_file_of_another_size_is_left_alone(allen, cache_dir):
    nwb = cache_dir / f"session_{S}" / f"session_{S}.nwb"
    nwb.parent.mkdir(parents=True)
    nwb.write_bytes(b"short")
    with pytest.raises(DownloadError, match="exists but has 5 bytes.*Delete it"):
        make_plan(cache_dir, {"ecephys": allen.url})
    assert nwb.read_bytes() == b"short"


def test_file_ids_must_lead_to_the_files_fetched(allen, cache_dir, sample_path, tmp_path):
    cache_dir.mkdir()
    plan = make_plan(cache_dir, {"ophys": allen.url})
    table_path = (sample_path / "visual_behavior_ophys" / "visual-behavior-ophys-1.1.0" /
                  "project_metadata" / "ophys_experiment_table.csv")
    af.check_file_ids(plan.manifest, table_path, plan.files, EXPERIMENTS)
    table = pd.read_csv(table_path)
    rows = table["ophys_experiment_id"].isin(EXPERIMENTS[:2])
    table.loc[rows, "file_id"] = table.loc[rows, "file_id"].to_numpy()[::-1]   # swap two
    table.to_csv(tmp_path / "swapped.csv", index=False)
    with pytest.raises(DownloadError,
                       match="map experiment 854759890 to behavior_ophys_experiment_854759894"):
        af.check_file_ids(plan.manifest, tmp_path / "swapped.csv", plan.files, EXPERIMENTS)


@pytest.mark.parametrize("table", ["behavior_session_table", "ophys_experiment_table"])
def test_a_manifest_entry_pointing_outside_the_cache_is_refused_before_writing(
        allen, cache_dir, capsys, table):
    """Issue 14, item 9: a URL with ../ used to be written outside the cache folder."""
    entry = allen.manifest["metadata_files"][table]
    evil = dict(entry, url=entry["url"].replace("project_metadata/",
                                                "project_metadata/../../../../escaped/"))
    manifest = dict(allen.manifest, metadata_files=dict(allen.manifest["metadata_files"],
                                                        **{table: evil}))
    allen.add(f"/visual-behavior-ophys/manifests/{MANIFEST}", json.dumps(manifest).encode())
    assert main(["fetch", "--yes", "--dataset", "ophys"]) == 2
    err = capsys.readouterr().err
    assert "outside the cache folder" in err and "nothing was downloaded" in err
    escaped = cache_dir.parent.parent / "escaped"
    assert not escaped.exists() and not (cache_dir.parent / "escaped").exists()
    assert [r for r in allen.log if "project_metadata" in r["path"]] == []
