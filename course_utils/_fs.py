"""File-system steps shared by the builders: a finished folder replaces the old one in
two renames, so readers never see a half-written folder."""
from __future__ import annotations

import os
import shutil
from pathlib import Path


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
