"""File-system steps shared by the helpers and tools: a finished file or folder replaces
the old one by a rename, so readers never see a half-written one, with the permissions a
plain ``open()`` would have given."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def current_umask() -> int:
    """The process's umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)          # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def _final_mode(path: Path) -> int:
    """A replaced file keeps its mode; a new one gets what ``open()`` would give."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


@contextmanager
def _interrupt_deferred() -> Iterator[list]:
    """Within the block, Ctrl-C is recorded instead of raised (a C library writing a file
    may otherwise swallow it); the caller acts on it afterwards."""
    hits: list = []
    previous = signal.getsignal(signal.SIGINT)
    # Leave alone: other threads (handlers live in the main thread), a process that
    # ignores Ctrl-C (a background job), and a handler set outside Python (None).
    if (threading.current_thread() is not threading.main_thread()
            or previous in (signal.SIG_IGN, None)):
        yield hits
        return
    signal.signal(signal.SIGINT, lambda signum, frame: hits.append(signum))
    try:
        yield hits
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; when the block ends without error it
    is renamed to ``path`` (a replaced file keeps its mode, a new file gets the mode a
    plain ``open()`` gives under the umask). On error or Ctrl-C the temporary file is
    removed, ``path`` is untouched, and the error (or ``KeyboardInterrupt``) propagates.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        with _interrupt_deferred() as interrupted:
            yield tmp
        if interrupted:
            raise KeyboardInterrupt("interrupted while writing " + str(path))
        os.chmod(tmp, _final_mode(path))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def swap_into_place(work: Path, target: Path) -> None:
    """Rename the finished folder ``work`` to ``target``; a folder already at ``target``
    is moved aside (``<target>.old-<pid>``) first and removed afterwards."""
    old = None
    if target.exists():
        old = target.parent / f"{target.name}.old-{os.getpid()}"
        target.rename(old)
    work.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def blake2b_of(path: Path) -> str:
    """Hexadecimal BLAKE2b digest of a file (the hash AllenSDK's release manifests use;
    the sample records it for every file it writes)."""
    digest = hashlib.blake2b()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
