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
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

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


def _order_key(x: np.ndarray) -> np.ndarray:
    """int64 keys that sort like the float64 values ``x`` (adjacent floats: adjacent keys)."""
    bits = x.view(np.int64)
    return np.where(bits >= 0, bits, np.int64(-2**63) - bits)


def _from_order_key(key: np.ndarray) -> np.ndarray:
    return np.where(key >= 0, key, np.int64(-2**63) - key).view(np.float64)


def _first_time_where(origins: np.ndarray, values: np.ndarray, strict: bool) -> np.ndarray:
    """The smallest float64 ``c`` with ``c - origin >= value`` (``> value`` if ``strict``),
    with the subtraction rounded in float64 exactly as the walkthrough shifts its
    spikes; elementwise, broadcasting ``origins`` against ``values``.

    ``t - origin`` never decreases as ``t`` grows, so the spikes shifted into
    ``[value, ...)`` are exactly those with ``t >= c``: counting them needs no shifting.
    Usually ``c = origin + value``; where it is not, a bisection over the floats finds it.
    """
    origins, values = np.broadcast_arrays(origins, values)

    def holds(c, o, v):
        return (c - o > v) if strict else (c - o >= v)

    c = origins + values
    done = holds(c, origins, values) & ~holds(np.nextafter(c, -np.inf), origins, values)
    if done.all():
        return c
    o, v = origins[~done], values[~done]
    # bracket: holds at `high`, not at `low`, then halve the gap between their keys
    width = (np.abs(o) + np.abs(v)) * 2.0**-50 + 1e-300
    while True:
        low, high = o + v - width, o + v + width
        bracketed = holds(high, o, v) & ~holds(low, o, v)
        if bracketed.all():
            break
        width = np.where(bracketed, width, width * 2)
    low, high = _order_key(low), _order_key(high)
    while (high > low + 1).any():
        middle = (low >> 1) + (high >> 1) + (low & high & 1)    # floor mean, no overflow
        yes = holds(_from_order_key(middle), o, v)
        high, low = np.where(yes, middle, high), np.where(yes, low, middle)
    c = c.copy()
    c[~done] = _from_order_key(high)
    return c


def bin_limits(origins: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Absolute times that split each window into its bins, shape (n_windows, n_bins + 1).

    A spike at ``t`` lies in bin ``j`` of window ``w`` exactly when
    ``limits[w, j] <= t < limits[w, j + 1]``: the same spikes the walkthrough's
    ``t - origin`` and ``np.histogram(..., edges)`` put there, last bin closed, and
    nothing outside ``origin <= t <= end``.
    """
    o = origins[:, None]
    limits = _first_time_where(o, edges[None, :], strict=False)
    limits[:, 0] = np.maximum(limits[:, 0], origins)                # and t >= origin
    past_last = _first_time_where(origins, np.full_like(origins, edges[-1]), strict=True)
    limits[:, -1] = np.minimum(past_last, np.nextafter(ends, np.inf))   # t <= end
    return limits


def _train_problem(t: np.ndarray) -> int:
    """0 if ``t`` is finite and sorted, 1 if it holds NaN or infinite values, 2 if it is
    not sorted. Checked on every call (the arrays may have been edited in place)."""
    if (t[1:] >= t[:-1]).all():         # False next to a NaN: sorted means no NaN, and
        ends = t[[0, -1]] if t.size else t      # infinities could only sit at the ends
        return 0 if np.isfinite(ends).all() else 1
    return 1 if not np.isfinite(t).all() else 2


def _count_numpy(trains: list[np.ndarray], limits: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Counts (n_units, n_windows, n_bins) and problem codes, in plain NumPy.

    For each unit, one ``np.searchsorted`` finds how many spikes come before every bin
    limit of every window; the differences between neighbours are the counts. Units are
    shared between up to four threads, one per CPU (``searchsorted`` runs without the
    GIL).
    """
    n_windows, n_limits = limits.shape
    flat = limits.ravel()
    out = np.empty((len(trains), n_windows, n_limits - 1), dtype=np.int32)
    problems = np.zeros(len(trains), dtype=np.int8)

    def count_unit(k):
        problems[k] = _train_problem(trains[k])
        if problems[k] == 0:
            before = np.searchsorted(trains[k], flat).reshape(n_windows, n_limits)
            # bins cannot reach past the window's own first and last limits
            before = np.clip(before, before[:, :1], before[:, -1:])
            out[k] = np.diff(before, axis=1)

    with ThreadPoolExecutor(_N_THREADS) as pool:
        list(pool.map(count_unit, range(len(trains))))
    return out, problems


_N_THREADS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                          else os.cpu_count() or 1))


