# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Many sessions at once: the binning job on a Dask cluster
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/allen-course/allen-brain-observatory-course/blob/main/notebooks/06_many_sessions.ipynb)
#
# **Estimated time:** 35 minutes · **Prerequisites:** notebook 04 (the spike-count job);
# Python functions. The code runs for about 2 minutes, plus about 1.5 minutes the first
# time, when the offline sample builds its seven other Neuropixels sessions.
#
# By the end of this notebook you will be able to:
#
# 1. say why a loop over many Neuropixels sessions outgrows one process, and what
#    Dask's scheduler, workers and client each do;
# 2. start a local Dask cluster of worker processes and open its dashboard;
# 3. run one session's job as a task with `client.submit` / `client.map`, for many
#    sessions with `bin_sessions`, and check that the results equal the one-by-one run;
# 4. measure the speed-up over running the sessions one by one, and explain why it is
#    below the number of workers;
# 5. combine the per-session files into one labelled array with a `session`
#    dimension and plot it per area;
# 6. run the same code on a cluster that is already running (a scheduler address, an
#    HPC queue through dask-jobqueue).
#
# **About the data.** On the offline sample, the session table, the session ids, which
# areas each session recorded, their probes and units, and the brain_observatory_1.1
# sequence of stimulus epochs are the release's. The spikes are generated. 756029989 is
# the sample's full session, with the real epoch times; the seven others are built from
# the same model with one fifth of its firing rates, and their epoch times are
# 756029989's moved by up to 20 s (see `data/README.md`). Every rate in this notebook is
# therefore a property of the generator, not a finding about mouse visual cortex. The
# point here is the method, which runs unchanged on the real files.

# %%
# Google Colab only: fetch the course, install its Python 3.12 pins and build the
# offline sample (about 4 minutes the first time). Anywhere else this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import os, subprocess
    REPO, BRANCH = "allen-course/allen-brain-observatory-course", "main"
    COURSE = os.environ.get("COURSE_COLAB_CHECKOUT", "/content/" + REPO.split("/")[1])
    if not os.path.isdir(COURSE):
        subprocess.run(["git", "clone", "--quiet", "--depth=1", "--branch", BRANCH,
                        f"https://github.com/{REPO}.git", COURSE], check=True)
    sys.path.insert(0, os.path.join(COURSE, "colab"))
    import colab_setup
    colab_setup.setup(COURSE)

# %%
import importlib
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course_utils.caches import open_ecephys_cache
from course_utils.config import data_source
from course_utils.export import load_netcdf
from course_utils.many_sessions import (bin_session, bin_sessions, connect, default_workers,
                                        population_rates, prepare_sessions,
                                        walkthrough_sessions)
from course_utils.metadata import AREA_SHORT_NAMES, VISUAL_AREAS

# figure titles say when the spikes are the offline sample's synthetic ones
SYNTHETIC = "\n(offline sample: synthetic spikes)" if data_source() == "sample" else ""

# %% [markdown]
# ## 1. Eight sessions, one job each
#
# Notebook 04 found the eight brain_observatory_1.1 sessions that record all six
# visual areas and counted one of them. Here is the same list again.

# %% tags=["nbval-check-output"]
cache = open_ecephys_cache()
eight = walkthrough_sessions(cache)
print(len(eight), "sessions:", eight)
assert len(eight) == 8 and 756029989 in eight

# %% [markdown]
# One session's job is what notebook 04 did for 756029989: load the session, keep the
# units of the six visual areas, count their spikes in 100 ms bins from 10 s before to
# 90 s after each stimulus epoch starts, and save the counts to a NetCDF file.
# `bin_session(session_id, out_dir)` does exactly that, with the same helpers, and
# writes `out_dir/session_<id>.nc`.
#
# On real data, each of these sessions is one NWB file of 1.7 to 3.3 GB (146.5 GB for all
# 58 sessions, according to AllenSDK's
# [data access tutorial](https://allensdk.readthedocs.io/en/latest/_static/examples/nb/ecephys_data_access.html)),
# and reading one session's tables with AllenSDK takes 10 to 30 s even on the offline
# sample's much smaller files. Eight of them one after the other is a long wait, and the
# sessions do not depend on each other: the textbook case for running them side by side.
#
# **First, the files.** The sessions must be on disk before any parallel work starts.
# AllenSDK's cache is not safe to write from several processes at once, so
# `prepare_sessions` downloads (real data) or builds (offline sample) every session
# here, in this process, one after the other. The workers only read. On the sample this
# builds the seven other sessions the first time (about 1.5 minutes); afterwards it only
# checks them.

