"""Give memory back to the operating system after deleting something large.

When Python frees a large object built from many small pieces (an AllenSDK session is
thousands of arrays and tables), the C allocator (glibc's ``malloc`` on Linux) keeps
most of the freed pages for later reuse. The process still *looks* as big to the
operating system, and on Binder or a shared server it is the operating system's count
that hits the memory limit. :func:`release_memory` collects garbage and then asks
glibc to hand free pages back.

>>> import numpy as np
>>> pieces = [np.ones(1000) for _ in range(20_000)]     # 160 MB in small arrays
>>> kept = [np.ones(10) for _ in range(20_000)]         # allocated after them
>>> del pieces
>>> memory = release_memory()                           # resident MB before and after
>>> memory.before_mb - memory.after_mb > 100
True
>>> print(memory)                                       # doctest: +ELLIPSIS
resident memory: ... MB -> ... MB
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import os
from typing import NamedTuple


@functools.cache
def _glibc():
    """glibc, or None elsewhere (macOS, Windows, musl): there is nothing to trim."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def resident_mb() -> float | None:
    """This process's resident memory in MB (Linux), or None where it cannot be read."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


class Released(NamedTuple):
    """Resident memory (MB) before and after :func:`release_memory`; None where it
    cannot be read."""
    before_mb: float | None
    after_mb: float | None

    def __str__(self) -> str:
        if self.before_mb is None or self.after_mb is None:
            return "resident memory: not readable on this system"
        return f"resident memory: {self.before_mb:,.0f} MB -> {self.after_mb:,.0f} MB"


def release_memory() -> Released:
    """Collect garbage, then return freed pages to the operating system (glibc only).

    Call it after ``del``-ing something large. Returns the resident memory before and
    after; elsewhere than Linux it only collects garbage.
    """
    before = resident_mb()
    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
    return Released(before, resident_mb())


__all__ = ["Released", "release_memory", "resident_mb"]
