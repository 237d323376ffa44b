"""The offline sample: real Allen metadata plus synthetic sessions in Allen's NWB format.

>>> from course_utils.sample import ensure_sample
>>> path = ensure_sample()          # builds on first use (about a minute), then reuses
"""
from __future__ import annotations

from pathlib import Path

from ..config import sample_dir
from .build import (ECEPHYS_DIR, OPHYS_DIR, BuildReport, NotASampleError, build_sample,
                    is_current, read_marker)
from .generate import generate_ecephys, generate_ophys, load_recipe

__all__ = ["ECEPHYS_DIR", "OPHYS_DIR", "BuildReport", "NotASampleError", "build_sample",
           "ensure_sample", "generate_ecephys", "generate_ophys", "is_current",
           "load_recipe", "read_marker"]


def ensure_sample(progress: bool = True) -> Path:
    """Return the sample folder, building it first if it is missing or outdated."""
    report = build_sample(progress=progress)
    if report is not None and progress:
        print("\n".join(report.lines()))
    return sample_dir()
