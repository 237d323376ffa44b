"""Which real Allen files the notebooks use, where they come from, and where AllenSDK's
caches look for them. :mod:`course_utils.tools.fetch` downloads what this module lists.

Visual Behavior 2P (``VisualBehaviorOphysProjectCache.from_s3_cache(cache_dir)``)
    The S3 bucket ``visual-behavior-ophys-data`` holds versioned release manifests under
    ``visual-behavior-ophys/manifests/``. A manifest lists every metadata table and NWB
    file with its URL, S3 ``version_id`` and BLAKE2b ``file_hash``. The cache loads the
    manifest named in ``cache_dir/_manifest_last_used.txt`` (else the latest), keeps it
    as ``cache_dir/<manifest name>``, and stores a file whose URL path is
    ``visual-behavior-ophys/<rest>`` at ``cache_dir/visual-behavior-ophys-<version>/<rest>``.
    A file already there is not downloaded again.
Visual Coding Neuropixels (``EcephysProjectCache.from_warehouse(manifest=cache_dir/manifest.json)``)
    The warehouse (api.brain-map.org) answers an RMA query for the session's
    ``EcephysNwb`` well-known file with a ``download_link``; the cache stores the file at
    ``cache_dir/session_<id>/session_<id>.nwb``. The warehouse publishes no hash.

Base URLs can be replaced (``COURSE_FETCH_OPHYS_URL``, ``COURSE_FETCH_ECEPHYS_URL`` or
arguments), so the tests point them at a local server.
"""
from __future__ import annotations

import json
import os
import re
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

from .._fs import atomic_path
from ..caches import ALLEN_HOSTS
from .download import DownloadError, RemoteFile, open_url

VBO_PROJECT = "visual-behavior-ophys"
VBO_TABLES = ("behavior_session_table", "ophys_session_table", "ophys_experiment_table",
              "ophys_cells_table")
LAST_USED = "_manifest_last_used.txt"
DOWNLOADED = "_downloaded_data.json"
_SEMVER = re.compile(r"_v(\d+)\.(\d+)\.(\d+)\.json$")
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def base_url(dataset: str, override: str | None = None) -> str:
    """Server to fetch ``dataset`` ("ophys" or "ecephys") from: ``override``, else
    ``$COURSE_FETCH_OPHYS_URL`` / ``$COURSE_FETCH_ECEPHYS_URL``, else the Allen server."""
    env = {"ophys": "COURSE_FETCH_OPHYS_URL", "ecephys": "COURSE_FETCH_ECEPHYS_URL"}[dataset]
    url = override or os.environ.get(env) or f"https://{ALLEN_HOSTS[dataset]}"
    return url.rstrip("/")


def course_files() -> tuple[list[int], int]:
    """The six experiment (plane) ids of the course's ophys session and the
    Neuropixels session id, read from the sample recipe and the shipped release table."""
    from ..metadata import read_table
    from ..sample import load_recipe

    recipe = load_recipe()
    table = read_table("vbo_ophys_experiment_table")
    session = recipe["ophys"]["ophys_session_id"]
    experiments = sorted(int(e) for e in table.loc[table["ophys_session_id"] == session,
                                                   "ophys_experiment_id"])
    return experiments, int(recipe["ecephys"]["session_id"])


def _rebase(url: str, base: str) -> str:
    """``url`` with its scheme and host replaced by ``base``'s (unchanged for the real server)."""
    parts, new = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((new.scheme, new.netloc, new.path.rstrip("/") + parts.path,
                                    parts.query, ""))


