"""Benchmark: the course's ophys helpers against mindscope_utilities 0.1.9, in one run.

    ./course.sh bench            (installs the peer, builds the sample, runs this)

On the offline sample's session 854060305 (six planes, 53 cells, 48,331 frames):

1. tidy table of all six planes: ``course_utils.tidy.tidy_traces`` against
   ``build_tidy_cell_df`` per plane + metadata columns + ``pd.concat`` (the
   walkthrough's recipe). Targets: >= 10x faster, <= 0.5x peak memory.
2. event-triggered dF/F of all 53 cells to every flash (4,800 events), -1 to +1.5 s:
   ``course_utils.alignment`` against ``event_triggered_response`` cell by cell.
   Targets: >= 100x faster; max |ours - np.interp| <= 1e-6 at every grid point inside
   the recording.

Times are the best of several repeats; peak memory is the tracemalloc peak above the
starting point (numpy and pandas report their buffers to tracemalloc), measured in
separate runs so that tracing does not slow the timed ones. Ratios are printed, never
asserted: the numbers depend on the machine, the ratios much less.
"""
from __future__ import annotations

import argparse
import gc
import tracemalloc
import warnings

import numpy as np
import pandas as pd

from _timing import best_time

warnings.simplefilter("ignore")

METADATA = ["ophys_experiment_id", "ophys_session_id", "targeted_structure", "imaging_depth",
            "equipment_name", "cre_line", "mouse_id", "sex"]


def import_peer():
    """Import mindscope_utilities 0.1.9 on allensdk 2.16.2.

    The peer imports ``calculate_reward_rate`` from a module where allensdk 2.16 no
    longer has it (it became a ``Trials`` method). Nothing benchmarked here uses it, so
    the shim is one line: a stand-in that refuses to be called.
    """
    import allensdk.brain_observatory.behavior.trials_processing as tp

    if not hasattr(tp, "calculate_reward_rate"):
        tp.calculate_reward_rate = _moved  # the one-line shim
    import mindscope_utilities
    import mindscope_utilities.visual_behavior_ophys as peer_ophys
    return mindscope_utilities, peer_ophys


def _moved(*args, **kwargs):
    raise NotImplementedError("calculate_reward_rate moved to allensdk's Trials class")


def peak_bytes(fn) -> int:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del result
    return peak


def peer_tidy(peer_ophys, experiments):
    parts = []
    for experiment in experiments.values():
        part = peer_ophys.build_tidy_cell_df(experiment)
        for key in METADATA:
            part[key] = experiment.metadata[key]
        parts.append(part)
    return pd.concat(parts)


