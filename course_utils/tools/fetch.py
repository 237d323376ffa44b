"""``python -m course_utils fetch``: before a workshop, download the real Allen files the
notebooks use into the real-data cache folder, where AllenSDK's caches look for them, so
that with ``COURSE_DATA_SOURCE=allen`` the notebooks download none of them again.

What it fetches is listed in :mod:`course_utils.tools.allen_files`: for Visual Behavior 2P the
release manifest, the four project tables and the NWB files of the six planes of session
854060305; for Visual Coding Neuropixels the NWB file of session 756029989, then (through
AllenSDK itself) the project tables and that session's unit metrics.

Steps: check within seconds that the servers answer (offline: a clear error, since the
offline sample needs no download); list every file with its size and what is already
there; ask (or ``--yes``); download each file with a progress bar, resuming partial
files, verifying each one (size; BLAKE2b hash for Visual Behavior; HDF5 signature for
NWB files) before it is renamed into place.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import allen_files as af
from .download import DownloadError, RemoteFile, download, remote_size, require_reachable

DATASETS = ("ophys", "ecephys")
#: Room kept free beyond the files (the Neuropixels tables and the system's needs).
DISK_MARGIN = 500 * 1024 ** 2


def human(n: int | None) -> str:
    """Bytes as a short human-readable size (``"?"`` when unknown)."""
    if n is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


@dataclass
class Plan:
    """Everything ``fetch`` will do, known before the first large byte moves."""

    cache_dir: Path
    files: list[RemoteFile]
    manifest_name: str | None = None
    manifest: dict | None = None
    experiments: list[int] = field(default_factory=list)
    session_id: int | None = None
    ecephys_base: str | None = None

    def present(self, f: RemoteFile) -> int:
        """Bytes of ``f`` already on disk (whole file or ``.part``)."""
        if f.dest.exists():
            return f.dest.stat().st_size
        return f.part.stat().st_size if f.part.exists() else 0

    def remaining(self) -> int:
        """Bytes still to download (unknown sizes count as zero)."""
        return sum(max((f.size or 0) - self.present(f), 0)
                   for f in self.files if not f.dest.exists())

    def missing_tables(self) -> list[Path]:
        if self.session_id is None:
            return []
        return [p for p in af.ecephys_tables(self.cache_dir, self.session_id) if not p.exists()]

    def lines(self) -> list[str]:
        out = [f"real Allen data for the course -> {self.cache_dir}"]
        for f in self.files:
            have = self.present(f)
            state = ("in place" if f.dest.exists() else
                     f"partial: {human(have)} there, resumes" if have else "to download")
            out.append(f"  {f.dest.name:<58} {human(f.size):>9}  {state}")
        if self.session_id is not None:
            todo = len(self.missing_tables())
            state = f"{todo} to fetch through AllenSDK" if todo else "in place"
            out.append(f"  {'Neuropixels tables and unit metrics':<58} {'?':>9}  {state}")
        total = sum(f.size or 0 for f in self.files)
        free = shutil.disk_usage(self.cache_dir).free
        out.append(f"to download: {human(self.remaining())} of {human(total)}; "
                   f"free in {self.cache_dir}: {human(free)}")
        return out


def _sized(f: RemoteFile) -> RemoteFile:
    """``f`` with its size from the server; refuses a finished file of another size."""
    size = f.size if f.size is not None else remote_size(f.url)
    if f.dest.exists() and size is not None and f.dest.stat().st_size != size:
        raise DownloadError(f"{f.dest} exists but has {f.dest.stat().st_size:,} bytes; the "
                            f"server has {size:,}. Delete it and run fetch again.")
    return dataclasses.replace(f, size=size)


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        raise DownloadError(f"{path} is not valid JSON; delete it and run fetch again") from None


def servers(datasets=DATASETS, ophys_url: str | None = None,
            ecephys_url: str | None = None) -> dict[str, str]:
    """``{dataset: base URL}``, after checking within seconds that each server can be
    reached (raises ``ConnectionError`` saying the offline sample needs no download)."""
    bases = {d: af.base_url(d, {"ophys": ophys_url, "ecephys": ecephys_url}[d]) for d in datasets}
    for base in bases.values():
        require_reachable(base)
    return bases


def make_plan(cache_dir: Path, bases: dict[str, str], experiments: list[int] | None = None,
              session_id: int | None = None) -> Plan:
    """Read the release manifest (a small download, kept where the cache keeps it), find
    every file the notebooks use and ask the servers for its size."""
    default_experiments, default_session = af.course_files()
    plan = Plan(cache_dir, [])
    if "ophys" in bases:
        available = af.list_manifests(bases["ophys"])
        plan.manifest_name = af.choose_manifest(cache_dir, available)
        manifest = af.manifest_file(cache_dir, bases["ophys"], plan.manifest_name,
                                    available[plan.manifest_name])
        download(manifest, progress=False)
        plan.manifest = _load_json(manifest.dest)
        plan.experiments = experiments or default_experiments
        plan.files += af.ophys_files(plan.manifest, cache_dir, bases["ophys"], plan.experiments)
    if "ecephys" in bases:
        plan.session_id = session_id or default_session
        plan.ecephys_base = bases["ecephys"]
        plan.files.append(af.ecephys_nwb_file(cache_dir, bases["ecephys"], plan.session_id))
    plan.files = [_sized(f) for f in plan.files]
    return plan


def _check_disk(plan: Plan) -> None:
    need, free = plan.remaining(), shutil.disk_usage(plan.cache_dir).free
    if need + DISK_MARGIN > free:
        raise DownloadError(f"not enough disk space: the download needs {human(need)} (plus "
                            f"{human(DISK_MARGIN)} spare), {human(free)} is free in "
                            f"{plan.cache_dir}. Free some space or choose another folder "
                            "(--cache-dir or COURSE_ALLEN_CACHE_DIR).")


def execute(plan: Plan, progress: bool = True, tables: bool = True, fetch_api=None) -> int:
    """Download, verify and place every file of ``plan``; then the Neuropixels tables.
    Returns the number of bytes downloaded."""
    before = plan.remaining()
    for f in plan.files:
        download(f, progress=progress)
        if f.blake2b is not None:                  # a Visual Behavior release file
            af.record_downloads(plan.cache_dir, plan.manifest_name, [f])
        if f.dest.name == "ophys_experiment_table.csv":
            af.check_file_ids(plan.manifest, f.dest, plan.files, plan.experiments)
    if tables and plan.missing_tables():
        print("fetching the Neuropixels tables through AllenSDK (a few minutes) ...", flush=True)
        af.prime_ecephys_tables(plan.cache_dir, plan.ecephys_base, plan.session_id, fetch_api)
    return before


def _confirm(plan: Plan, yes: bool) -> bool:
    if yes or (plan.remaining() == 0 and not plan.missing_tables()):
        return True
    if not sys.stdin.isatty():
        raise ValueError("fetch asks before downloading; add --yes to run it unattended")
    answer = input(f"Download {human(plan.remaining())} into {plan.cache_dir}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    """The ``fetch`` command."""
    from ..caches import _real_cache_dir

    datasets = DATASETS if args.dataset == "both" else (args.dataset,)
    print(f"contacting the Allen servers for {' and '.join(datasets)} ...", flush=True)
    bases = servers(datasets)
    plan = make_plan(_real_cache_dir(args.cache_dir), bases)
    print("\n".join(plan.lines()))
    if args.dry_run:
        return 0
    _check_disk(plan)
    if not _confirm(plan, args.yes):
        print("nothing downloaded")
        return 1
    started = time.perf_counter()
    moved = execute(plan, progress=not args.quiet, tables=not args.no_tables)
    seconds = time.perf_counter() - started
    print(f"done: {human(moved)} downloaded in {seconds:.0f} s; every file verified and in "
          f"place in {plan.cache_dir}. Set COURSE_DATA_SOURCE=allen and "
          f"COURSE_ALLEN_CACHE_DIR={plan.cache_dir} to use it.")
    return 0


def register(sub) -> None:
    """Add the ``fetch`` command to the course's command line."""
    p = sub.add_parser("fetch", help="download the real Allen files the notebooks use "
                       "(instructors, before a workshop)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache-dir", help="where to put them (default: $COURSE_ALLEN_CACHE_DIR "
                   "or ~/allen_brain_observatory_cache, the folder the notebooks use)")
    p.add_argument("--dataset", choices=("ophys", "ecephys", "both"), default="both",
                   help="Visual Behavior 2P, Visual Coding Neuropixels, or both (default)")
    p.add_argument("--yes", "-y", action="store_true", help="download without asking")
    p.add_argument("--dry-run", action="store_true", help="list the files and sizes only "
                   "(reads the small release manifest)")
    p.add_argument("--no-tables", action="store_true",
                   help="skip the Neuropixels tables AllenSDK fetches after the files")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)