def list_manifests(base: str) -> dict[str, int]:
    """Release manifests in the bucket (S3 ``ListObjectsV2``): ``{file name: size}``."""
    found, token = {}, None
    while True:
        query = {"list-type": "2", "prefix": f"{VBO_PROJECT}/manifests/"}
        if token:
            query["continuation-token"] = token
        with open_url(f"{base}/?{urllib.parse.urlencode(query)}") as response:
            root = ET.fromstring(response.read())
        ns = _S3_NS if root.tag.startswith(_S3_NS) else ""
        for item in root.iter(f"{ns}Contents"):
            key = item.findtext(f"{ns}Key", "").strip()
            if _SEMVER.search(key):
                found[key.rsplit("/", 1)[-1]] = int(item.findtext(f"{ns}Size", "0"))
        token = root.findtext(f"{ns}NextContinuationToken")
        if root.findtext(f"{ns}IsTruncated", "false").strip() != "true" or not token:
            break
    if not found:
        raise DownloadError(f"no release manifest found under {base}/{VBO_PROJECT}/manifests/")
    return found


def choose_manifest(cache_dir: Path, available: dict[str, int]) -> str:
    """The manifest the cache will load: the one it last used (if still listed), else
    the latest version, as ``CloudCacheBase.load_last_manifest`` decides."""
    last = cache_dir / LAST_USED
    if last.exists() and last.read_text().strip() in available:
        return last.read_text().strip()
    return max(available, key=lambda name: tuple(int(x) for x in _SEMVER.search(name).groups()))


def inside_cache(cache_dir: Path, dest: Path, source: str) -> Path:
    """``dest`` if it lies inside ``cache_dir`` once ``..`` is applied (lexically: a
    subfolder that is a link to another disk stays inside); otherwise a
    ``DownloadError`` naming ``source``, raised before anything is written."""
    root = Path(os.path.normpath(Path(cache_dir).absolute()))
    target = Path(os.path.normpath(Path(dest).absolute()))
    if root not in target.parents:
        raise DownloadError(f"{source} would be written to {target}, outside the cache "
                            f"folder {root}. The manifest or server is not one this course "
                            "trusts; nothing was downloaded.")
    return Path(dest)


def manifest_file(cache_dir: Path, base: str, name: str, size: int) -> RemoteFile:
    """The release manifest itself, kept where the cache keeps it."""
    dest = inside_cache(cache_dir, cache_dir / name, f"manifest {name!r}")
    return RemoteFile(f"{base}/{VBO_PROJECT}/manifests/{name}", dest, size=size)


def _entry_file(entry: dict, manifest: dict, cache_dir: Path, base: str, hdf5: bool) -> RemoteFile:
    path = urllib.parse.urlsplit(entry["url"]).path.lstrip("/")
    local = cache_dir / f"{manifest['project_name']}-{manifest['manifest_version']}"
    url = _rebase(entry["url"], base)
    if entry.get("version_id"):
        url += "?versionId=" + urllib.parse.quote(entry["version_id"], safe="")
    dest = inside_cache(cache_dir, local / path.split("/", 1)[1],
                        f"manifest entry {entry['url']!r}")
    return RemoteFile(url, dest, blake2b=entry["file_hash"], hdf5=hdf5)


def ophys_files(manifest: dict, cache_dir: Path, base: str,
                experiments: list[int]) -> list[RemoteFile]:
    """The four project tables and the experiments' NWB files listed by ``manifest``."""
    missing = [t for t in VBO_TABLES if t not in manifest["metadata_files"]]
    if missing:
        raise DownloadError(f"release manifest {manifest['manifest_version']} lacks {missing}")
    files = [_entry_file(manifest["metadata_files"][t], manifest, cache_dir, base, False)
             for t in VBO_TABLES]
    for exp in experiments:
        name = f"/behavior_ophys_experiment_{exp}.nwb"
        hits = [e for e in manifest["data_files"].values() if e["url"].endswith(name)]
        if len(hits) != 1:
            raise DownloadError(f"release manifest {manifest['manifest_version']} lists "
                                f"{len(hits)} NWB files for ophys experiment {exp}, expected 1")
        files.append(_entry_file(hits[0], manifest, cache_dir, base, True))
    return files