class _FastKernel:
    """numba's compiled kernel (:mod:`course_utils._spikes_numba`), loaded in a
    background thread after the first count. Loading it costs more than a NumPy count
    of a whole session, which is why the first call does not wait for it."""

    def __init__(self):
        self.module = None
        self.error = None          # why loading failed, if it did
        self._lock = threading.Lock()
        self._loader = None

    def ready(self):
        """The loaded module, or None (not loaded yet, or numba is not installed)."""
        return self.module

    def start(self):
        """Start loading in the background, once."""
        with self._lock:
            if self._loader is None:
                self._loader = threading.Thread(target=self._load, name="numba-kernel")
                self._loader.start()

    def wait(self):
        """Load now and return the module (None without numba)."""
        self.start()
        self._loader.join()
        return self.module

    def _load(self):
        try:
            from . import _spikes_numba
            _spikes_numba.warm_up()
        except Exception as err:            # no numba, or it failed: NumPy counts everything
            self.error = err
            return
        self.module = _spikes_numba


_FAST = _FastKernel()


def _raise_for(problems: np.ndarray) -> None:
    """The error for trains that are not sorted or hold NaN or infinite times."""
    for problem, what, fix in ((1, "hold NaN or infinite values", "drop them (t[np.isfinite(t)])"),
                               (2, "are not sorted", "sort them first (np.sort)")):
        bad = np.flatnonzero(problems == problem).tolist()
        if bad:
            raise ValueError(f"spike times of unit(s) at position(s) {bad[:5]} {what}; {fix}")


def count_spikes(trains: Sequence[np.ndarray], origins: np.ndarray, ends: np.ndarray,
                 edges: np.ndarray, *, engine: str = "auto") -> np.ndarray:
    """The counting step: int32 counts, shape (n_windows, n_bins, n_units).

    ``trains``: spike times per unit (s, sorted, finite); ``origins``, ``ends``: absolute
    window limits (s), shape (n_windows,); ``edges``: increasing, relative to each
    origin. ``engine``: ``"numpy"`` (:func:`bin_limits`, then one ``np.searchsorted`` per
    unit), ``"numba"`` (a compiled kernel, about 7x faster once loaded) or ``"auto"``:
    numba once it has loaded in the background, NumPy until then. Counts are identical.
    """
    if engine not in ("auto", "numpy", "numba"):
        raise ValueError(f"engine must be 'auto', 'numpy' or 'numba', got {engine!r}")
    origins = np.ascontiguousarray(origins, dtype=np.float64)
    ends = np.ascontiguousarray(ends, dtype=np.float64)
    edges = np.ascontiguousarray(edges, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not (np.diff(edges) > 0).all():
        raise ValueError("edges must be increasing, with at least two values")
    if not np.isfinite(edges).all():
        raise ValueError("edges must be finite (seconds from the window start)")
    if origins.ndim != 1 or origins.shape != ends.shape:
        raise ValueError(f"origins and ends must be 1-D and of one length, got shapes "
                         f"{origins.shape} and {ends.shape}")
    if not (np.isfinite(origins).all() and np.isfinite(ends).all()):
        raise ValueError("window limits must be finite times (s), not NaN or infinite")
    trains = [np.ascontiguousarray(t, dtype=np.float64) for t in trains]
    fast = _FAST.wait() if engine == "numba" else _FAST.ready() if engine == "auto" else None
    if engine == "numba" and fast is None:
        raise RuntimeError(f"engine='numba': numba's kernel could not be loaded "
                           f"({type(_FAST.error).__name__}: {_FAST.error}); use "
                           "engine='numpy' (same counts)")
    if fast is not None:
        out, problems = fast.count(trains, origins, ends, edges)
    else:
        out, problems = _count_numpy(trains, bin_limits(origins, ends, edges))
        if engine == "auto":
            _FAST.start()           # after counting, so that it does not slow this call
    _raise_for(problems)
    return out.transpose(1, 2, 0)


def bin_spikes(spike_times: Mapping, event_times, pre: float, post: float,
               bin_size: float | None = None, *, edges=None, unit_ids=None,
               window_dim: str = "window", event_coord: str = "event_time",
               window_coords: Mapping | None = None, unit_coords: Mapping | None = None,
               max_gb: float = _checks.MAX_OUTPUT_GB, engine: str = "auto") -> xr.DataArray:
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
    engine : how to count (:func:`count_spikes`); every engine gives the same counts.

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
    counts = count_spikes(trains, origins, events + post, edges, engine=engine)
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
