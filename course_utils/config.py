"""Where the course's data come from: the one setting that chooses them.

Two sources exist:

``"sample"`` (the default)
    The offline sample: real Allen release tables plus synthetic sessions in Allen's
    NWB format, built locally from ``data/sample_recipe.toml``. Needs no network.
``"allen"``
    The real data, downloaded by AllenSDK from the Allen Institute's servers into a
    cache folder of your choice.

Choose with the environment variable ``COURSE_DATA_SOURCE`` (``sample`` or ``allen``)
or with the ``source=`` argument of :func:`course_utils.caches.open_ophys_cache` and
:func:`course_utils.caches.open_ecephys_cache`. The real-data cache folder comes from
``COURSE_ALLEN_CACHE_DIR`` or the ``cache_dir=`` argument.
"""
from __future__ import annotations

import os
from pathlib import Path

SOURCES = ("sample", "allen")

#: The repository root (the folder holding ``data/`` and ``notebooks/``).
REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
METADATA_DIR = DATA_DIR / "allen_metadata"
RECIPE_PATH = DATA_DIR / "sample_recipe.toml"

DEFAULT_ALLEN_CACHE_DIR = Path.home() / "allen_brain_observatory_cache"

#: Where the course is published (``owner/name`` on GitHub) and the branch that launch
#: links (Binder, Colab, the site) point to. A fork changes these two lines only.
GITHUB_REPOSITORY = "allen-course/allen-brain-observatory-course"
GITHUB_BRANCH = "main"


def data_source(source: str | None = None) -> str:
    """Return the data source to use: ``source`` if given, else ``$COURSE_DATA_SOURCE``,
    else ``"sample"``.

    Raises
    ------
    ValueError
        If the value is not one of ``"sample"`` or ``"allen"``.
    """
    value = source if source is not None else os.environ.get("COURSE_DATA_SOURCE", "sample")
    value = value.strip().lower()
    if value not in SOURCES:
        raise ValueError(
            f"Unknown data source {value!r}: expected one of {SOURCES}. "
            "Set COURSE_DATA_SOURCE=sample for the offline sample or "
            "COURSE_DATA_SOURCE=allen for the real Allen data."
        )
    return value


def _folder_setting(name: str, default, fix: str | None = None) -> Path:
    """The folder an environment variable names, or ``default`` when it is unset. Set but
    empty is refused (it would silently mean the current folder); with ``fix`` (what to
    point it at), so is an existing file."""
    value = os.environ.get(name)
    if value is not None and not value.strip():
        raise ValueError(f"{name} is set but empty; unset it (default {default}) or set it "
                         "to a folder")
    path = Path(value if value is not None else default).expanduser()
    if fix is not None and path.exists() and not path.is_dir():
        raise ValueError(f"{name}={path} is a file, not a folder; point it at {fix}")
    return path


def sample_dir() -> Path:
    """Folder holding the offline sample (``$COURSE_SAMPLE_DIR`` or ``data/offline_sample``)."""
    return _folder_setting("COURSE_SAMPLE_DIR", DATA_DIR / "offline_sample",
                           "a new or empty folder (the sample is built there)")


def allen_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Folder for real downloaded Allen data (argument, ``$COURSE_ALLEN_CACHE_DIR``, or
    ``~/allen_brain_observatory_cache``)."""
    if cache_dir is None:
        return _folder_setting("COURSE_ALLEN_CACHE_DIR", DEFAULT_ALLEN_CACHE_DIR)
    if not str(cache_dir).strip():
        raise ValueError("cache_dir is empty; give a folder for the Allen downloads")
    return Path(cache_dir).expanduser()
