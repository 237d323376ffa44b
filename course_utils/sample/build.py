"""Build the offline sample on disk: two real-format AllenSDK cache folders.

Layout (``sample_dir()`` defaults to ``data/offline_sample``)::

    offline_sample/
      .course_sample.json                 what was built, from which recipe, budgets
      visual_behavior_ophys/              VisualBehaviorOphysProjectCache.from_local_cache
        visual-behavior-ophys_manifest_v1.1.0.json
        visual-behavior-ophys-1.1.0/project_metadata/*.csv
        visual-behavior-ophys-1.1.0/behavior_ophys_experiments/*.nwb
      visual_coding_neuropixels/          EcephysProjectCache.from_warehouse(manifest=...)
        sessions.csv probes.csv channels.csv units.csv
        session_<id>/session_<id>.nwb, session_<id>_analysis_metrics.csv

The build happens in a temporary sibling folder that is renamed into place only when
complete, so an interrupted build never leaves a half sample. A folder that is not a
course sample (no marker file) is never modified or deleted.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import threading
import time
import warnings
import multiprocessing
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from .._fs import blake2b_of, swap_into_place
from ..config import METADATA_DIR, RECIPE_PATH, sample_dir
from ..machine import usable_cpus as _cpus, usable_memory_gb as _memory_gb
from ..metadata import read_table
from .generate import generate_ecephys, generate_ophys, load_recipe

MARKER = ".course_sample.json"
OPHYS_DIR = "visual_behavior_ophys"
ECEPHYS_DIR = "visual_coding_neuropixels"
VBO_PROJECT, VBO_VERSION = "visual-behavior-ophys", "1.1.0"
VBO_URL = "https://visual-behavior-ophys-data.s3.us-west-2.amazonaws.com/visual-behavior-ophys/"
BUDGET = {"seconds": 180.0, "megabytes": 400.0, "peak_megabytes": 3072.0}


class NotASampleError(RuntimeError):
    """The target folder exists but is not a course sample (it may hold real data)."""


@dataclass
class BuildReport:
    """What a build produced and what it cost."""

    path: str
    seconds: float
    megabytes: float
    peak_megabytes: float
    files: int
    source_sha256: str

    def lines(self) -> list[str]:
        b = BUDGET
        return [f"offline sample at {self.path}",
                f"  build time  {self.seconds:7.1f} s   (budget {b['seconds']:.0f} s)",
                f"  disk        {self.megabytes:7.1f} MB  (budget {b['megabytes']:.0f} MB)",
                f"  peak memory {self.peak_megabytes:7.1f} MB  (budget {b['peak_megabytes']:.0f} MB,"
                " all build processes together)"]


def recipe_digest(recipe_path: Path = RECIPE_PATH) -> str:
    """Fingerprint of what a sample is built from: the recipe and the generator's code,
    so a change to either marks an existing sample as outdated."""
    h = hashlib.sha256(Path(recipe_path).read_bytes())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        h.update(source.read_bytes())
    return h.hexdigest()


#: Bookkeeping files of AllenSDK's caches. The build writes the first two and AllenSDK
#: rewrites them when a cache opens (the third it writes itself), so they are neither
#: checked for damage nor treated as foreign.
CACHE_BOOKKEEPING = {f"{OPHYS_DIR}/_manifest_last_used.txt", f"{OPHYS_DIR}/_downloaded_data.json",
                     f"{ECEPHYS_DIR}/manifest.json"}


#: The record a Neuropixels session built on demand keeps in its folder
#: (``<ECEPHYS_DIR>/session_<id>/``; :mod:`.more_sessions`): its files and their hashes.
SESSION_RECORD = ".course_session.json"


def _on_demand_files(root: Path) -> set[str]:
    """Files of the sessions built on demand, with their records (relative paths)."""
    known = set()
    for record in Path(root).glob(f"{ECEPHYS_DIR}/session_*/{SESSION_RECORD}"):
        folder = record.parent.relative_to(root).as_posix()
        known.add(f"{folder}/{SESSION_RECORD}")
        try:
            known.update(f"{folder}/{name}" for name in json.loads(record.read_text())["inventory"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return known


#: Files an operating system leaves in folders it shows; never a reason to refuse.
OS_LITTER = {".DS_Store", "Thumbs.db", "desktop.ini"}
#: Written into every build's temporary folder: whose it is (host and process).
OWNER = ".course_build_owner"


def _inventory(root: Path) -> dict:
    """``{relative path: {"size": bytes, "blake2b": hex}}`` of every file under ``root``
    but the marker (about 1 s for the whole sample)."""
    return {p.relative_to(root).as_posix(): {"size": p.stat().st_size, "blake2b": blake2b_of(p)}
            for p in sorted(root.rglob("*")) if p.is_file() and p.name not in (MARKER, OWNER)}


def damaged_files(target: Path | None = None, hashes: bool = False) -> list[str]:
    """Files of a built sample that are missing or changed since the build, as
    "<path>: <what>" lines (empty when all is well). Sizes only, unless ``hashes`` (which
    reads every byte, about 1 s); a marker from before inventories were kept gives []."""
    root = Path(target or sample_dir())
    inventory = (read_marker(root) or {}).get("inventory") or {}
    return inventory_problems(root, {rel: expected for rel, expected in inventory.items()
                                     if rel not in CACHE_BOOKKEEPING}, hashes)


def inventory_problems(root: Path, inventory: dict, hashes: bool = False) -> list[str]:
    """The files of ``inventory`` (paths relative to ``root``) that are missing or differ
    from what was recorded, as "<path>: <what>" lines: sizes, and with ``hashes`` every
    byte (BLAKE2b)."""
    problems = []
    for rel, expected in inventory.items():
        path = Path(root) / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != expected["size"]:
            problems.append(f"{rel}: {path.stat().st_size:,} bytes, built with "
                            f"{expected['size']:,}")
        elif hashes and blake2b_of(path) != expected["blake2b"]:
            problems.append(f"{rel}: contents changed since the build (hash differs)")
    return problems


def foreign_files(target: Path) -> list[str]:
    """Files in a sample folder that its build did not make (nor AllenSDK's caches)."""
    root = Path(target)
    marker = read_marker(root) or {}
    made = set(marker.get("inventory") or ())
    on_demand = _on_demand_files(root)
    tops = {OPHYS_DIR, ECEPHYS_DIR}
    found = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name in (MARKER, OWNER):
            continue
        rel = p.relative_to(root).as_posix()
        known = (rel in made or rel in on_demand) if made else \
            rel.split("/", 1)[0] in tops                           # old marker: by folder
        if not known and rel not in CACHE_BOOKKEEPING and p.name not in OS_LITTER:
            found.append(rel)
    return found


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # alive, someone else's
        return True
    return True


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove ``<target>.tmp-<pid>`` folders left by builds whose process no longer runs
    (killed, for example). Only folders whose owner file (written by the build) names
    this host and that pid: a running build's, another machine's and a user's own
    folders are kept. Returns the folders removed."""
    target = Path(target)
    removed = []
    if not target.parent.is_dir():
        return removed
    for kind in ("tmp",):
        for folder in target.parent.glob(f"{target.name}.{kind}-*"):
            owner = folder / OWNER
            try:        # only folders a build of this host made (a user's backup has no owner)
                host, pid = owner.read_text().split()
            except (OSError, ValueError):
                continue
            if host == socket.gethostname() and pid == folder.name.rsplit("-", 1)[1] \
                    and int(pid) != os.getpid() and not _pid_alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    return removed


def read_marker(target: Path | None = None) -> dict | None:
    """The marker of a built sample, or None if ``target`` holds no complete sample."""
    path = Path(target or sample_dir()) / MARKER
    return json.loads(path.read_text()) if path.exists() else None


def is_current(target: Path | None = None, recipe_path: Path = RECIPE_PATH,
               hashes: bool = False) -> bool:
    """True if ``target`` holds a sample built from the current recipe whose files are
    all there with their built sizes (and, with ``hashes``, their built contents)."""
    marker = read_marker(target)
    return (bool(marker) and marker.get("source_sha256") == recipe_digest(recipe_path)
            and not damaged_files(target, hashes=hashes))


class _PeakMemory:
    """Samples the memory of this process and its children together; keeps the peak."""

    def __init__(self, interval: float = 0.2):
        import psutil

        self._proc, self._interval, self.peak = psutil.Process(), interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _memory(proc) -> int:
        # PSS shares pages between the processes that map them (forked workers share
        # much with the parent); RSS where the platform has no PSS.
        try:
            return proc.memory_full_info().pss
        except Exception:
            return proc.memory_info().rss

    def _sample(self) -> int:
        total = self._memory(self._proc)
        for child in self._proc.children(recursive=True):
            try:
                total += self._memory(child)
            except Exception:  # a child that just exited
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self._interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


def _quiet(fn, *args):
    """Run a writer with the library warnings it always emits silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def _write_ophys_experiment(path, row, task, cells, timestamps, ids, templates, cfg,
                            plane_group, group_count):
    from .ophys_nwb import write_experiment
    _quiet(write_experiment, path, row, task, cells, timestamps, ids, templates, cfg,
           plane_group, group_count)
    return path


def _build_ecephys(nx: Path, recipe: dict, metadata_dir: Path) -> Path:
    """Generate the Neuropixels sample and write all of it (runs in a worker, so its
    spike trains live in one process only)."""
    from .ecephys_nwb import write_session

    sample = generate_ecephys(recipe, metadata_dir)
    session_dir = nx / f"session_{sample.session_id}"
    session_dir.mkdir(parents=True)
    # The raw tables the warehouse serves (AllenSDK derives the counts and merges itself).
    for name, table in sample.warehouse_tables(recipe["ecephys"]["warehouse"]).items():
        table.to_csv(nx / f"{name}.csv")
    _analysis_metrics(sample).to_csv(session_dir / f"session_{sample.session_id}_analysis_metrics.csv")
    probes, channels, units = sample.session_tables()
    path = session_dir / f"session_{sample.session_id}.nwb"
    _quiet(write_session, path, sample.sessions.loc[sample.session_id], probes, channels, units,
           sample.presentations, sample.spike_times, sample.spike_amplitudes, sample.running,
           sample.nwb_metadata)
    return path


def _vbo_tables(metadata_dir: Path, file_ids: dict) -> dict:
    """The four real release tables, with file ids for the experiments we ship."""
    def read(name):
        return read_table(f"vbo_{name}", metadata_dir)
    experiments = read("ophys_experiment_table")
    experiments["file_id"] = experiments["ophys_experiment_id"].map(file_ids).fillna(-999).astype(int)
    return {"behavior_session_table": read("behavior_session_table"),
            "ophys_session_table": read("ophys_session_table"),
            "ophys_experiment_table": experiments,
            "ophys_cells_table": read("ophys_cells_table")}


def _write_vbo_manifest(root: Path, metadata: dict, data: dict) -> None:
    def entry(rel):
        return {"url": VBO_URL + rel, "version_id": "course-sample",
                "file_hash": blake2b_of(root / f"{VBO_PROJECT}-{VBO_VERSION}" / rel)}
    name = f"{VBO_PROJECT}_manifest_v{VBO_VERSION}.json"
    manifest = {"project_name": VBO_PROJECT, "manifest_version": VBO_VERSION,
                "metadata_file_id_column_name": "file_id",
                "data_pipeline": [{"name": "AllenSDK", "version": "2.16.2",
                                   "comment": "synthetic course sample, see data/README.md"}],
                "metadata_files": {k: entry(rel) for k, rel in metadata.items()},
                "data_files": {k: entry(rel) for k, rel in data.items()}}
    (root / name).write_text(json.dumps(manifest, indent=1))
    (root / "_manifest_last_used.txt").write_text(name)
    (root / "_downloaded_data.json").write_text("{}")


def _analysis_metrics(sample) -> pd.DataFrame:
    """Mean firing rate of each unit of the session during each stimulus (spikes/s)."""
    pres = sample.presentations
    short = {"drifting_gratings": "dg", "static_gratings": "sg", "natural_scenes": "ns",
             "flashes": "fl", "gabors": "rf"}
    windows = {}
    for name, tag in short.items():
        p = pres[pres["stimulus_name"] == name]
        windows[f"firing_rate_{tag}"] = (p["start_time"].to_numpy(), p["stop_time"].to_numpy(),
                                         (p["stop_time"] - p["start_time"]).sum())
    rows = {unit: {col: round(float((times.searchsorted(stop) - times.searchsorted(start)).sum()
                                    / total), 3)
                   for col, (start, stop, total) in windows.items()}
            for unit, times in sample.spike_times.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "ecephys_unit_id"
    return table


#: Memory the build needs with two worker processes (measured peak 2.66 GB, all
#: processes together); below it, one worker builds the files one after another.
TWO_WORKER_MEMORY_GB = 3.0


def build_workers() -> int:
    """Worker processes for the build: ``$COURSE_BUILD_WORKERS`` if set (1 or 2), else 2
    where this process has at least 2 CPUs and :data:`TWO_WORKER_MEMORY_GB` of memory,
    else 1 (Binder gives 1 CPU and 2 GB)."""
    value = os.environ.get("COURSE_BUILD_WORKERS")
    if value is not None:
        if value.strip() not in ("1", "2"):
            raise ValueError(f"COURSE_BUILD_WORKERS={value!r}: expected 1 or 2")
        return int(value)
    return 2 if _cpus() >= 2 and _memory_gb() >= TWO_WORKER_MEMORY_GB else 1


class _Done:
    """A job run at once, in this process: the ``.get()`` of a pool's async result."""

    def __init__(self, value):
        self.value = value

    def get(self):
        return self.value


@contextmanager
def _jobs(workers: int):
    """``submit(function, args)``: in ``workers`` processes, or with one worker in this
    process, one job after the other. (A single pool worker would run beside this process,
    which meanwhile holds every queued job's arrays: 1.9 GB at peak instead of about 1.)"""
    if workers == 1:
        yield lambda function, args: _Done(function(*args))
        return
    # Pool.__exit__ terminates the workers, so an error or Ctrl-C stops them at once.
    with multiprocessing.get_context().Pool(workers) as pool:
        yield pool.apply_async


def _build_into(work: Path, recipe: dict, metadata_dir: Path, progress) -> None:
    with _jobs(build_workers()) as submit:
        # The Neuropixels session is the longest job: start it first, in its own worker.
        futures = [submit(_build_ecephys, (work / ECEPHYS_DIR, recipe, metadata_dir))]
        ophys = generate_ophys(recipe, metadata_dir)
        progress(1, "ophys arrays generated")
        vbo_data = work / OPHYS_DIR / f"{VBO_PROJECT}-{VBO_VERSION}"
        (vbo_data / "project_metadata").mkdir(parents=True)
        (vbo_data / "behavior_ophys_experiments").mkdir()
        data_files, file_ids = {}, {}
        for k, (exp_id, row) in enumerate(ophys.experiments.iterrows()):
            rel = f"behavior_ophys_experiments/behavior_ophys_experiment_{exp_id}.nwb"
            data_files[str(k)], file_ids[exp_id] = rel, k
            futures.append(submit(_write_ophys_experiment, (
                vbo_data / rel, row, ophys.task, ophys.planes[k], ophys.timestamps[k],
                ophys.cell_ids[k], ophys.templates, recipe["ophys"], ophys.plane_groups[k],
                ophys.group_count)))
        del ophys
        metadata_files = {}
        for name, table in _vbo_tables(metadata_dir, file_ids).items():
            rel = f"project_metadata/{name}.csv"
            table.to_csv(vbo_data / rel, index=False)
            metadata_files[name] = rel
        progress(1, "ophys tables written")
        for future in futures:
            progress(1, f"wrote {future.get().name}")
    _write_vbo_manifest(work / OPHYS_DIR, metadata_files, data_files)


def n_steps(recipe: dict, metadata_dir: Path = METADATA_DIR) -> int:
    """Progress steps of a build: ophys arrays, ophys tables, one per NWB file."""
    table = read_table("vbo_ophys_experiment_table", metadata_dir)
    return 2 + 1 + int((table["ophys_session_id"] == recipe["ophys"]["ophys_session_id"]).sum())


def build_sample(target: Path | None = None, recipe_path: Path = RECIPE_PATH,
                 metadata_dir: Path = METADATA_DIR, force: bool = False,
                 progress: bool = True, hashes: bool = False) -> BuildReport | None:
    """Build the offline sample into ``target`` (default :func:`config.sample_dir`).

    Does nothing and returns None when ``target`` already holds a sample built from the
    same recipe, unless ``force``. Replaces an outdated or damaged sample (a file missing
    or of another size; with ``hashes``, about 1 s more, also a file whose contents
    changed). Refuses to touch a folder that is not a course sample.

    Raises
    ------
    NotASampleError
        ``target`` exists, is not empty, and has no sample marker.
    """
    from tqdm.auto import tqdm

    target = Path(target or sample_dir()).resolve()
    digest = recipe_digest(recipe_path)
    if target.exists() and any(target.iterdir()) and read_marker(target) is None:
        raise NotASampleError(
            f"{target} exists and is not a course sample (no {MARKER}); it may hold real "
            "downloaded data, so it is left untouched. Point COURSE_SAMPLE_DIR at an empty "
            "or new folder, or remove this one yourself.")
    if not force and is_current(target, recipe_path, hashes=hashes):
        return None
    foreign = foreign_files(target) if target.is_dir() else []
    if foreign:
        raise NotASampleError(
            f"{target} holds {len(foreign)} file(s) the sample build did not make (e.g. "
            f"{', '.join(foreign[:3])}); rebuilding replaces the whole folder, so nothing "
            "was changed. Move them out of the sample folder, then build again.")
    damaged = damaged_files(target, hashes=hashes) if target.is_dir() else []
    if damaged and progress:
        print(f"the sample in {target} is damaged ({'; '.join(damaged[:3])}); rebuilding it",
              flush=True)
    for folder in remove_stale_temporaries(target):
        if progress:
            print(f"removed {folder.name}, left by a build that was stopped", flush=True)

    recipe = load_recipe(recipe_path)
    work = target.parent / f"{target.name}.tmp-{os.getpid()}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot build the sample in {target}: {target.parent} is not "
                              "writable. Point COURSE_SAMPLE_DIR at a folder you can write.")
    started = time.perf_counter()
    bar = tqdm(total=n_steps(recipe, metadata_dir), desc="building offline sample",
               unit="step", disable=not progress)
    try:
        work.mkdir()
        (work / OWNER).write_text(f"{socket.gethostname()} {os.getpid()}")
        with _PeakMemory() as memory:
            _build_into(work, recipe, metadata_dir,
                        lambda n, what: (bar.set_postfix_str(what), bar.update(n)))
        files = [p for p in work.rglob("*") if p.is_file()]
        report = BuildReport(path=str(target), seconds=round(time.perf_counter() - started, 1),
                             megabytes=round(sum(p.stat().st_size for p in files) / 1e6, 1),
                             peak_megabytes=round(memory.peak / 1e6, 1), files=len(files) + 1,
                             source_sha256=digest)
        (work / MARKER).write_text(json.dumps(
            {**asdict(report), "seed": recipe["seed"], "built": time.strftime("%Y-%m-%d %H:%M:%S"),
             "inventory": _inventory(work)}, indent=1))
        swap_into_place(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        bar.close()
    return report


