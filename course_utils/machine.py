"""What this process may use of the machine: CPUs and memory, cgroup limits included
(a container, Binder or a batch job often allows less than the machine has).

>>> usable_cpus() >= 1
True
>>> usable_memory_gb() > 0
True
"""
from __future__ import annotations

import os
from pathlib import Path


def usable_cpus() -> int:
    """CPUs this process may use: its affinity, capped by a cgroup v2 CPU quota."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cpus = min(cpus, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cpus


def usable_memory_gb() -> float:
    """Memory this process may use (GB): the machine's, capped by a cgroup limit."""
    limits = []
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
            if text != "max":
                limits.append(int(text) / 1e9)
        except (OSError, ValueError):
            pass
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9)
    except (OSError, ValueError, AttributeError):
        pass
    return min(limits) if limits else float("inf")