def peer_etr(mu, experiments, event_times, rate, output_format):
    out = []
    for experiment in experiments.values():
        ts = experiment.ophys_timestamps
        dff = experiment.dff_traces
        for csid in experiment.cell_specimen_table.query("valid_roi").index:
            data = pd.DataFrame({"timestamps": ts, "dff": dff.loc[csid, "dff"]})
            out.append(mu.event_triggered_response(
                data, "timestamps", "dff", event_times, t_before=1.0, t_after=1.5,
                output_sampling_rate=rate, output_format=output_format))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each side")
    args = parser.parse_args(argv)

    from course_utils.alignment import event_triggered_responses
    from course_utils.caches import open_ophys_cache
    from course_utils.experiments import load_session_experiments, session_trace_array
    from course_utils.tidy import tidy_traces

    mu, peer_ophys = import_peer()
    print(f"peer: mindscope_utilities {getattr(mu, '__version__', '0.1.9')}; loading the sample session ...")
    experiments = load_session_experiments(open_ophys_cache(source="sample"), 854060305)
    stim = next(iter(experiments.values())).stimulus_presentations
    flashes = stim[stim["stimulus_block_name"] == "change_detection_behavior"]
    event_times = flashes["start_time"].to_numpy()
    results = []

    # 1. tidy table -------------------------------------------------------------------
    t_ours, ours = best_time(lambda: tidy_traces(experiments, METADATA), args.repeats)
    t_peer, theirs = best_time(lambda: peer_tidy(peer_ophys, experiments), args.repeats)
    assert len(ours) == len(theirs) == 2_561_543, (len(ours), len(theirs))
    same = (np.array_equal(ours["dff"].to_numpy(), theirs["dff"].to_numpy())
            and np.array_equal(ours["timestamps"].to_numpy(), theirs["timestamps"].to_numpy())
            and np.array_equal(ours["cell_specimen_id"].astype(np.int64).to_numpy(),
                               theirs["cell_specimen_id"].astype(np.int64).to_numpy()))
    m_ours = peak_bytes(lambda: tidy_traces(experiments, METADATA))
    m_peer = peak_bytes(lambda: peer_tidy(peer_ophys, experiments))
    size_ours = ours.memory_usage(deep=True).sum()
    size_peer = theirs.memory_usage(deep=True).sum()
    print(f"\n1. tidy table, six planes: {len(ours):,} rows, same dff/timestamps/cell ids: {same}")
    print(f"   time        ours {t_ours:7.3f} s   peer {t_peer:7.3f} s   speed-up {t_peer / t_ours:6.1f}x  (target >= 10x)")
    print(f"   peak memory ours {m_ours / 1e6:7.0f} MB  peer {m_peer / 1e6:7.0f} MB  ratio {m_ours / m_peer:6.2f}   (target <= 0.5)")
    print(f"   table size  ours {size_ours / 1e6:7.0f} MB  peer {size_peer / 1e6:7.0f} MB; "
          f"peer index unique: {theirs.index.is_unique}, ours: {ours.index.is_unique}")
    results += [t_peer / t_ours >= 10, m_ours / m_peer <= 0.5]
    del ours, theirs

    # 2. event-triggered responses ----------------------------------------------------
    def ours_etr():
        dff = session_trace_array(experiments, "dff")
        return dff, event_triggered_responses(dff, event_times, -1.0, 1.5)

    t_ours, (dff, resp) = best_time(ours_etr, args.repeats)
    rate = resp.attrs["sampling_rate"]
    t_wide, wide = best_time(lambda: peer_etr(mu, experiments, event_times, rate, "wide"), 1)
    t_tidy, _ = best_time(lambda: peer_etr(mu, experiments, event_times, rate, "tidy"), 1)

    ts = dff["time"].values
    absolute = event_times[:, None] + resp["time"].values[None, :]
    inside = (absolute >= ts[0]) & (absolute <= ts[-1])
    err_ours, err_peer = 0.0, 0.0
    for c in range(dff.sizes["cell"]):
        trace = dff.values[c].astype(np.float64)
        expected = np.interp(absolute, ts, trace)
        err_ours = max(err_ours, float(np.nanmax(np.abs(resp.values[c] - expected)[inside])))
        peer_grid = wide[c].index.to_numpy()
        peer_expected = np.interp(event_times[None, :] + peer_grid[:, None], ts, trace)
        err_peer = max(err_peer, float(np.max(np.abs(wide[c].to_numpy() - peer_expected))))
    shape = dict(resp.sizes)
    print(f"\n2. event-triggered dF/F, -1 .. +1.5 s at {rate:.3f} Hz: {shape}")
    print(f"   time ours {t_ours:7.3f} s   peer (wide output) {t_wide:7.2f} s   speed-up {t_wide / t_ours:7.1f}x  (target >= 100x)")
    print(f"                          peer (tidy output) {t_tidy:7.2f} s   speed-up {t_tidy / t_ours:7.1f}x")
    print(f"   max |value - np.interp| inside the recording: ours {err_ours:.2e} (target <= 1e-6), "
          f"peer {err_peer:.2e} (holds the window's first and last frame)")
    results += [t_wide / t_ours >= 100, err_ours <= 1e-6]

    print(f"\ntargets met: {sum(results)}/{len(results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
