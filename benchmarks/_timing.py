"""Timing shared by the benchmark scripts (run as scripts, so imported as `_timing`)."""
import gc
import time


def best_time(fn, repeats: int):
    """(best wall time in seconds over ``repeats`` calls, the last result)."""
    times, result = [], None
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result
