"""Compare objects the offline sample gives with the real data's schema, kept as data.

The real schema lives in ``tests/real_schema/*.json``, one file per dataset. Each file::

    {
      "about": "...",
      "objects": {
        "<name>": {
          "what": "session.units (EcephysSession.units)",
          "kind": "frame" | "mapping" | "sequence",
          "source": {"repo": "AllenInstitute/AllenSDK", "path": "...",
                     "commit": "<40 hex>", "cell": 12, "allensdk_version": "2.16.2",
                     "note": "how the fact was read off the output"},
          "certain": true,                    # false: "uncertain_because" says why
          "index_name": "unit_id",            # frames: the index's name (null: unnamed)
          "columns": {"name": "<family>"},    # frames: every column the output shows
          "columns_exhaustive": true,         # true: the output shows all columns
          "uncertain_dtypes": ["col", ...],   # families inferred weakly: presence only
          "keys": {"key": "<family>"},        # mappings (e.g. experiment.metadata)
          "values": {"key": <real value>}     # known real values (mappings, sequences)
        }
      }
    }

Families: ``int``, ``float``, ``bool``, ``str``, ``category``, ``datetime``,
``timedelta``, ``array`` (a cell holding an array), ``object`` (mixed or None),
``any`` (not checked).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

SCHEMA_DIR = Path(__file__).resolve().parent / "real_schema"
FAMILIES = {"int", "float", "bool", "str", "category", "datetime", "timedelta", "array",
            "object", "any"}


def load_schema(name: str) -> dict:
    """The ``objects`` of ``tests/real_schema/<name>.json``."""
    with open(SCHEMA_DIR / f"{name}.json", encoding="utf-8") as f:
        return json.load(f)["objects"]


def series_family(series: pd.Series) -> str:
    """The dtype family of a column (see the module docstring)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "timedelta"
    if pd.api.types.is_string_dtype(dtype) or dtype == object:
        values = series.dropna()
        if values.empty:
            return "object"
        kinds = {type(v) for v in values}
        if kinds <= {str}:
            return "str"
        if kinds <= {bool, np.bool_}:
            return "bool"
        if all(isinstance(v, (np.ndarray, list, tuple)) for v in values):
            return "array"
        return "object"
    return str(dtype)


def value_family(value) -> str:
    """The family of one value of a mapping."""
    if value is None:
        return "object"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (pd.Timestamp, np.datetime64)) or hasattr(value, "isoformat"):
        return "datetime"
    if isinstance(value, (np.ndarray, list, tuple)):
        return "array"
    return type(value).__name__


def _compatible(actual: str, expected: str) -> bool:
    if expected == "any" or actual == expected:
        return True
    # pandas stores an all-missing text column as object; an int column with NaN as float
    return (expected, actual) in {("str", "object"), ("object", "str")}


def frame_differences(df: pd.DataFrame, entry: dict) -> list[str]:
    """Every way ``df`` differs from a ``kind: frame`` schema entry (empty: none)."""
    out = []
    if "index_name" in entry and df.index.name != entry["index_name"]:
        out.append(f"index name {df.index.name!r}, real {entry['index_name']!r}")
    columns = entry.get("columns", {})
    missing = [c for c in columns if c not in df.columns]
    if missing:
        out.append(f"missing columns {missing}")
    if entry.get("columns_exhaustive"):
        extra = [c for c in df.columns if c not in columns]
        if extra:
            out.append(f"columns real data does not have {extra}")
    weak = set(entry.get("uncertain_dtypes", []))
    for column, family in columns.items():
        if column in df.columns and column not in weak:
            actual = series_family(df[column])
            if not _compatible(actual, family):
                out.append(f"column {column!r} is {actual} ({df[column].dtype}), real {family}")
    return out


def mapping_differences(mapping: dict, entry: dict) -> list[str]:
    """Every way a dict (e.g. ``experiment.metadata``) differs from a ``kind: mapping``
    entry: missing or extra keys, value families, known real values."""
    out = []
    keys = entry.get("keys", {})
    missing = [k for k in keys if k not in mapping]
    if missing:
        out.append(f"missing keys {missing}")
    if entry.get("columns_exhaustive", entry.get("keys_exhaustive")):
        extra = [k for k in mapping if k not in keys]
        if extra:
            out.append(f"keys real data does not have {extra}")
    weak = set(entry.get("uncertain_dtypes", []))
    for key, family in keys.items():
        if key in mapping and key not in weak:
            actual = value_family(mapping[key])
            if not _compatible(actual, family):
                out.append(f"{key!r} is {actual} ({mapping[key]!r}), real {family}")
    for key, real in entry.get("values", {}).items():
        if key in mapping and not _same_value(mapping[key], real):
            out.append(f"{key!r} is {mapping[key]!r}, real {real!r}")
    return out


def _same_value(actual, real) -> bool:
    if isinstance(real, float) and isinstance(actual, (int, float, np.number)):
        return bool(np.isclose(float(actual), real, rtol=1e-9, atol=1e-12))
    if isinstance(real, list):
        return [a if not isinstance(a, np.generic) else a.item() for a in actual] == real
    if isinstance(actual, np.generic):
        actual = actual.item()
    return actual == real
