"""Spike binning: identical to the walkthrough's per-unit loop on the same edges,
including spikes on bin edges and window ends, empty units and windows past the end.
Every test runs with each counting engine (plain NumPy and numba's kernel)."""
import subprocess
import sys

import numpy as np
import pytest

from course_utils import spikes as spikes_module
from course_utils.spikes import bin_limits, bin_spikes, count_spikes, window_edges


@pytest.fixture(autouse=True, params=["numpy", "numba"])
def engine(request, monkeypatch):
    """Run the test with this engine as the default of bin_spikes and count_spikes."""
    for function in (spikes_module.bin_spikes, spikes_module.count_spikes):
        monkeypatch.setitem(function.__kwdefaults__, "engine", request.param)
    return request.param


def loop_counts(spike_times, unit_ids, starts, pre, post, edges):
    """The walkthrough's algorithm, one unit and one window at a time."""
    out = np.zeros((len(starts), len(edges) - 1, len(unit_ids)), dtype=np.int64)
    for w, start in enumerate(starts):
        origin, end = start - pre, start + post
        for u, unit in enumerate(unit_ids):
            t = spike_times[unit]
            t = t[origin <= t]
            t = t[t <= end]
            out[w, :, u] = np.histogram(t - origin, bins=edges)[0]
    return out


@pytest.fixture
def trains():
    rng = np.random.default_rng(1)
    starts = np.array([10.0, 30.25, 55.5])
    pre, post = 2.0, 3.0
    edges = np.arange(0, pre + post + 0.05, 0.1)
    spikes = {}
    for unit in range(6):
        t = rng.uniform(0, 70, size=int(rng.integers(200, 2000)))
        # spikes exactly on window starts/ends and on inner bin edges (as the loop sees them)
        t = np.concatenate([t, starts - pre, starts + post, starts - pre + edges[5],
                            starts - pre + edges[-1], [starts[0] - pre + 0.1 * 17]])
        spikes[100 + unit] = np.sort(t)
    spikes[200] = np.array([])                      # a unit that never fired
    spikes[201] = np.array([69.9, 69.95])           # spikes only near the end
    return spikes, starts, pre, post, edges


def test_identical_to_the_loop_on_the_walkthrough_edges(trains):
    spikes, starts, pre, post, edges = trains
    ids = list(spikes)
    ours = bin_spikes(spikes, starts, pre, post, edges=edges, unit_ids=ids)
    expected = loop_counts(spikes, ids, starts, pre, post, edges)
    assert ours.dims == ("window", "time", "unit") and ours.shape == expected.shape
    np.testing.assert_array_equal(ours.values, expected)
    assert (ours.sel(unit=200) == 0).all()


def test_identical_to_the_loop_on_linspace_edges(trains):
    spikes, starts, pre, post, _ = trains
    edges = window_edges(pre, post, 0.1)
    assert edges.size == 51 and edges[-1] == pre + post
    ours = bin_spikes(spikes, starts, pre, post, 0.1)
    np.testing.assert_array_equal(ours.values,
                                  loop_counts(spikes, list(spikes), starts, pre, post, edges))
    np.testing.assert_allclose(ours["time"].values[[0, -1]], [-1.95, 2.95])


def test_windows_past_the_recording_and_overlapping(trains):
    spikes, _, pre, post, edges = trains
    starts = np.array([-5.0, 1.0, 2.5, 69.0, 500.0])   # before, overlapping, after the data
    ours = bin_spikes(spikes, starts, pre, post, edges=edges)
    np.testing.assert_array_equal(ours.values,
                                  loop_counts(spikes, list(spikes), starts, pre, post, edges))
    assert (ours.isel(window=-1) == 0).all()


def test_many_units_windows_in_any_order_and_repeated_times():
    # more units than threads; spike times on a 0.1 s grid, so many repeat and many lie
    # exactly on window ends and bin edges; windows unsorted, one given twice; one train
    # a strided view (the kernel reads contiguous copies)
    rng = np.random.default_rng(2)
    spikes = {u: np.sort(np.round(rng.uniform(0, 50, int(rng.integers(0, 300))), 1))
              for u in range(37)}
    spikes[6] = np.repeat(spikes[6], 2)[::2]
    assert not spikes[6].flags.c_contiguous
    starts, pre, post = np.array([30.0, 5.0, 12.5, 5.0, 48.0, 0.3]), 1.0, 2.0
    edges = np.arange(0, pre + post + 0.05, 0.1)
    ours = bin_spikes(spikes, starts, pre, post, edges=edges)
    expected = loop_counts(spikes, list(spikes), starts, pre, post, edges)
    assert expected.sum() > 1000
    np.testing.assert_array_equal(ours.values, expected)
    np.testing.assert_array_equal(ours.values[1], ours.values[3])


