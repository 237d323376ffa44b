"""Save labelled arrays to portable, self-describing files, safely.

NetCDF (via xarray and h5netcdf) keeps the data with its dimension names, coordinates
and attributes; any language with a NetCDF or HDF5 reader can open it. Writes go to a
temporary file in the same folder that is renamed into place only when complete, so an
interrupted save never leaves a half-written file, and an existing file is replaced
only when asked.

>>> import tempfile
>>> import numpy as np, xarray as xr
>>> counts = xr.DataArray(np.arange(6, dtype="int32").reshape(2, 3), name="spike_counts",
...                       dims=("epoch", "unit"), coords={"unit": [101, 102, 103]},
...                       attrs={"session_id": 756029989})
>>> folder = tempfile.TemporaryDirectory()
>>> path = Path(folder.name) / "counts.nc"
>>> save_netcdf(counts, path).name
'counts.nc'
>>> load_netcdf(path).identical(counts)
True
>>> save_netcdf(counts, path)                                   # doctest: +ELLIPSIS
Traceback (most recent call last):
FileExistsError: ... exists; pass overwrite=True (or --overwrite) to replace it, ...
>>> folder.cleanup()
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from ._fs import atomic_path

ENGINE = "h5netcdf"
#: File attribute recording what NetCDF cannot: DataArray or Dataset, and which
#: attributes were lists (a one-element list reads back as a scalar otherwise).
LAYOUT_ATTR = "course_utils_layout"


def _storable_attrs(attrs: dict, where: str) -> tuple[dict, dict]:
    """Attributes NetCDF can hold, and which of them were lists or bools (so they can be
    restored). Refuses what would not load back equal: other types, empty or mixed lists."""
    out, kinds_of = {}, {"lists": [], "bools": []}
    for key, value in attrs.items():
        if key == LAYOUT_ATTR:
            raise ValueError(f"attribute {key!r} of {where} is the name save_netcdf uses "
                             "to describe the file; rename it")
        if isinstance(value, (bool, np.bool_)):
            kinds_of["bools"].append(key)
            value = int(value)
        elif isinstance(value, (list, tuple)):
            kinds = {str if isinstance(v, str) else
                     float if isinstance(v, (float, int, np.number))
                     and not isinstance(v, (bool, np.bool_)) else None for v in value}
            if not value or len(kinds) != 1 or None in kinds:
                raise TypeError(f"attribute {key!r} of {where} is a list NetCDF cannot hold "
                                "unchanged: give a non-empty list of only strings or only "
                                "numbers")
            kinds_of["lists"].append(key)
            value = list(value)
        elif not isinstance(value, (str, int, float, np.ndarray, np.number)):
            raise TypeError(f"attribute {key!r} of {where} is a {type(value).__name__}; "
                            "NetCDF stores strings, numbers and arrays only")
        out[key] = value
    return out, kinds_of


def _with_layout(data: xr.DataArray | xr.Dataset) -> xr.Dataset:
    """``data`` as a Dataset ready to write, with :data:`LAYOUT_ATTR` describing it."""
    kind = "DataArray" if isinstance(data, xr.DataArray) else "Dataset"
    data = data.copy(deep=False)          # new variables: the caller's attrs stay as they are
    if kind == "DataArray":
        name = data.name if data.name is not None else "__xarray_dataarray_variable__"
        if name in data.dims or name in data.coords:
            raise ValueError(f"the DataArray is named {name!r} like one of its dimensions "
                             "or coordinates, which NetCDF cannot tell apart; rename it "
                             "(data.rename('...')) before saving")
        ds = data.to_dataset(name=name, promote_attrs=False)
    else:
        ds = data
    layout = {"kind": kind, "lists": {}, "bools": {}}
    ds.attrs, found = _storable_attrs(ds.attrs, "the data")
    places = {"": found}
    for name, var in ds.variables.items():
        var.attrs, places[str(name)] = _storable_attrs(var.attrs, f"variable {name!r}")
    for where, found in places.items():
        for kind_of in ("lists", "bools"):
            if found[kind_of]:
                layout[kind_of][where] = found[kind_of]
    if kind == "DataArray":
        layout["name"] = data.name
    ds.attrs[LAYOUT_ATTR] = json.dumps(layout)
    return ds


def _as_list(value) -> list:
    return np.atleast_1d(value).tolist()


def save_netcdf(data: xr.DataArray | xr.Dataset, path: str | os.PathLike,
                overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` (NetCDF-4) atomically; refuse to replace an existing
    file unless ``overwrite=True``. Returns the path written."""
    if not isinstance(data, (xr.DataArray, xr.Dataset)):
        raise TypeError(f"expected an xarray DataArray or Dataset, got {type(data).__name__}")
    path = Path(path)
    if path.suffix != ".nc":
        raise ValueError(f"{path.name}: use the .nc extension for NetCDF files")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (or --overwrite) to "
                              "replace it, or choose another name")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {path.parent} does not exist; create it first")
    data = _with_layout(data)
    with atomic_path(path) as tmp:
        data.to_netcdf(tmp, engine=ENGINE)
    return path


def load_netcdf(path: str | os.PathLike) -> xr.DataArray | xr.Dataset:
    """Read a file written by :func:`save_netcdf` fully into memory (the file is
    closed afterwards): what was saved comes back ``identical()``, a DataArray as a
    DataArray and a Dataset (even of one variable) as a Dataset. A NetCDF file from
    elsewhere with one variable comes back as a DataArray."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    with xr.open_dataset(path, engine=ENGINE) as ds:
        ds = ds.load()
    try:
        layout = json.loads(ds.attrs.pop(LAYOUT_ATTR, "null") or "null")
        if layout is not None and layout.get("kind") not in ("DataArray", "Dataset"):
            layout = None
    except (TypeError, ValueError, AttributeError):
        layout = None                    # changed by another tool: read it as a plain file
    if layout is None:                   # a file from elsewhere: one variable -> DataArray
        if len(ds.data_vars) == 1:
            (name,) = ds.data_vars
            return ds[name]
        return ds
    for kind_of, restore in (("lists", _as_list), ("bools", bool)):
        for where, keys in layout.get(kind_of, {}).items():
            attrs = ds.attrs if where == "" else ds[where].attrs
            for key in keys:
                attrs[key] = restore(attrs[key])
    if layout["kind"] == "DataArray":
        (name,) = ds.data_vars
        da = ds[name]
        da.name = layout.get("name")
        return da
    return ds
