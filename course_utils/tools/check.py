"""``python -m course_utils check``: is this environment ready for the course?

One line per check, ``ok`` or ``FIX`` with what to do; exit code 0 when every check
passes, 1 otherwise. Nothing is downloaded or changed.

Checks: the Python version; every pinned package version; that pynwb/hdmf read one of the
sample's NWB files; that the offline sample is present and built from the current recipe;
free disk space; the data-source setting (and, for the real data, the network and the
files ``fetch`` puts in place).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import warnings
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version as installed_version
from pathlib import Path

from ..config import REPO_ROOT, allen_cache_dir, data_source, sample_dir

SETUP = "run ./course.sh setup (or pip install -r requirements.txt in this environment)"
BUILD = "run python -m course_utils build-sample"
_PIN = re.compile(r"([A-Za-z0-9_.\-]+)==([^\s;]+)")


@dataclass(frozen=True)
class Check:
    """The outcome of one check: ``detail`` says what was found, ``fix`` what to do."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"ok   {self.name:<9} {self.detail}"
        return f"FIX  {self.name:<9} {self.detail.rstrip('.')}. FIX: {self.fix}"


def check_python(version: tuple = tuple(sys.version_info[:3])) -> Check:
    """3.11 is the course's version; 3.12 is accepted (the Colab recipe)."""
    text = ".".join(map(str, version))
    if tuple(version[:2]) == (3, 11):
        return Check("python", True, f"Python {text}")
    if tuple(version[:2]) == (3, 12):
        return Check("python", True, f"Python {text} (the Colab recipe; the pinned course "
                     "environment is 3.11)")
    return Check("python", False, f"Python {text}; the course needs 3.11 (allensdk 2.16.2 "
                 "installs on 3.8-3.11)", "install Python 3.11 (see README: pyenv or conda) "
                 "and run ./course.sh setup, or set COURSE_PYTHON to a 3.11 interpreter")


def read_pins(path: Path) -> dict[str, str]:
    """``{package: version}`` from a requirements file of exact pins."""
    pins = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#")[0].strip()
        if line:
            match = _PIN.fullmatch(line)
            if not match:
                raise ValueError(f"{path.name}: not an exact pin: {line!r}")
            pins[match.group(1)] = match.group(2)
    return pins


def pins_file(version: tuple = tuple(sys.version_info[:2])) -> Path:
    """The pins for this Python: ``requirements-py312.txt`` on 3.12 if the course has
    one, else ``requirements.txt``."""
    py312 = REPO_ROOT / "requirements-py312.txt"
    if tuple(version[:2]) == (3, 12) and py312.exists():
        return py312
    return REPO_ROOT / "requirements.txt"


def check_packages(path: Path | None = None, version_of=installed_version) -> Check:
    """Every pinned package is installed at exactly its pinned version."""
    path = path or pins_file()
    if not path.exists():
        return Check("packages", False, f"{path} not found", "run the check from a clone "
                     "of the course repository")
    wrong = []
    for name, pinned in read_pins(path).items():
        try:
            got = version_of(name)
        except PackageNotFoundError:
            got = None
        if got != pinned:
            wrong.append(f"{name} {got or 'missing'} (pinned {pinned})")
    if not wrong:
        return Check("packages", True, f"all {len(read_pins(path))} pins of {path.name} match")
    shown = ", ".join(wrong[:5]) + (f" and {len(wrong) - 5} more" if len(wrong) > 5 else "")
    return Check("packages", False, f"{len(wrong)} differ from {path.name}: {shown}", SETUP)


def _sample_nwb(root: Path) -> Path | None:
    found = sorted(root.glob("visual_behavior_ophys/*/behavior_ophys_experiments/*.nwb"))
    return found[0] if found else None


def check_nwb(root: Path | None = None) -> Check:
    """pynwb and hdmf open one of the sample's NWB files and read its dF/F traces."""
    root = root or sample_dir()
    path = _sample_nwb(root)
    if path is None:
        return Check("nwb", False, f"no NWB file to test in {root}", f"{BUILD} first")
    try:
        from pynwb import NWBHDF5IO

        from ..sample import load_recipe
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
                traces = io.read().processing["ophys"]["dff"].roi_response_series["traces"]
                frames, cells = traces.data.shape
                first = traces.data[:5]
    except Exception as err:  # any failure to read is the finding
        return Check("nwb", False, f"pynwb/hdmf cannot read {path.name}: "
                     f"{type(err).__name__}: {str(err)[:200]}",
                     SETUP + " (pynwb 2.8.3 needs hdmf 3.x)")
    expected = load_recipe()["ophys"]["n_frames"]
    if frames != expected or first.size == 0:
        return Check("nwb", False, f"{path.name} holds {frames} frames, the recipe {expected}",
                     f"{BUILD} --force")
    return Check("nwb", True, f"pynwb read {path.name}: dF/F of {cells} cells x {frames} frames")