def test_edge_rule_known_answer():
    # window [0, 1] s, bins [0, .5) and [.5, 1]: .5 counts once (later bin), 1.0 in the last
    counts = bin_spikes({1: np.array([0.0, 0.25, 0.5, 0.99, 1.0, 1.0001])}, [0.0], 0.0, 1.0,
                        0.5)
    assert counts.values[0, :, 0].tolist() == [2, 3]


def test_bad_inputs():
    spikes = {1: np.array([1.0, 2.0])}
    with pytest.raises(ValueError, match="whole number"):
        bin_spikes(spikes, [1.0], 1.0, 1.0, 0.3)
    with pytest.raises(ValueError, match="empty window"):
        bin_spikes(spikes, [1.0], -1.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="either bin_size or edges"):
        bin_spikes(spikes, [1.0], 1.0, 1.0)
    with pytest.raises(KeyError, match="no spike times for unit"):
        bin_spikes(spikes, [1.0], 1.0, 1.0, 0.1, unit_ids=[1, 99])
    with pytest.raises(ValueError, match="not sorted"):
        bin_spikes({1: np.array([2.0, 1.0])}, [1.0], 1.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="non-empty"):
        bin_spikes(spikes, [], 1.0, 1.0, 0.1)
    with pytest.raises(TypeError, match="map unit ids"):
        bin_spikes([np.array([1.0])], [1.0], 1.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="real numbers"):
        bin_spikes({1: np.array(["1.0"])}, [1.0], 1.0, 1.0, 0.1)