# %%
sizes = prepare_sessions(eight)
for session_id, size in sorted(sizes.items(), key=lambda item: item[1]):
    print(f"session {session_id}: NWB file {size / 1e6:6.1f} MB")

# %% [markdown]
# Our results go to a temporary folder, deleted by the notebook's last cell, so that
# every run of the notebook measures the real work. To keep them, give `bin_sessions`
# (below) a folder of your own.

# %%
outputs = Path("../outputs")
outputs.mkdir(exist_ok=True)
workspace = tempfile.TemporaryDirectory(prefix="many_sessions-", dir=outputs)
one_by_one_dir = Path(workspace.name).resolve() / "one_by_one"
cluster_dir = Path(workspace.name).resolve() / "on_the_cluster"

# %% [markdown]
# ## 2. The baseline: one session after the other
#
# To know what parallel work buys, we first time the plain loop, on the two smallest
# sessions (the same two run on the cluster in section 4).

# %%
pair = sorted(eight, key=sizes.get)[:2]
started = time.perf_counter()
for session_id in pair:
    bin_session(session_id, one_by_one_dir)
one_by_one_seconds = time.perf_counter() - started
print(f"sessions {pair} one by one: {one_by_one_seconds:.1f} s")

# %% [markdown]
# ## 3. A local Dask cluster
#
# [Dask](https://distributed.dask.org/en/stable/) splits the work between three kinds
# of process:
#
# - the **scheduler** keeps the list of tasks and decides which worker runs which;
# - each **worker** runs tasks, one at a time per thread;
# - the **client**, here in this notebook, sends tasks to the scheduler and collects
#   their results.
#
# `connect()` starts all of it on this machine (a `LocalCluster`) and returns the
# client. Loading a session is mostly single-threaded Python and NumPy, so the workers
# are separate processes with one thread each. How many: one per CPU this kernel may
# use, but no more than its memory holds at 1.5 GB a worker after 0.5 GB for the
# notebook (`default_workers`). On a 2-CPU laptop, Colab or this course's CI machine
# that is 2; on Binder (2 GB of memory) it is 1, and section 4 shows no speed-up there.

# %%
print("workers this machine gets:", default_workers())
client = connect()
client

# %% [markdown]
# The **dashboard** shows, live, what every worker is doing (the "Task Stream"), their
# memory and the progress of every task. Open the link in another browser tab while
# the next cells run. On Binder or a JupyterHub the link must go through the hub's
# proxy: Dask's documentation explains the `distributed.dashboard.link` setting and
# jupyter-server-proxy for that
# ([diagnostics](https://docs.dask.org/en/stable/dashboard.html)). On Colab, the
# dashboard is not reachable from your browser; the progress bars below still work.

# %%
print("dashboard:", client.dashboard_link)

# %% [markdown]
# A new worker process has imported nothing yet. Importing AllenSDK takes a few
# seconds, and the first task on each worker would pay for it. `client.run` runs a
# function once on every worker; we use it to import the course's Neuropixels module
# (and AllenSDK with it) everywhere, so that the comparison below is fair: this kernel
# imported them already.

# %%
client.run(importlib.import_module, "course_utils.ecephys")
client.run(importlib.import_module,
           "allensdk.brain_observatory.ecephys.ecephys_project_cache")
print("workers ready:", len(client.scheduler_info()["workers"]))

