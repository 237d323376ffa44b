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

import os
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

ENGINE = "h5netcdf"


def _storable_attrs(attrs: dict) -> dict:
    out = {}
    for key, value in attrs.items():
        if isinstance(value, (bool, np.bool_)):
            value = int(value)
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
            value = list(value)
        elif not isinstance(value, (str, int, float, np.ndarray, np.number, list, tuple)):
            raise TypeError(f"attribute {key!r} is a {type(value).__name__}; NetCDF stores "
                            "strings, numbers and arrays only")
        out[key] = value
    return out


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
    data = data.copy()
    data.attrs = _storable_attrs(data.attrs)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".nc.tmp", dir=path.parent)
    os.close(fd)
    try:
        data.to_netcdf(tmp, engine=ENGINE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_netcdf(path: str | os.PathLike) -> xr.DataArray | xr.Dataset:
    """Read a file written by :func:`save_netcdf` fully into memory (the file is
    closed afterwards). A one-variable file comes back as a DataArray."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    with xr.open_dataset(path, engine=ENGINE) as ds:
        ds = ds.load()
    if len(ds.data_vars) == 1:
        (name,) = ds.data_vars
        da = ds[name]
        da.attrs = dict(ds[name].attrs)
        return da
    return ds