def test_count_spikes_checks_what_the_kernel_relies_on():
    trains, window = [np.array([0.5, 1.5])], (np.array([0.0]), np.array([2.0]))
    assert count_spikes(trains, *window, np.array([0.0, 1.0, 2.0]))[0, :, 0].tolist() == [1, 1]
    for edges in (np.array([0.0]), np.array([0.0, 1.0, 1.0]), np.array([0.0, np.nan])):
        with pytest.raises(ValueError, match="edges must be increasing"):
            count_spikes(trains, *window, edges)
    with pytest.raises(ValueError, match="of one length"):
        count_spikes(trains, np.array([0.0, 1.0]), np.array([2.0]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="finite"):
        count_spikes(trains, np.array([np.nan]), np.array([2.0]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="edges must be increasing"):
        bin_spikes({1: trains[0]}, [1.0], 1.0, 1.0, edges=[0.0, 2.0, 1.0])


def test_arrays_edited_in_place_after_a_call_are_checked_again(trains):
    """Issue 14, item 1: a cache of arrays once found sorted missed in-place edits."""
    spikes, starts, pre, post, edges = trains
    spikes = {u: t.copy() for u, t in spikes.items()}
    ids = list(spikes)
    bin_spikes(spikes, starts, pre, post, edges=edges)
    spikes[100] += 0.0123                       # still sorted: counted on the new values
    counts = bin_spikes(spikes, starts, pre, post, edges=edges)
    np.testing.assert_array_equal(counts.values,
                                  loop_counts(spikes, ids, starts, pre, post, edges))
    spikes[101] += np.random.default_rng(0).normal(0, 0.5, spikes[101].size)   # jitter
    with pytest.raises(ValueError, match=r"position\(s\) \[1\] are not sorted"):
        bin_spikes(spikes, starts, pre, post, edges=edges)
    spikes[101].sort()
    spikes[102][3] = np.nan
    with pytest.raises(ValueError, match=r"position\(s\) \[2\] hold NaN or infinite"):
        bin_spikes(spikes, starts, pre, post, edges=edges)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_spike_times_are_refused(bad):
    """Issue 14, item 2: a train holding NaN was silently miscounted; now it is an error
    naming the unit and the fix. Without the bad value the counts are NumPy's."""
    t = np.array([0.5, 1.0, 1.5, 2.5])
    t_bad = np.sort(np.append(t, bad))
    with pytest.raises(ValueError, match=r"hold NaN or infinite values; drop them"):
        bin_spikes({1: np.array([0.2]), 2: t_bad}, [1.0], 1.0, 2.0, 1.5)
    counts = bin_spikes({2: t_bad[np.isfinite(t_bad)]}, [1.0], 1.0, 2.0, 1.5)
    assert counts.values[0, :, 0].tolist() == np.histogram(t, [0.0, 1.5, 3.0])[0].tolist()


def test_edges_outside_the_window_are_refused(trains):
    """Issue 14, item 3: bins past pre + post silently counted nothing."""
    spikes, starts, pre, post, edges = trains
    with pytest.raises(ValueError, match=r"bins outside it would always count 0"):
        bin_spikes(spikes, starts, pre, post, edges=np.append(edges, pre + post + 1.0))
    with pytest.raises(ValueError, match=r"within \[0, pre \+ post\]"):
        bin_spikes(spikes, starts, pre, post, edges=np.insert(edges, 0, -0.5))
    overshoot = edges.copy()                   # as np.arange can give: 5.000000000000001
    overshoot[-1] = np.nextafter(pre + post, np.inf)
    np.testing.assert_array_equal(
        bin_spikes(spikes, starts, pre, post, edges=overshoot).values,
        loop_counts(spikes, list(spikes), starts, pre, post, overshoot))
    inner = edges[(edges >= 1.0) & (edges <= 4.0)]          # a sub-range is fine
    counts = bin_spikes(spikes, starts, pre, post, edges=inner)
    np.testing.assert_array_equal(counts.values,
                                  loop_counts(spikes, list(spikes), starts, pre, post, inner))


def test_allensdk_counts_a_spike_on_a_shared_edge_in_both_bins():
    # why our counts can differ from EcephysSession.presentationwise_spike_counts
    from allensdk.brain_observatory.ecephys.ecephys_session import build_spike_histogram
    spikes = {1: np.array([0.5])}
    sdk = build_spike_histogram(np.array([[0.0, 0.5, 1.0]]), spikes, [1])
    ours = bin_spikes(spikes, [0.0], 0.0, 1.0, 0.5)
    assert sdk[0, :, 0].tolist() == [1, 1]
    assert ours.values[0, :, 0].tolist() == [0, 1]


def test_spikes_one_ulp_either_side_of_every_limit(engine):
    """The NumPy engine compares absolute times with :func:`bin_limits` instead of
    shifting spikes: spikes one ulp below, on and above ``origin + edge`` (and the
    window's own ends), with origins of the size of a session's clock, land where the
    walkthrough's ``t - origin`` puts them."""
    rng = np.random.default_rng(5)
    starts = np.sort(rng.uniform(100.0, 9000.0, 12))
    pre, post = 0.3, 0.7
    edges = np.arange(0, pre + post + 0.05, 0.1)      # 0.30000000000000004 and friends
    exact = (starts[:, None] - pre) + edges[None, :]
    near = np.concatenate([exact.ravel(), np.nextafter(exact, np.inf).ravel(),
                           np.nextafter(exact, -np.inf).ravel(), starts + post,
                           np.nextafter(starts + post, np.inf),
                           np.nextafter(starts - pre, -np.inf)])
    spikes = {1: np.sort(near), 2: np.sort(np.concatenate([near, rng.uniform(0, 9100, 500)]))}
    counts = bin_spikes(spikes, starts, pre, post, edges=edges)
    np.testing.assert_array_equal(counts.values,
                                  loop_counts(spikes, [1, 2], starts, pre, post, edges))


def test_bin_limits_known_answer():
    # window from 1.0: bins [1, 1.5), [1.5, 2] (end 2.0 kept, the ulp above not)
    limits = bin_limits(np.array([1.0]), np.array([2.0]), np.array([0.0, 0.5, 1.0]))
    assert limits.tolist() == [[1.0, 1.5, np.nextafter(2.0, np.inf)]]


def test_engines_agree_on_the_sample_session_scale():
    """Many units and windows with realistic sizes: the two engines give identical
    counts, equal to the loop."""
    rng = np.random.default_rng(9)
    trains = [np.sort(rng.uniform(0, 3000, int(n))) for n in rng.integers(0, 20000, 40)]
    starts = np.sort(rng.uniform(10, 2900, 8))
    edges = np.arange(0, 100.1, 0.1)
    a = count_spikes(trains, starts - 10, starts + 90, edges, engine="numpy")
    b = count_spikes(trains, starts - 10, starts + 90, edges, engine="numba")
    np.testing.assert_array_equal(a, b)
    spikes = dict(enumerate(trains))
    np.testing.assert_array_equal(a, loop_counts(spikes, list(spikes), starts, 10, 90, edges))


def test_first_call_counts_with_numpy_and_loads_numba_afterwards(tmp_path):
    """In a fresh process the first call does not import numba; it starts loading the
    kernel in the background, and a later call uses it."""
    code = """
import sys, numpy as np
from course_utils import spikes
trains = [np.array([0.5, 1.5])]
args = (trains, np.array([0.0]), np.array([2.0]), np.array([0.0, 1.0, 2.0]))
assert spikes.count_spikes(*args)[0, :, 0].tolist() == [1, 1]
assert spikes._FAST.ready() is None
spikes._FAST.wait()
assert "numba" in sys.modules and spikes._FAST.ready() is not None
assert spikes.count_spikes(*args)[0, :, 0].tolist() == [1, 1]
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine must be"):
        count_spikes([np.array([1.0])], np.array([0.0]), np.array([2.0]),
                     np.array([0.0, 2.0]), engine="fast")


def test_infinite_edges_are_refused():
    trains = [np.array([0.5, 1.5])]
    for edges in ([0.0, 1.0, np.inf], [-np.inf, 0.0, 1.0]):
        with pytest.raises(ValueError, match="edges must be finite"):
            count_spikes(trains, np.array([0.0]), np.array([2.0]), np.array(edges))