# %% [markdown]
# ## 4. The same job as tasks
#
# `client.submit(f, x)` asks the cluster to run `f(x)` and returns at once with a
# **future**, a handle on a result that will exist later; `client.map(f, xs)` does it
# for every item of `xs`; `client.gather(futures)` waits for the results. The function
# is the one we looped over above, unchanged.

# %%
started = time.perf_counter()
futures = client.map(bin_session, pair, out_dir=str(cluster_dir))
paths = client.gather(futures)
cluster_seconds = time.perf_counter() - started
print(*paths, sep="\n")
print(f"sessions {pair} on {len(client.scheduler_info()['workers'])} worker(s): "
      f"{cluster_seconds:.1f} s; speed-up over the loop: "
      f"{one_by_one_seconds / cluster_seconds:.2f}x")

# %% [markdown]
# With two workers and two sessions of about the same size, the ratio cannot pass 2.
# It stays below, because the two workers share the machine's memory bandwidth and
# disk, this notebook's kernel and the scheduler need the CPUs now and then, and sending
# tasks costs a little. With uneven sessions it drops further: the run lasts as long as
# its longest session. On all eight sessions of the sample, where 756029989 alone takes
# about a quarter of the work, the course's benchmark (`benchmarks/bin_sessions.py`)
# measured 1.6x on 2 workers, start-up included (137 s one by one, 85 s on Dask).
#
# Parallel code is only worth having if it computes the same thing. The files written
# by the workers must be identical to the ones the loop wrote, values, coordinates and
# attributes.
#
# **Self-check.** `[True, True]`: both sessions' files are identical.

# %% tags=["nbval-check-output"]
same = [load_netcdf(one_by_one_dir / f"session_{i}.nc").identical(
            load_netcdf(cluster_dir / f"session_{i}.nc")) for i in pair]
print("cluster files identical to the one-by-one files:", same)
assert all(same)

# %% [markdown]
# ## 5. All eight sessions: `bin_sessions`
#
# For many sessions, `course_utils.many_sessions.bin_sessions` wraps the same
# `client.submit` calls with what a long run needs:
#
# - sessions whose file is already in the folder (same job, same data) are not run
#   again: here, the two above;
# - the others are prepared first, then submitted biggest first, so that no long session
#   starts last while the other worker waits;
# - a progress bar counts finished sessions;
# - a session that fails (a damaged file, say) is reported with its error while the
#   others finish; a worker that dies mid-session (killed, out of memory) loses its task,
#   and the scheduler gives it to another worker. Files are written whole or not at all.
#
# It returns, for every session, its file or the error it raised.

# %%
started = time.perf_counter()
done = bin_sessions(client, eight, cluster_dir)
print(f"eight sessions ready in {time.perf_counter() - started:.1f} s")

# %% tags=["nbval-check-output"]
failed = {i: result for i, result in done.items() if isinstance(result, Exception)}
print(len(done) - len(failed), "sessions binned,", len(failed), "failed")
print(sorted(Path(path).name for path in done.values() if not isinstance(path, Exception)))
assert not failed

# %% [markdown]
# The same run from a terminal, for example on a workstation overnight (`--workers`
# sets the number of local workers; `all` means the eight):
#
# ```bash
# python -m course_utils bin-sessions --sessions all --out outputs/binned
# ```
#
# It writes `population_rates.nc` (next section) when every session succeeded, and
# exits with status 1 if any failed.
#
# ## 6. Combining the sessions
#
# Each file holds one session's counts, units × epochs × time bins. Units differ between
# sessions, so the files cannot be stacked as they are; what can be compared is a summary
# per area. `population_rates` turns each file into the mean rate per unit of each area
# (spikes per second), then stacks the sessions along a new `session` dimension.
#
# **Self-check.** 8 sessions × 6 areas × 15 epochs × 1,000 time bins, areas in the
# order V1, LM, RL, AL, PM, AM, and no missing value.

