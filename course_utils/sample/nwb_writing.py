"""Writing NWB files quickly and compactly with pynwb/hdmf (used by the sample builder)."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import numpy as np

#: Datasets at least this large (bytes) are written gzip-compressed.
COMPRESS_MIN_BYTES = 64 * 1024
_GZIP = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


def concat_ragged(dc: dict, order=None) -> tuple[list, np.ndarray]:
    """Concatenate the arrays of ``dc`` (in ``order``) along axis 0, with the running end
    index of each: the same result as ``allensdk.brain_observatory.dict_to_indexed_array``
    without its detour through a Python list of every element."""
    keys = dc.keys() if order is None else order
    arrays = [np.atleast_1d(np.asarray(dc[key])) for key in keys]
    index = np.cumsum([a.shape[0] for a in arrays]).tolist()
    return index, np.concatenate(arrays)


@contextlib.contextmanager
def fast_table_writes() -> Iterator[None]:
    """Make AllenSDK's NWB writers fast and lean inside this block; restore on exit.

    * hdmf 3.14's ``DynamicTable.add_row`` re-scans the whole column on every row, so
      tables of tens of thousands of rows (stimulus presentations) take minutes. The
      check only produces a warning and our tables are rectangular by construction,
      so it is skipped.
    * AllenSDK packs ragged unit columns (spike times) through a Python list of every
      element, about 40 bytes per spike; :func:`concat_ragged` gives the same arrays.
    """
    import hdmf.common.table as table
    from allensdk.brain_observatory.ecephys import nwb_util

    saved = table.is_ragged, nwb_util.dict_to_indexed_array
    table.is_ragged = lambda data: False
    nwb_util.dict_to_indexed_array = concat_ragged
    try:
        yield
    finally:
        table.is_ragged, nwb_util.dict_to_indexed_array = saved


def keep_mantissa_bits(values: np.ndarray, bits: int = 12) -> np.ndarray:
    """Round float32 values to ``bits`` mantissa bits (relative precision 2**-bits).

    Zeroed low bits let gzip compress noisy traces several-fold; 12 bits keep a
    relative precision of 2.4e-4, far below any noise in the sample.

    Parameters
    ----------
    values : array of float32, any shape
    bits : int in [1, 23]

    Returns
    -------
    float32 array of the same shape
    """
    if not 1 <= bits <= 23:
        raise ValueError(f"bits must be in [1, 23], got {bits}")
    arr = np.ascontiguousarray(values, dtype=np.float32)
    as_int = arr.view(np.uint32)
    drop = 23 - bits
    half = np.uint32(1 << (drop - 1)) if drop else np.uint32(0)
    mask = np.uint32((0xFFFFFFFF >> drop) << drop)
    rounded = ((as_int + half) & mask).view(np.float32)
    return np.where(np.isfinite(arr), rounded, arr)


def _dense(value, min_bytes: int) -> np.ndarray | None:
    """``value`` as a numeric array if it is one (or a list of equal-shape arrays) of at
    least ``min_bytes``; otherwise None."""
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, np.ndarray) for v in value):
        if len({v.shape for v in value}) != 1:
            return None
        value = np.stack(value)
    if isinstance(value, np.ndarray) and value.dtype != object and value.nbytes >= min_bytes:
        return value
    return None


def compress_large_datasets(nwbfile, min_bytes: int = COMPRESS_MIN_BYTES) -> int:
    """Mark every large in-memory array of ``nwbfile`` for gzip compression.

    Walks all containers (tables, time series, images, templates) and wraps each
    numeric array of at least ``min_bytes`` in an ``H5DataIO``. A list of equal-shape
    arrays (as AllenSDK builds ROI masks and stimulus templates) becomes one array.

    Returns
    -------
    int
        Number of datasets marked.
    """
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    from hdmf.container import Data

    marked = 0
    for child in nwbfile.all_children():
        # Dataset fields (TimeSeries data/timestamps, Image data, template arrays).
        for name, value in list(child.fields.items()):
            array = _dense(value, min_bytes)
            if array is not None:
                child.fields[name] = H5DataIO(array, **_GZIP)
                marked += 1
        # Table columns keep their values in Data's own store.
        if isinstance(child, Data) and "data" not in child.fields:
            array = _dense(child.data, min_bytes)
            if array is not None:
                child.transform(func=lambda _, array=array: array)
                child.set_data_io(H5DataIO, dict(_GZIP))
                marked += 1
    return marked


def write_nwb(nwbfile, path: Path) -> None:
    """Write ``nwbfile`` to ``path`` with large datasets compressed."""
    import pynwb

    compress_large_datasets(nwbfile)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
