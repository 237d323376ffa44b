"""allensdk 2.16.2 under pandas 2 (the Python 3.12 / Colab environment).

allensdk 2.16.2 declares ``pandas==1.5.3``, which has no Python 3.12 build, so the
Python 3.12 recipe (``requirements-py312.txt``) runs it on pandas 2. One incompatibility
matters to the course: the Visual Behavior cache parses ``date_of_acquisition`` with
``pd.to_datetime(column, utc=True)`` and no format. The real release tables mix
``2019-09-25 13:31:46.772000`` and ``2019-09-25 13:31:46`` in that column; pandas 1.5
parsed each value, but pandas 2 infers one format from the first value and raises
``ValueError: time data ... doesn't match format`` on the first value without
fractional seconds, so the cache cannot even be opened (offline sample or real data).

:func:`patch_allensdk_for_pandas2` makes exactly those calls parse ISO 8601 element by
element (``format="ISO8601"``), which gives the values pandas 1.5 gave. It changes
nothing under pandas 1.x, nothing outside that allensdk module, and never overrides a
format the caller passes. :func:`course_utils.caches.open_ophys_cache` applies it.
"""
from __future__ import annotations

import importlib
from types import ModuleType

import pandas as pd

#: The allensdk modules whose module-level ``pd.to_datetime`` calls need the patch.
PATCHED_MODULES = (
    "allensdk.brain_observatory.behavior.behavior_project_cache.project_apis.data_io."
    "behavior_project_cloud_api",
)


class PandasWithISODates:
    """Stands in for the ``pandas`` module inside one allensdk module: everything is
    pandas itself, except that :meth:`to_datetime` without a format parses ISO 8601
    strings value by value.

    Parameters
    ----------
    pandas : the real ``pandas`` module
    """

    def __init__(self, pandas: ModuleType) -> None:
        self._pandas = pandas

    def __getattr__(self, name: str):
        return getattr(self._pandas, name)

    def to_datetime(self, arg, *args, **kwargs):
        """``pandas.to_datetime`` with ``format="ISO8601"`` unless a format is given."""
        if not args and kwargs.get("format") is None:
            kwargs["format"] = "ISO8601"
        return self._pandas.to_datetime(arg, *args, **kwargs)


def needs_patch(pandas_version: str = pd.__version__) -> bool:
    """True for pandas 2 or later, whose ``to_datetime`` infers one format per column."""
    return int(pandas_version.split(".")[0]) >= 2


def patch_allensdk_for_pandas2() -> list[str]:
    """Make allensdk's Visual Behavior cache read mixed-precision acquisition dates
    under pandas 2. Safe to call any number of times.

    Returns
    -------
    list of str
        The modules patched by this call (empty under pandas 1.x or if already done).

    Raises
    ------
    RuntimeError
        If a module to patch no longer refers to pandas as ``pd`` (another allensdk
        version): the patch would silently do nothing, so it refuses instead.
    """
    if not needs_patch():
        return []
    patched = []
    for name in PATCHED_MODULES:
        module = importlib.import_module(name)
        current = getattr(module, "pd", None)
        if isinstance(current, PandasWithISODates):
            continue
        if current is not pd:
            raise RuntimeError(
                f"{name} has no module-level 'pd' = pandas; this allensdk version is not "
                "the pinned 2.16.2. Install the course's pins (requirements-py312.txt).")
        module.pd = PandasWithISODates(pd)
        patched.append(name)
    return patched