def check_sample(root: Path | None = None) -> Check:
    """The offline sample exists, was built from the current recipe and code, and its
    files are those the build wrote (sizes and BLAKE2b hashes, about 1 s)."""
    from ..sample import is_current, read_marker
    from ..sample.build import damaged_files

    root = root or sample_dir()
    marker = read_marker(root) if root.is_dir() else None
    if marker is None:
        if root.is_dir() and any(root.iterdir()):
            return Check("sample", False, f"{root} exists but is not a course sample",
                         "point COURSE_SAMPLE_DIR at an empty or new folder, then " + BUILD)
        return Check("sample", False, f"no offline sample in {root}", BUILD + " (about a minute)")
    damaged = damaged_files(root, hashes=True)
    if damaged:
        return Check("sample", False, f"the sample in {root} is damaged: "
                     + "; ".join(damaged[:3]) + (" ..." if len(damaged) > 3 else ""),
                     BUILD + " --force (rebuilds it; files of the wrong size are also "
                     "rebuilt without --force)")
    if not is_current(root):
        return Check("sample", False, f"the sample in {root} (built {marker.get('built', '?')}) "
                     "is older than the recipe", BUILD + " (it replaces the old one)")
    readonly = [d for d in (root / "visual_behavior_ophys", root / "visual_coding_neuropixels")
                if d.is_dir() and not os.access(d, os.W_OK)]
    if readonly:
        return Check("sample", False, f"the sample in {root} is read-only ({readonly[0].name}); "
                     "AllenSDK's caches write small bookkeeping files into it when opened",
                     "make it writable, or copy it (cp -r) to a folder you can write and "
                     "set COURSE_SAMPLE_DIR to the copy")
    return Check("sample", True, f"{root} (built {marker.get('built', '?')}, "
                 f"{marker.get('megabytes', '?')} MB)")


def check_more_sessions(root: Path | None = None) -> Check:
    """The Neuropixels sessions built on demand (course_utils.sample.more_sessions): none
    built is fine; a built one must be whole (sizes and hashes)."""
    from ..sample import read_marker
    from ..sample.more_sessions import more_session_ids, session_problems

    root = root or sample_dir()
    ids = more_session_ids()
    if read_marker(root) is None:
        return Check("sessions", True, "none built (the sample is not built yet)")
    problems = {i: session_problems(i, root, hashes=True) for i in ids}
    built = [i for i, p in problems.items() if not p]
    broken = {i: p for i, p in problems.items() if p and not p[0].endswith("not built")}
    if broken:
        first = next(iter(broken.values()))
        return Check("sessions", False, f"{len(broken)} of the sessions built on demand "
                     f"cannot be used: {'; '.join(first[:2])}",
                     f"python -m course_utils build-sample --more-sessions "
                     f"{' '.join(map(str, broken))} (rebuilds them)")
    later = "" if len(built) == len(ids) else (
        " (the others are built when notebook 06, bin-sessions or "
        "load_ecephys_session first needs them)")
    return Check("sessions", True, f"{len(built)} of the {len(ids)} Neuropixels sessions "
                 f"built on demand are ready{later}")


def _free_bytes(path: Path) -> int:
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def check_disk(root: Path | None = None, free_bytes=_free_bytes) -> Check:
    """Room to build (or rebuild) the sample: its budget, twice over while the new
    build sits beside the old one."""
    from ..sample import is_current
    from ..sample.build import BUDGET

    root = root or sample_dir()
    free = free_bytes(root)
    need = 0 if is_current(root) else int(2 * BUDGET["megabytes"] * 1e6)
    if free < need:
        return Check("disk", False, f"{free / 1e6:,.0f} MB free at {root}; building the "
                     f"sample needs {need / 1e6:,.0f} MB", "free some space, or set "
                     "COURSE_SAMPLE_DIR to a folder on a disk with room")
    return Check("disk", True, f"{free / 1e9:,.1f} GB free for the sample at {root}")


def check_source(reachable=None) -> list[Check]:
    """The data-source setting; for the real data, the network and fetched files."""
    from .download import require_reachable

    try:
        source = data_source()
    except ValueError as err:
        return [Check("source", False, f"COURSE_DATA_SOURCE is invalid: {err}",
                      "unset COURSE_DATA_SOURCE (offline sample) or set it to allen")]
    if source == "sample":
        return [Check("source", True, "offline sample (no network needed)")]
    from .allen_files import base_url

    reachable = reachable or (lambda url: require_reachable(url, timeout=3.0))
    try:
        for dataset in ("ophys", "ecephys"):
            reachable(base_url(dataset))
    except ConnectionError as err:
        return [Check("source", False, "COURSE_DATA_SOURCE=allen but " + str(err).split(". ")[0],
                      "connect to the network, or unset COURSE_DATA_SOURCE to use the "
                      "offline sample")]
    return [Check("source", True, "real Allen data (servers reachable)"), check_fetched()]


def check_fetched(cache_dir: Path | None = None) -> Check:
    """The NWB files ``fetch`` downloads are in the real-data cache folder."""
    from .allen_files import course_files

    cache_dir = allen_cache_dir(cache_dir)
    experiments, session = course_files()
    planes = "visual-behavior-ophys-*/behavior_ophys_experiments/behavior_ophys_experiment_{}.nwb"
    wanted = [planes.format(e) for e in experiments] + [f"session_{session}/session_{session}.nwb"]
    missing = [w for w in wanted if not any(cache_dir.glob(w))]
    if missing:
        return Check("allen", False, f"{len(missing)} of {len(wanted)} NWB files the notebooks "
                     f"use are not in {cache_dir} yet (the notebooks would download them)",
                     "run python -m course_utils fetch before the workshop")
    return Check("allen", True, f"all {len(wanted)} NWB files the notebooks use are in {cache_dir}")


def run_checks() -> list[Check]:
    """Every check, in order."""
    return [check_python(), check_packages(), check_sample(), check_more_sessions(),
            check_nwb(), check_disk(), *check_source()]


def run(args: argparse.Namespace) -> int:
    """The ``check`` command."""
    results = run_checks()
    print("\n".join(r.line() for r in results))
    failed = sum(not r.ok for r in results)
    print("all checks passed" if not failed else f"{failed} check(s) need a fix (see FIX above)")
    return 1 if failed else 0


def register(sub) -> None:
    """Add the ``check`` command to the course's command line."""
    p = sub.add_parser("check", help="is this environment ready for the course? (one line "
                       "per check: ok or FIX)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=run)
