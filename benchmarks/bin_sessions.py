"""Benchmark: the walkthrough's binning for its eight sessions, on a Dask LocalCluster of
2 worker processes against one session after the other.

    ./course.sh bench            (builds the sample, runs every benchmark)
    .venv/bin/python benchmarks/bin_sessions.py [--workers 2]

Both runs start from the same state: every session's NWB file is on disk (built on the
offline sample, or downloaded, before the clock starts: that is prepare_sessions' job,
the same for both) and no result file exists.

* one by one: a fresh Python process runs ``course_utils.many_sessions.bin_session`` for
  the eight sessions in a loop (what a learner's for-loop does);
* on Dask: a fresh Python process starts a ``LocalCluster`` (2 worker processes, one
  thread each) and runs ``bin_sessions`` over the eight; the cluster's start-up is
  timed too.

Targets (issue 13): >= 1.6x faster on Dask on a 2-core machine; peak memory of each
worker (its kernel-reported high-water mark, VmHWM) <= 1.5 GB. The two runs' files must
be identical. Times and memory depend on the machine; nothing here asserts them.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERIAL = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
started = time.perf_counter()
from course_utils.many_sessions import bin_session
for session_id in json.loads(sys.argv[2]):
    bin_session(session_id, sys.argv[1])
seconds = time.perf_counter() - started
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(json.dumps({"seconds": seconds, "peak_gb": int(hwm) * 1024 / 1e9}))
"""

PARALLEL = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
started = time.perf_counter()
from dask.distributed import Client, LocalCluster
from course_utils.many_sessions import bin_sessions

def peak_gb():
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
    return int(hwm) * 1024 / 1e9

if __name__ == "__main__":
    with LocalCluster(n_workers=int(sys.argv[3]), threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        results = bin_sessions(client, json.loads(sys.argv[2]), sys.argv[1], progress=False)
        seconds = time.perf_counter() - started
        workers = sorted(client.run(peak_gb).values())
    failed = {k: repr(v) for k, v in results.items() if not isinstance(v, str)}
    print(json.dumps({"seconds": seconds, "worker_peaks_gb": workers, "failed": failed}))
"""


def _run(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from course_utils.caches import open_ecephys_cache
    from course_utils.export import load_netcdf
    from course_utils.many_sessions import prepare_sessions, session_file, walkthrough_sessions

    ids = walkthrough_sessions(open_ecephys_cache())
    print(f"sessions: {ids}")
    prepare_sessions(ids, progress=True)              # not timed: the same for both runs
    work = Path(tempfile.mkdtemp(prefix="bench-bin-sessions-"))
    try:
        serial = _run(SERIAL, str(work / "serial"), json.dumps(ids))
        print(f"one by one (1 process):     {serial['seconds']:7.1f} s, "
              f"peak {serial['peak_gb']:.2f} GB")
        parallel = _run(PARALLEL, str(work / "dask"), json.dumps(ids), str(args.workers))
        if parallel["failed"]:
            print(f"FAILED sessions on Dask: {parallel['failed']}")
            return 1
        peaks = parallel["worker_peaks_gb"]
        print(f"Dask ({args.workers} workers, start-up included): {parallel['seconds']:7.1f} s, "
              f"worker peaks {', '.join(f'{p:.2f}' for p in peaks)} GB")
        same = all(load_netcdf(session_file(work / "serial", i)).identical(
            load_netcdf(session_file(work / "dask", i))) for i in ids)
        ratio = serial["seconds"] / parallel["seconds"]
        met = [ratio >= 1.6, max(peaks) <= 1.5, same]
        print(f"speed-up: {ratio:.2f}x (target >= 1.6x on 2 cores)  "
              f"{'met' if met[0] else 'NOT met'}")
        print(f"peak memory per worker: {max(peaks):.2f} GB (target <= 1.5 GB)  "
              f"{'met' if met[1] else 'NOT met'}")
        print(f"files identical to the one-by-one run: {'yes' if same else 'NO'}")
        print(f"targets met: {sum(met)}/{len(met)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
