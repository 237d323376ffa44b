"""The real Allen release tables the course ships, and helpers to query them."""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from . import _checks
from .config import METADATA_DIR

VISUAL_AREAS = ("VISp", "VISl", "VISrl", "VISal", "VISpm", "VISam")
#: Short names used in the literature for the six visual areas.
AREA_SHORT_NAMES = {"VISp": "V1", "VISl": "LM", "VISrl": "RL", "VISal": "AL",
                    "VISpm": "PM", "VISam": "AM"}

_TOKEN = re.compile(r"'([^']*)'|\"([^\"]*)\"|\b(nan|None)\b")


def parse_acronyms(value) -> list[str | None]:
    """Structure acronyms of one table cell as a list (missing names become None).

    Accepts what the Neuropixels tables hold: a NumPy-array repr such as
    ``"['CA1' 'VISrl' nan\\n 'PO']"`` (what ``vcnp_sessions.csv`` stores, which
    ``ast.literal_eval`` cannot read), a Python list literal, or an actual list/array.

    >>> parse_acronyms("['CA1' 'VISrl' nan\\n 'PO']")
    ['CA1', 'VISrl', None, 'PO']
    """
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [None if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v)
                for v in value]
    if not isinstance(value, str):
        raise TypeError(f"expected a string or a list of acronyms, got {type(value).__name__}")
    text = value.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise ValueError(f"not a list of acronyms: {value[:60]!r} (expected '[...]')")
    out: list[str | None] = []
    for single, double, missing in _TOKEN.findall(text):
        out.append(None if missing else (single or double))
    return out


def sessions_with_areas(sessions: pd.DataFrame, areas: Iterable[str] = VISUAL_AREAS,
                        session_type: str | None = "brain_observatory_1.1") -> list[int]:
    """Ids of the sessions (index of ``sessions``) that record every one of ``areas``.

    Parameters
    ----------
    sessions : DataFrame indexed by session id, with an ``ecephys_structure_acronyms``
        column (strings as in the CSV, or lists/arrays as AllenSDK returns them) and,
        if ``session_type`` is given, a ``session_type`` column.
    areas : structure acronyms that must all be present
    session_type : keep only sessions of this type; None keeps all

    Returns
    -------
    list of int, in the table's order
    """
    if "ecephys_structure_acronyms" not in sessions.columns:
        raise KeyError("sessions has no 'ecephys_structure_acronyms' column: pass the "
                       "Neuropixels session table (cache.get_session_table()).")
    table = sessions
    if session_type is not None:
        if session_type not in set(table["session_type"]):
            raise ValueError(f"no session of type {session_type!r}; types present: "
                             f"{sorted(set(table['session_type']))}")
        table = table[table["session_type"] == session_type]
    wanted = set(_checks.name_list(areas, "areas"))
    keep = [set(parse_acronyms(cell)) >= wanted for cell in table["ecephys_structure_acronyms"]]
    return [int(i) for i in table.index[np.asarray(keep, dtype=bool)]]


def read_table(name: str, directory: Path = METADATA_DIR) -> pd.DataFrame:
    """Read one shipped table by file stem, e.g. ``read_table("vcnp_sessions")``."""
    path = Path(directory) / f"{name}.csv"
    if not path.exists():
        known = sorted(p.stem for p in Path(directory).glob("*.csv"))
        raise KeyError(f"no shipped table {name!r}; known tables: {known}")
    return pd.read_csv(path)