# %% tags=["nbval-check-output"]
rates = population_rates(done[i] for i in eight)
print(rates.name, dict(rates.sizes), rates.attrs["units"])
print("areas:", list(rates["area"].values))
assert dict(rates.sizes) == {"session": 8, "area": 6, "epoch": 15, "time": 1000}
assert np.isfinite(rates.values).all()

# %% [markdown]
# Each area's population rate around the start of the stimulus epochs, averaged over
# the 15 epochs: one thin line per session, and their median in black.

# %%
smooth = rates.mean("epoch").rolling(time=10, center=True).mean()       # 1 s running mean
fig, axes = plt.subplots(2, 3, figsize=(14, 6.5), sharex=True, sharey=True)
for ax, area in zip(axes.flat, smooth["area"].values):
    for session_id in smooth["session"].values:
        line = smooth.sel(area=area, session=session_id)
        ax.plot(line["time"], line, lw=0.8, alpha=0.7, label=str(session_id))
    ax.plot(smooth["time"], smooth.sel(area=area).median("session"), color="k", lw=2,
            label="median of sessions")
    ax.axvline(0, color="0.5", ls="--", lw=0.8)
    ax.set(title=area, xlabel="time from epoch start (s)")
for ax in axes[:, 0]:
    ax.set_ylabel("spikes/s per unit")
fig.legend(*axes[0, 0].get_legend_handles_labels(), title="session", fontsize=8,
           loc="center right")
fig.suptitle(f"Population rate per area around epoch starts, eight sessions{SYNTHETIC}")
fig.tight_layout(rect=(0, 0, 0.86, 1))
plt.show()

# %% [markdown]
# *Figure: mean firing rate per unit of each visual area, averaged over the 15 stimulus
# epochs and smoothed over 1 s, for the eight sessions (thin lines) and their median
# (black; a mean would follow the one session far above the others); the dashed line is
# the epoch start. Drawn from the offline sample, whose
# spikes are generated: 756029989 fires about five times more than the others because
# the sample built the seven others at one fifth of its rates, and the step at the
# epoch start is the generator's. On the real sessions, rates differ between animals,
# areas and probes, and the response to an epoch start depends on the stimulus.*
#
# ## 7. The same code on a cluster that is already running
#
# Nothing above depends on the cluster being local. A running Dask cluster is reached
# through its scheduler's address, and `connect(address)` returns a client to it. To
# see that, we connect a second client to the scheduler we started (its address is
# `client.scheduler.address`) and run `bin_sessions` again: every file is there, so no
# task runs.

# %%
address = client.scheduler.address
print("scheduler:", address)
other_client = connect(address)
started = time.perf_counter()
again = bin_sessions(other_client, eight, cluster_dir, progress=False)
print(f"second run through {address}: {time.perf_counter() - started:.2f} s, "
      "no session computed again")
assert again == done
other_client.close()

