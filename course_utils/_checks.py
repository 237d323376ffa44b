"""Input checks shared by the analysis helpers: each raises an error that names the
argument, what was expected and what arrived."""
from __future__ import annotations

import numbers

import numpy as np


def float_array(values, name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    """``values`` as a floating-point array of the given number of dimensions.

    Integers and booleans are accepted (and converted); strings, objects, datetimes
    and complex numbers are not.
    """
    arr = np.asarray(values)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype} "
                         f"(convert it first, e.g. {name}.astype(float))")
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def timestamps(values, name: str = "timestamps") -> np.ndarray:
    """Sample times in seconds: 1-D, finite, at least two, strictly increasing."""
    ts = float_array(values, name, 1)
    if ts.size < 2:
        raise ValueError(f"{name} needs at least two samples, got {ts.size}")
    if not np.isfinite(ts).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    steps = np.diff(ts)
    if (steps <= 0).any():
        bad = int(np.argmax(steps <= 0))
        raise ValueError(f"{name} must be strictly increasing: sample {bad + 1} "
                         f"({ts[bad + 1]!r}) does not come after sample {bad} ({ts[bad]!r}); "
                         "sort the trace by time first")
    return ts


def window(t_before: float, t_after: float, name: str = "window") -> tuple[float, float]:
    """A time window relative to an event, in seconds: ``t_before < t_after``."""
    for label, value in (("t_before", t_before), ("t_after", t_after)):
        if isinstance(value, (bool, np.bool_)) or not np.isscalar(value) or \
                not np.isreal(value) or not np.isfinite(value):
            raise ValueError(f"{label} must be a finite number of seconds, got {value!r}")
    if t_before >= t_after:
        raise ValueError(f"empty {name}: t_before={t_before} must be smaller than "
                         f"t_after={t_after} (both are seconds relative to the event; "
                         "one second before is t_before=-1.0)")
    return float(t_before), float(t_after)


def id_value(value, what: str) -> int:
    """One id (ophys experiment, session, unit ...) as an int. Whole numbers only: a
    float such as 854759890.9 is refused rather than truncated, as are strings and bools."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} id must be a whole number, got {value!r} "
                        f"({type(value).__name__})")
    if isinstance(value, numbers.Integral):
        return int(value)
    if not np.isfinite(value) or value != int(value):
        raise ValueError(f"{what} id must be a whole number, got {value!r}: ids are "
                         "never fractional (was it read as a float and rounded?)")
    return int(value)


def id_list(values, what: str) -> list[int]:
    """Ids as a list of int: one id or an iterable of ids (see :func:`id_value`)."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{what} ids must be whole numbers, got the string {values!r}")
    if np.ndim(values) == 0:
        return [id_value(values, what)]
    return [id_value(v, what) for v in values]


def name_list(values, what: str) -> list[str]:
    """Names (e.g. area acronyms) as a list of str. A bare string is refused, not split
    into its letters: ``"VISp"`` would otherwise mean the four areas V, I, S, p."""
    if isinstance(values, str):
        raise TypeError(f"{what} must be a list of names, got the single string "
                        f"{values!r}: write [{values!r}]")
    names = list(values)
    bad = [v for v in names if not isinstance(v, str)]
    if bad:
        raise TypeError(f"{what} must be names (str), got {bad[:3]!r}")
    return names


#: Default limit on the size of one result array, GB: more than a Binder or Colab
#: machine can hold next to the data. Functions that make large arrays take ``max_gb``.
MAX_OUTPUT_GB = 2.0


def output_size(shape: tuple, itemsize: int, max_gb: float, what: str, fix: str) -> None:
    """Refuse to allocate an array of ``shape`` (``itemsize`` bytes each) larger than
    ``max_gb`` gigabytes, naming its size and a way out, before any work is done."""
    gb = float(np.prod([float(n) for n in shape])) * itemsize / 1e9
    if gb > max_gb:
        dims = " x ".join(f"{int(n):,}" for n in shape)
        raise ValueError(f"{what} would need {gb:,.1f} GB ({dims} values), more than "
                         f"max_gb={max_gb:g}: {fix}, or raise max_gb if the machine has "
                         "the memory")
