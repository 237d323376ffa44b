"""Run notebooks headless and report each one's time and peak memory against the
course's budgets (``python -m course_utils run-notebooks``; the site builder reuses it)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from .._fs import atomic_path
from ..config import REPO_ROOT

#: Where executed copies of the notebooks go (never over the sources).
OUTPUT_DIR = REPO_ROOT / "outputs" / "executed"

#: The course's budgets on a 2-core machine (Binder gives about 2 GB of memory), for the
#: notebooks' own time: the data they read is prepared before they are timed
#: (:func:`prepare_data`). Notebooks 01-05 take about 130 s; 06 about 2 minutes more: it
#: runs the binning job of all eight Neuropixels sessions on a Dask cluster, and of two of
#: them also one by one, to measure the difference. The peak memory is the kernel's own
#: (06's Dask workers are other processes; benchmarks/bin_sessions.py measures theirs).
COURSE_SECONDS_BUDGET = 300.0
NOTEBOOK_MEMORY_BUDGET_GB = 1.5
#: Notebooks that read the offline sample's seven Neuropixels sessions built on demand.
NEEDS_MORE_SESSIONS = ("06_many_sessions",)

# Printed by a last cell the runner appends: the kernel's peak resident memory in bytes.
# Linux: VmHWM, the high-water mark of this process's own memory (ru_maxrss would not do:
# Linux carries it over from the parent through fork and exec, so a kernel started by a
# big process would report the parent's peak). Elsewhere: ru_maxrss (bytes on macOS).
_PEAK_PROBE = """\
import resource as _r, sys as _s
try:
    _hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
    print(int(_hwm.split()[1]) * 1024)
except OSError:
    print(_r.getrusage(_r.RUSAGE_SELF).ru_maxrss * (1 if _s.platform == "darwin" else 1024))
"""


def prepare_data(paths) -> None:
    """Build what the notebooks at ``paths`` read from the offline sample, if it is not
    built yet: the sample, and the seven Neuropixels sessions notebook 06 uses. Each
    notebook would build them itself the first time; doing it here first keeps that
    one-time build out of the notebooks' measured times (it prints its own)."""
    from ..sample import ensure_sample

    ensure_sample(progress=True)
    if any(Path(p).stem in NEEDS_MORE_SESSIONS for p in paths):
        from ..sample.more_sessions import ensure_more_sessions

        ensure_more_sessions("all", progress=True)


def _kernel_config():
    """Start the kernel on local (Unix domain) sockets rather than TCP ports, which any
    user of a shared workshop server could reach (ipykernel warns about those), unless
    the socket paths would be too long for the system (about 100 characters)."""
    import uuid

    from jupyter_core.paths import jupyter_runtime_dir
    from traitlets.config import Config

    # An absolute path (the default is relative, and the kernel runs in another folder);
    # the sockets are <ip>-<n>.
    ip = os.path.join(jupyter_runtime_dir(), f"kernel-{uuid.uuid4()}-ipc")
    if os.name == "posix" and len(ip) + 6 < 100:
        os.makedirs(jupyter_runtime_dir(), mode=0o700, exist_ok=True)
        return Config({"KernelManager": {"transport": "ipc", "ip": ip}})
    return Config()


def execute_notebook(path: Path, out_dir: Path, timeout: int = 900) -> tuple[float, float]:
    """Execute one notebook in its own folder and write the executed copy atomically to
    ``out_dir``.

    Returns
    -------
    seconds, peak_gb
        Wall time of the run, and the kernel's peak resident memory in GB (10^9 bytes),
        read in the kernel after the last cell (see ``_PEAK_PROBE``).
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_PEAK_PROBE))
    started = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", config=_kernel_config(),
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - started
    probe = nb.cells.pop()
    peak_gb = float("".join(o.get("text", "") for o in probe.outputs).strip() or "nan") / 1e9
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / path.name) as tmp:
        nbformat.write(nb, str(tmp))
    return seconds, peak_gb


def run_report(rows: list[tuple[str, float, float]], failed: list[str] = ()) -> list[str]:
    """Lines of the run report: one per notebook that ran (time, peak memory), then the
    total, each checked against the course's budgets; the total of an incomplete run
    (``failed`` names the notebooks that did not run) is not checked."""
    width = max([len(name) for name, _, _ in rows] + [8])
    lines = [f"{'notebook':<{width}}  {'time':>8}  {'peak':>8}"]
    for name, seconds, peak_gb in rows:
        flag = "" if peak_gb <= NOTEBOOK_MEMORY_BUDGET_GB else \
            f"  OVER the {NOTEBOOK_MEMORY_BUDGET_GB} GB budget"
        lines.append(f"{name:<{width}}  {seconds:6.1f} s  {peak_gb:5.2f} GB{flag}")
    total = sum(seconds for _, seconds, _ in rows)
    if failed:
        lines.append(f"{'total':<{width}}  {total:6.1f} s  of the notebooks that ran; "
                     f"{len(failed)} failed ({', '.join(failed)}), so the "
                     f"{COURSE_SECONDS_BUDGET:.0f} s budget is not checked")
        return lines
    flag = "within" if total <= COURSE_SECONDS_BUDGET else "OVER"
    lines.append(f"{'total':<{width}}  {total:6.1f} s  {flag} the "
                 f"{COURSE_SECONDS_BUDGET:.0f} s budget; every notebook's budget is "
                 f"{NOTEBOOK_MEMORY_BUDGET_GB} GB")
    return lines