def check_file_ids(manifest: dict, experiment_table: Path, files: list[RemoteFile],
                   experiments: list[int]) -> None:
    """Confirm that the cache, which finds an experiment's file through the table's
    ``file_id`` column, would open the files we download (raises ``DownloadError``)."""
    import pandas as pd

    table = pd.read_csv(experiment_table, index_col="ophys_experiment_id")
    column = manifest["metadata_file_id_column_name"]
    by_name = {f.dest.name: f for f in files}
    for exp in experiments:
        entry = manifest["data_files"].get(str(int(table.loc[exp, column])), {})
        name = urllib.parse.urlsplit(entry.get("url", "")).path.rsplit("/", 1)[-1]
        if name != f"behavior_ophys_experiment_{exp}.nwb" or name not in by_name:
            raise DownloadError(f"the release tables map experiment {exp} to {name or 'no file'};"
                                f" the course expects behavior_ophys_experiment_{exp}.nwb")


def record_downloads(cache_dir: Path, manifest_name: str, files: list[RemoteFile]) -> None:
    """Note the files in ``_downloaded_data.json`` and the manifest in
    ``_manifest_last_used.txt``, as the cache does after its own downloads (so it loads
    the manifest these files belong to, and does not warn about unrecorded files)."""
    path = cache_dir / DOWNLOADED
    record = json.loads(path.read_text()) if path.exists() else {}
    record.update({str(f.dest.resolve()): f.blake2b for f in files if f.dest.exists()})
    _write_atomic(path, json.dumps(record, indent=2, sort_keys=True))
    _write_atomic(cache_dir / LAST_USED, manifest_name)


def _write_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def ecephys_nwb_file(cache_dir: Path, base: str, session_id: int) -> RemoteFile:
    """The session's NWB file, located with the warehouse query AllenSDK uses
    (``EcephysProjectWarehouseApi.get_session_data``)."""
    criteria = ("model::WellKnownFile,rma::criteria,well_known_file_type[name$eq'EcephysNwb']"
                f"[attachable_type$eq'EcephysSession'][attachable_id$eq{session_id}]")
    url = f"{base}/api/v2/data/query.json?criteria={urllib.parse.quote(criteria, safe=':,[]$')}"
    with open_url(url) as response:
        answer = json.loads(response.read())
    rows = answer.get("msg") if answer.get("success") else None
    if not isinstance(rows, list) or len(rows) != 1:
        raise DownloadError(f"the warehouse did not name one NWB file for Neuropixels session "
                            f"{session_id}: {str(answer)[:300]}")
    link = rows[0]["download_link"]
    folder = cache_dir / f"session_{session_id}"
    return RemoteFile(f"{base}/{link.lstrip('/')}", folder / f"session_{session_id}.nwb", hdf5=True)


def ecephys_tables(cache_dir: Path, session_id: int) -> list[Path]:
    """Where ``EcephysProjectCache`` keeps the project tables and the session's metrics."""
    folder = cache_dir / f"session_{session_id}"
    return [cache_dir / f"{t}.csv" for t in ("sessions", "probes", "channels", "units")] + \
        [folder / f"session_{session_id}_analysis_metrics.csv"]


def prime_ecephys_tables(cache_dir: Path, base: str, session_id: int, fetch_api=None) -> None:
    """Have AllenSDK's own cache download the Neuropixels project tables (sessions,
    probes, channels, units: RMA query results, not files) and the session's unit
    metrics into ``cache_dir``, exactly as the notebooks' cache would. ``fetch_api``
    replaces the warehouse API (tests)."""
    from allensdk.brain_observatory.ecephys.ecephys_project_cache import EcephysProjectCache

    parts = urllib.parse.urlsplit(base)
    cache = EcephysProjectCache.from_warehouse(scheme=parts.scheme, host=parts.netloc,
                                               manifest=str(cache_dir / "manifest.json"))
    if fetch_api is not None:
        cache.fetch_api = fetch_api
    cache.get_session_table()
    cache.get_unit_analysis_metrics_for_session(session_id, annotate=False)
