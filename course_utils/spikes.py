"""Spike counts in time bins, for many units and many windows in one call.

Convention (the Neuropixels walkthrough's, kept so that counts are identical to it):
a window around an event at time ``s`` starts at ``origin = s - pre`` and ends at
``s + post``. Spikes with ``origin <= t <= s + post`` are kept and shifted to
``t - origin``; the shifted times are counted with ``np.histogram`` rules on edges
measured from the window start: every bin is half-open ``[a, b)`` except the last,
which is closed ``[a, b]``. A spike exactly on an inner edge counts once, in the later
bin.

>>> import numpy as np
>>> spikes = {7: np.array([0.05, 0.1, 0.35, 1.0])}          # one unit, seconds
>>> counts = bin_spikes(spikes, [0.2], pre=0.2, post=0.2, bin_size=0.1)
>>> counts.dims, counts.values[0, :, 0].tolist()   # bins [0, .1) [.1, .2) [.2, .3) [.3, .4]
(('window', 'time', 'unit'), [1, 1, 0, 1])
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import xarray as xr
from numba import types
from numba.extending import intrinsic

from . import _checks


def window_edges(pre: float, post: float, bin_size: float) -> np.ndarray:
    """Bin edges in seconds from the window start (``event - pre``), shape (n_bins + 1,).

    ``np.linspace(0, pre + post, n_bins + 1)`` with ``n_bins = (pre + post) / bin_size``,
    which must be a whole number (to 1e-6). linspace puts the last edge exactly at
    ``pre + post``, where ``np.arange`` can stop one bin early or late.
    """
    for name, value in (("pre", pre), ("post", post), ("bin_size", bin_size)):
        if not np.isscalar(value) or not np.isfinite(value):
            raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    if bin_size <= 0:
        raise ValueError(f"bin_size must be positive, got {bin_size}")
    length = pre + post
    if length <= 0:
        raise ValueError(f"empty window: pre + post = {length} s (pre is the time before "
                         "the event, post the time after; both usually positive)")
    n_bins = length / bin_size
    if bin_size > length * (1 + 1e-9):
        raise ValueError(f"bin_size {bin_size} s is longer than the window (pre + post = "
                         f"{length} s): choose a bin of at most {length} s")
    if abs(n_bins - round(n_bins)) > 1e-6 * max(1.0, n_bins):
        raise ValueError(f"the window ({length} s) is not a whole number of {bin_size} s bins")
    return np.linspace(0.0, length, int(round(n_bins)) + 1)


def _as_spike_trains(spike_times, unit_ids) -> tuple[list, list[np.ndarray]]:
    if not isinstance(spike_times, Mapping):
        raise TypeError("spike_times must map unit ids to arrays of spike times "
                        f"(e.g. session.spike_times), got {type(spike_times).__name__}")
    ids = list(spike_times) if unit_ids is None else list(unit_ids)
    if not ids:
        raise ValueError("no units given")
    missing = [u for u in ids if u not in spike_times]
    if missing:
        raise KeyError(f"no spike times for unit(s) {missing[:5]}"
                       f"{' ...' if len(missing) > 5 else ''}")
    trains = [_checks.float_array(spike_times[u], f"spike_times[{u}]", 1) for u in ids]
    return ids, trains                  # count_spikes makes them contiguous float64


@numba.njit(cache=True, nogil=True)
def _train_problem(t):
    """0 if ``t`` is sorted and finite, 1 if a value is NaN or infinite, 2 if unsorted.
    One pass per block of 4096 spikes, without early exits inside a block (so the
    compiler can vectorise it);
    all 14.8 million spikes of 318 units take a few milliseconds."""
    n = t.size
    block = 4096
    for start in range(0, n, block):
        stop = min(start + block, n)
        nonfinite = False
        unsorted = False
        for i in range(start, stop):
            x = t[i]
            nonfinite |= (x - x) != 0.0                 # NaN and +-inf give NaN
            if i > 0:
                unsorted |= x < t[i - 1]
        if nonfinite:
            return 1
        if unsorted:
            return 2
    return 0


@intrinsic
def _float64_pointer(typingctx, address):
    """Numba: the integer ``address`` as a pointer to float64 (for ``numba.carray``)."""
    signature = types.CPointer(types.float64)(types.intp)

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], context.get_value_type(sig.return_type))
    return signature, codegen


@numba.njit(cache=True, nogil=True)
def _window_bounds(t, origins, ends, lo, hi):
    """``lo[w] = searchsorted(t, origins[w], "left")``, ``hi[w] = searchsorted(t, ends[w],
    "right")`` for all windows at once: the binary searches advance together, one level
    at a time, so their cache misses overlap instead of following one another."""
    n = t.size
    lo[:] = 0
    hi[:] = 0
    if n == 0:
        return
    size = n
    while size > 1:        # invariant: each answer lies in [lo[w], lo[w] + size] (hi alike)
        half = size // 2
        for w in range(origins.size):
            if t[lo[w] + half - 1] < origins[w]:
                lo[w] += half
            if t[hi[w] + half - 1] <= ends[w]:
                hi[w] += half
        size -= half
    for w in range(origins.size):
        if t[lo[w]] < origins[w]:
            lo[w] += 1
        if t[hi[w]] <= ends[w]:
            hi[w] += 1


@numba.njit(cache=True, nogil=True)
def _count_unit(t, origins, ends, edges, out):
    """Counts of one unit's sorted spikes ``t`` into ``out`` (n_windows, n_bins), every
    element of which is written. Indices are unsigned: numba then skips its checks for
    negative indices, which made the loop about 1.6x slower."""
    n_bins = edges.size - 1
    first, last = edges[0], edges[-1]
    scale = n_bins / (last - first)
    lo = np.empty(origins.size, np.intp)
    hi = np.empty(origins.size, np.intp)
    _window_bounds(t, origins, ends, lo, hi)     # first t >= origin, past last t <= end
    zero, one, top = np.uintp(0), np.uintp(1), np.uintp(n_bins - 1)
    for w in range(origins.size):
        origin = origins[w]
        row = out[w]
        row[:] = 0
        for i in range(np.uintp(lo[w]), np.uintp(hi[w])):
            x = t[i] - origin                               # the walkthrough's shift
            if x < first or x > last:
                continue
            if x == last:                                   # the last bin is closed
                row[top] += 1
                continue
            b = np.uintp(int((x - first) * scale))          # a guess, then exact:
            if b > top:
                b = top
            while b > zero and x < edges[b]:                # edges[b] <= x
                b -= one
            while b < top and x >= edges[b + one]:          # x < edges[b + 1]
                b += one
            row[b] += 1


@numba.njit(cache=True, nogil=True)
def _count_units(addresses, sizes, units, origins, ends, edges, out, problems):
    """For each position ``k`` in ``units``: check unit k's spike times
    (:func:`_train_problem`, into ``problems[k]``) and, if they are sound, count them
    (:func:`_count_unit`). Unit k's times are ``sizes[k]`` contiguous float64 at memory
    address ``addresses[k]``. One call handles many units, so a thread releases the GIL
    once, not once per unit."""
    for k in units:
        t = numba.carray(_float64_pointer(addresses[k]), (sizes[k],))
        problems[k] = _train_problem(t)
        if problems[k] == 0:
            _count_unit(t, origins, ends, edges, out[k])


_N_JOBS = max(1, min(4, os.cpu_count() or 1))
_POOL = ThreadPoolExecutor(_N_JOBS)


def _address(t: np.ndarray) -> int:
    return t.__array_interface__["data"][0]


def _raise_for(problems: np.ndarray) -> None:
    """The error for trains that are not sorted or hold NaN or infinite times. Checked on
    every call: a cache of arrays once found sound would miss later in-place edits."""
    for problem, what, fix in ((1, "hold NaN or infinite values", "drop them (t[np.isfinite(t)])"),
                               (2, "are not sorted", "sort them first (np.sort)")):
        bad = np.flatnonzero(problems == problem).tolist()
        if bad:
            raise ValueError(f"spike times of unit(s) at position(s) {bad[:5]} {what}; {fix}")


def count_spikes(trains: Sequence[np.ndarray], origins: np.ndarray, ends: np.ndarray,
                 edges: np.ndarray) -> np.ndarray:
    """The counting kernel: int32 counts, shape (n_windows, n_bins, n_units).

    ``trains``: spike times per unit (s, sorted, finite); ``origins``, ``ends``: absolute
    window limits (s), shape (n_windows,); ``edges``: increasing, relative to each
    origin. Compiled with numba; units are shared among threads.
    """
    origins = np.ascontiguousarray(origins, dtype=np.float64)
    ends = np.ascontiguousarray(ends, dtype=np.float64)
    edges = np.ascontiguousarray(edges, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not (np.diff(edges) > 0).all():
        raise ValueError("edges must be increasing, with at least two values")
    if origins.ndim != 1 or origins.shape != ends.shape:
        raise ValueError(f"origins and ends must be 1-D and of one length, got shapes "
                         f"{origins.shape} and {ends.shape}")
    if not (np.isfinite(origins).all() and np.isfinite(ends).all()):
        raise ValueError("window limits must be finite times (s), not NaN or infinite")
    # the kernel reads the trains through their addresses: they must be contiguous
    # float64 and stay referenced (by ``trains``) until every share has returned
    trains = [np.ascontiguousarray(t, dtype=np.float64) for t in trains]
    n_units = len(trains)
    addresses = np.array([_address(t) for t in trains], dtype=np.intp)
    sizes = np.array([t.size for t in trains], dtype=np.intp)
    out = np.empty((n_units, origins.size, edges.size - 1), dtype=np.int32)  # all written
    problems = np.zeros(n_units, dtype=np.int8)       # unless a train is unsound: raised

    def count_share(units, keep_alive=trains):    # (a running share still reads them)
        _count_units(addresses, sizes, units, origins, ends, edges, out, problems)

    shares = [np.arange(j, n_units, _N_JOBS) for j in range(_N_JOBS)]   # interleaved
    helpers = [_POOL.submit(count_share, units) for units in shares[1:]]
    count_share(shares[0])                          # this thread takes the first share
    for helper in helpers:
        helper.result()
    _raise_for(problems)
    return out.transpose(1, 2, 0)


def bin_spikes(spike_times: Mapping, event_times, pre: float, post: float,
               bin_size: float | None = None, *, edges=None, unit_ids=None,
               window_dim: str = "window", event_coord: str = "event_time",
               window_coords: Mapping | None = None, unit_coords: Mapping | None = None,
               max_gb: float = _checks.MAX_OUTPUT_GB) -> xr.DataArray:
    """Spike counts of many units around many events.

    Parameters
    ----------
    spike_times : mapping ``{unit_id: spike times (s)}``, each sorted and finite, e.g.
        ``session.spike_times``.
    event_times : event (window reference) times in seconds, shape (n_windows,).
    pre, post : seconds kept before and after each event.
    bin_size : bin width in seconds; edges from :func:`window_edges`. Or give ``edges``
        (seconds from the window start ``event - pre``, increasing, within
        ``[0, pre + post]``) instead.
    unit_ids : which units, in this order (default: all keys of ``spike_times``).
    window_dim : name of the first dimension (e.g. ``"epoch"``).
    event_coord : name of the coordinate holding the event times.
    window_coords, unit_coords : extra coordinates ``{name: values}`` along the windows
        and the units (e.g. stimulus names, brain areas).
    max_gb : refuse (``ValueError``, before counting) a result larger than this, in GB.

    Returns
    -------
    DataArray of int32 counts, dims (window_dim, "time", "unit"), shape
    (n_windows, n_bins, n_units). Coordinates: ``event_coord`` (s) on the windows,
    ``time`` = bin centres relative to the event (s), ``unit``; attributes ``bin_edges``
    (from the window start, s), ``pre``, ``post`` and the counting convention. Windows
    that run past the recording simply count no spikes there.
    """
    if (bin_size is None) == (edges is None):
        raise ValueError("give either bin_size or edges (not both)")
    if edges is None:
        edges = window_edges(pre, post, bin_size)
    else:
        edges = _checks.float_array(edges, "edges", 1)     # increasing: count_spikes checks
        slack = 1e-9 * max(1.0, abs(pre + post))         # np.arange can overshoot by ulps
        if edges.size and (edges[0] < -slack or edges[-1] > pre + post + slack):
            raise ValueError(
                f"edges run from {edges[0]} to {edges[-1]} s after the window start, but "
                f"a window keeps only spikes from 0 to pre + post = {pre + post} s: bins "
                "outside it would always count 0. Give edges within [0, pre + post], or "
                "widen pre or post")
    events = _checks.float_array(event_times, "event_times", 1)
    if events.size == 0 or not np.isfinite(events).all():
        raise ValueError("event_times must be a non-empty array of finite times (s)")
    if unit_ids is not None:
        unit_ids = list(unit_ids)                  # a generator is read once, here
    ids = list(spike_times) if unit_ids is None and isinstance(spike_times, Mapping) \
        else unit_ids
    _checks.output_size((events.size, edges.size - 1, len(ids) if ids is not None else 0), 4,
                        max_gb, "the spike counts", "use wider bins, a shorter window, "
                        "fewer windows or fewer units")
    ids, trains = _as_spike_trains(spike_times, unit_ids)
    origins = events - pre
    counts = count_spikes(trains, origins, events + post, edges)
    centres = (edges[:-1] + edges[1:]) / 2 - pre
    coords = {event_coord: (window_dim, events.copy()), "time": centres,
              "unit": np.asarray(ids)}
    for dim, extra, n in ((window_dim, window_coords, events.size), ("unit", unit_coords, len(ids))):
        for name, values in (extra or {}).items():
            values = np.asarray(values)
            if values.shape != (n,):
                raise ValueError(f"coordinate {name!r} has shape {values.shape}; the "
                                 f"{dim} dimension has {n} entries")
            coords[name] = (dim, values)
    return xr.DataArray(
        counts, dims=(window_dim, "time", "unit"), coords=coords, name="spike_counts",
        attrs={"units": "spikes per bin", "pre": float(pre), "post": float(post),
               "bin_edges": edges, "bin_size": float(np.median(np.diff(edges))),
               "convention": "spikes with event-pre <= t <= event+post, counted on "
                             "bin_edges from event-pre; bins [a, b) except the last, [a, b]"})
