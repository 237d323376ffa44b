"""numba's compiled counting kernel: the fast path of :mod:`course_utils.spikes`.

Learners do not need to read this: :func:`course_utils.spikes.count_spikes` shows the
same computation in plain NumPy and gives identical counts (the tests compare both with
the walkthrough's ``np.histogram`` loop). This kernel is about 7x faster on repeated
calls, but importing numba and loading the compiled kernel takes about 0.4 s (several
seconds the very first time, while numba compiles and caches it), more than a NumPy
count of a whole session. So ``spikes`` loads it in the background after its first call
and uses it once it is ready.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic


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


def count(trains: list[np.ndarray], origins: np.ndarray, ends: np.ndarray,
          edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts, shape (n_units, n_windows, n_bins), and one problem code per unit (0 sound,
    1 NaN or infinite, 2 unsorted; counts of a unit with a problem are not filled in).
    ``trains`` are contiguous float64 arrays (the kernel reads them through their
    addresses, so they stay referenced until every share has returned); ``origins``,
    ``ends`` and ``edges`` contiguous float64, already checked by the caller."""
    n_units = len(trains)
    addresses = np.array([_address(t) for t in trains], dtype=np.intp)
    sizes = np.array([t.size for t in trains], dtype=np.intp)
    out = np.empty((n_units, origins.size, edges.size - 1), dtype=np.int32)
    problems = np.zeros(n_units, dtype=np.int8)

    def count_share(units, keep_alive=trains):    # (a running share still reads them)
        _count_units(addresses, sizes, units, origins, ends, edges, out, problems)

    shares = [np.arange(j, n_units, _N_JOBS, dtype=np.intp) for j in range(_N_JOBS)]
    helpers = [_POOL.submit(count_share, units) for units in shares[1:]]
    count_share(shares[0])                          # this thread takes the first share
    for helper in helpers:
        helper.result()
    return out, problems


def warm_up() -> None:
    """Load (or compile and cache) the kernel for the argument types :func:`count` uses."""
    t = np.array([0.5, 1.5])
    count([t], np.array([0.0]), np.array([2.0]), np.array([0.0, 1.0, 2.0]))
