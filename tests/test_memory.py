"""release_memory gives freed pages back to the operating system (glibc, Linux)."""
import numpy as np

from course_utils import memory
from course_utils.memory import release_memory, resident_mb


def test_freed_small_arrays_are_returned():
    pieces = [np.ones(1000) for _ in range(20_000)]     # 160 MB in 8 kB arrays
    kept = [np.ones(10) for _ in range(20_000)]         # above them on the heap
    grown = resident_mb()
    del pieces
    result = release_memory()
    assert result.before_mb > grown - 20                 # garbage is collected inside
    assert result.before_mb - result.after_mb > 120
    assert str(result) == (f"resident memory: {result.before_mb:,.0f} MB -> "
                           f"{result.after_mb:,.0f} MB")
    assert len(kept) == 20_000


def test_without_glibc_it_only_collects_garbage(monkeypatch):
    monkeypatch.setattr(memory.ctypes.util, "find_library", lambda name: None)
    memory._glibc.cache_clear()
    try:
        assert memory._glibc() is None
        assert release_memory().after_mb > 0
    finally:
        memory._glibc.cache_clear()


def test_where_memory_cannot_be_read(monkeypatch):
    monkeypatch.setattr(memory, "resident_mb", lambda: None)
    assert str(release_memory()) == "resident memory: not readable on this system"