# %% [markdown]
# On other set-ups, only the line that makes the client changes:
#
# - **A scheduler someone started** (`dask scheduler` on one machine, `dask worker
#   tcp://...:8786` on others):
#   `client = connect("tcp://10.0.0.5:8786")`, or set Dask's standard
#   `DASK_SCHEDULER_ADDRESS` variable and keep `connect()`. The command takes
#   `--scheduler tcp://10.0.0.5:8786`.
# - **An HPC system** with a queue (SLURM, PBS, SGE, ...):
#   [dask-jobqueue](https://jobqueue.dask.org/) submits the workers as batch jobs.
#   For example, on SLURM (not run here; dask-jobqueue is not part of the course's
#   environment):
#
#   ```python
#   from dask.distributed import Client
#   from dask_jobqueue import SLURMCluster
#
#   cluster = SLURMCluster(cores=1, processes=1, memory="8GB", walltime="01:00:00")
#   cluster.scale(jobs=8)                # eight batch jobs, one worker each
#   client = Client(cluster)
#   done = bin_sessions(client, eight, "/shared/scratch/binned")
#   ```
# - **Dask Gateway** on a JupyterHub: `gateway.new_cluster()` then
#   `cluster.get_client()`.
#
# Two rules come with a cluster of several machines. The workers must see the data
# folder the client prepared and the output folder: a shared disk. And each worker needs
# memory for one real session, which is likely more than the 1.5 GB measured on the
# sample (a real file holds 1.7-3.3 GB; the course has not measured it): watch the
# dashboard's memory view on one session before you ask for many.
#
# ## Exercises
#
# The cluster is still running: use `client` in the exercises.
#
# **Exercise 1.** Use `client.map` and `client.gather` to count the units per area in
# each of the eight files of `cluster_dir`: write a function that opens one file with
# `load_netcdf` and returns `{area: number of units}`, then build a sessions × areas
# table with pandas. Which session has the fewest V1 units?
#
# **Exercise 2.** From `rates`, compute for every session and area the change in mean
# rate between the 2 s before and the 2 s after the start of the drifting gratings
# epochs (spikes/s), as a sessions × areas array, and draw it as a heatmap with a
# colour bar. Keeping in mind that the spikes are synthetic, what does the spread
# between sessions tell you: about the brain, or about the sample's generator?
#
# **Exercise 3.** Run `bin_sessions` again into `cluster_dir`, but with 50 ms bins
# (`bin_size=0.05`). What happens, and why is that better than quietly mixing two jobs'
# files in one folder?

# %% tags=["solution"]
# Solution 1
def units_per_area(path):
    counts = load_netcdf(path)
    return counts["area"].to_series().value_counts().to_dict()


files = [str(cluster_dir / f"session_{i}.nc") for i in eight]
per_session = client.gather(client.map(units_per_area, files))
table = pd.DataFrame(per_session, index=pd.Index(eight, name="session"))
table = table[[AREA_SHORT_NAMES[a] for a in VISUAL_AREAS]]
print(table)
print("fewest V1 units:", table["V1"].idxmin(), f"({table['V1'].min()} units)")

# %% tags=["solution"]
# Solution 2
gratings = rates.where(rates["stimulus_name"] == "drifting_gratings", drop=True)
before = gratings.sel(time=slice(-2, 0)).mean(["epoch", "time"])
after = gratings.sel(time=slice(0, 2)).mean(["epoch", "time"])
change = (after - before).transpose("session", "area")
fig, ax = plt.subplots(figsize=(6, 4.5))
im = ax.imshow(change.values, cmap="RdBu_r", vmin=-abs(change).max(), vmax=abs(change).max())
ax.set(xticks=range(change.sizes["area"]), xticklabels=change["area"].values,
       yticks=range(change.sizes["session"]), yticklabels=change["session"].values,
       xlabel="area", ylabel="session",
       title=f"Rate change at the drifting gratings start{SYNTHETIC}")
fig.colorbar(im, ax=ax, label="after - before (spikes/s per unit)")
plt.show()
# The spread between sessions is the generator's: it drew each session's model from its
# own random stream and scaled the seven other sessions' rates by 0.2. It says nothing
# about mice; on the real files the same code would show real differences.

# %% tags=["solution"]
# Solution 3
try:
    bin_sessions(client, eight, cluster_dir, bin_size=0.05)
except FileExistsError as err:
    print("refused:", err)
# The folder holds 100 ms counts; bin_sessions checks the job recorded in each file
# before doing any work and refuses to mix jobs, rather than returning old files as if
# they were the new job's. Use another folder for the 50 ms job.

# %% [markdown]
# Done: closing the client stops the local cluster's workers and scheduler with it, and
# `workspace.cleanup()` deletes the temporary folder and the files in it (about 140 MB).

# %%
client.close()
workspace.cleanup()

# %% [markdown]
# ## What's next
# The same pattern (one function for one unit of work, a client, `submit`/`map`,
# files written whole) scales any per-session analysis of the course: the tidy traces
# of notebook 02 over all ophys experiments, or the decoding of notebook 05 over the
# eight sessions. Dask's own tutorial goes further: <https://tutorial.dask.org/>.
