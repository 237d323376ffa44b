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
# # 02 · One tidy table for every cell of a session
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/allen-course/allen-brain-observatory-course/blob/main/notebooks/02_tidy_ophys_data.ipynb)
#
# **Estimated time:** 35 minutes · **Prerequisites:** notebook 01; pandas `groupby`.
#
# By the end of this notebook you will be able to:
#
# 1. load every imaging plane of a mesoscope session with AllenSDK;
# 2. say what the three trace types (dF/F, events, filtered events) measure;
# 3. build one *tidy* table of all cells' traces with experiment metadata, and explain
#    the dtypes that keep it small;
# 4. plot one cell's activity and summarise the population with `groupby`.
#
# **About the data.** On the offline sample (the default), the session, its six
# planes, their areas, depths and Cre line, the cell ids and the frame times are the
# release's. The activity is generated: dF/F, events and filtered events come from a
# model written for the course (`course_utils/sample/`, settings in
# `data/sample_recipe.toml`; ROI shapes too, see `data/README.md`). So every trace,
# rate and figure built from activity below shows what the generator was told to do,
# not how these neurons behave; the table-building method is what this notebook
# teaches, and it runs unchanged on the real files (`COURSE_DATA_SOURCE=allen`).

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
import time
import warnings

warnings.filterwarnings("ignore", category=FutureWarning)   # hdmf/pynwb chatter
warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from course_utils.caches import open_ophys_cache
from course_utils.config import data_source
from course_utils.experiments import plane_clocks
from course_utils.reuse import session_traces as remembered_session_traces
from course_utils.tidy import DEFAULT_METADATA, tidy_traces

OPHYS_SESSION = 854060305

# %% [markdown]
# ## 1. One plane
#
# `cache.get_behavior_ophys_experiment(experiment_id)` reads one plane's NWB file and
# returns a `BehaviorOphysExperiment`. On real data the first call downloads the file
# (about 200 MB a plane); later calls read it from disk.

# %% tags=["nbval-check-output"]
cache = open_ophys_cache()
first = cache.get_behavior_ophys_experiment(854759894)
print({k: first.metadata[k] for k in ("ophys_session_id", "targeted_structure",
                                      "imaging_depth", "cre_line", "imaging_plane_group",
                                      "imaging_plane_group_count")})
print("frames:", len(first.ophys_timestamps),
      f"({first.ophys_timestamps[0]:.5f} s to {first.ophys_timestamps[-1]:.1f} s)")

# %% [markdown]
# Traces are stored one row per cell, each row holding the whole recording as an array:

# %%
first.dff_traces.head(3)

# %% [markdown]
# ## 2. Every plane of the session
#
# A loaded experiment holds much more than its traces: the session's eight stimulus
# images alone take about 90 MB in every plane. Keeping all six planes in memory would
# need over a gigabyte, too much for a 2 GB Binder or Colab machine. So
# `load_session_traces` loads the planes one at a time, copies out the traces and the
# metadata we want, and lets each plane go. It returns an `xarray.Dataset`: three
# trace variables sharing the dimensions *cell × time*, with each cell's plane,
# area and depth attached as coordinates.
#
# Notebooks 03 and 05 need the same traces. So we call `load_session_traces` through
# `course_utils.reuse.session_traces`, which keeps its result on disk with
# [`joblib.Memory`](https://joblib.readthedocs.io/en/stable/memory.html): the first
# call reads the planes, later calls (here or in another notebook) read the stored
# result back in under a second. The stored result is used only if the NWB files and
# the course's code are the ones it was computed from; otherwise it is computed again.

# %%
started = time.perf_counter()
session_traces = remembered_session_traces(cache, OPHYS_SESSION, progress=True,
                                           loaded={854759894: first})   # not read twice
print(f"loaded in {time.perf_counter() - started:.0f} s")
session_traces

# %% [markdown]
# ### Six planes, three clocks
#
# The dataset has a `frame` dimension, not a `time` dimension, and its `timestamps`
# coordinate has two dimensions, *cell × frame*. The reason is how the mesoscope works.
# It images its planes in pairs, called *imaging plane groups* (two planes per group
# here). It images one group, then the next, then the next, and starts over. The frames
# of all groups are recorded on one sync line, and AllenSDK gives each group every third
# tick of that line. So the three groups have different frame times, about a third of a
# frame (31 ms) apart. The two planes of one group share their frame times.
# `plane_clocks` lists them:

# %% tags=["nbval-check-output"]
clocks = plane_clocks(session_traces)
print(clocks.round(5).to_string())
assert clocks["imaging_plane_group"].tolist() == [0, 0, 1, 1, 2, 2]
assert (clocks["n_frames"] == 48_331).all() and clocks["first_frame_s"].nunique() == 3

# %% [markdown]
# Frame 0 of a group-2 cell comes 62 ms after frame 0 of a group-0 cell. At about
# 11 frames per second that is two thirds of a frame, which matters when you compare
# responses to a 250 ms flash. So the course never treats "frame k" as one moment
# across planes. The tidy table below keeps every row's own timestamp. Notebook 03
# aligns cells to stimuli by interpolating each plane on its own clock. Real sessions can
# also have groups whose frame counts differ by one; the helpers allow for that too.
#
# ## 3. Three kinds of trace
#
# * **`dff`** — the change in fluorescence relative to a baseline, ΔF/F. GCaMP6f
#   fluorescence rises within tens of milliseconds when a neuron fires and decays over
#   hundreds, so dF/F is a slow, smeared view of spiking.
# * **`events`** — the output of an event-detection (deconvolution) step that estimates
#   *when* calcium entered the cell and how much, removing the slow decay. Most frames
#   are exactly zero.
# * **`filtered_events`** — the events convolved with a half-Gaussian kernel: a smooth
#   signal that keeps the timing of events, convenient for averaging.
#
# ## 4. The tidy table
#
# *Tidy* data has one observation per row and one variable per column. Here an
# observation is one cell at one frame, so a cell's frame times repeat for every cell.
# That makes the table long, but every pandas and seaborn tool then works directly.
# Each row's `timestamps` is its own plane's frame time, and `imaging_plane_group` says
# which clock that is.

# %%
started = time.perf_counter()
traces = tidy_traces(session_traces)
print(f"built in {time.perf_counter() - started:.1f} s")
traces.head()

# %% [markdown]
# **Self-check.** You should see 2,561,543 rows and 53 unique cells from six planes.

# %% tags=["nbval-check-output"]
n_cells = traces["cell_specimen_id"].nunique()
print(f"rows: {len(traces):,}  cells: {n_cells}  planes: {traces['ophys_experiment_id'].nunique()}")
assert len(traces) == 2_561_543 and n_cells == 53
assert traces.index.is_unique

# %% [markdown]
# ### How much memory, and why these dtypes
#
# Labels such as `targeted_structure` or `cell_specimen_id` take only a few distinct
# values but repeat on every row. As *categoricals*, pandas stores each distinct value
# once plus a one-byte code per row. Traces are float32. The NWB files store them as
# float64, but float32's seven significant digits are more than any plot needs, at
# half the memory.
# Frame times stay float64, because float32 would round a time of 4,000 s to about
# half a millisecond.

# %%
print(traces.dtypes, "\n")
ours = traces.memory_usage(deep=True).sum()

# the same rows with "default" dtypes: 64-bit numbers and Python strings
plain = traces.head(100_000).astype(
    {c: ("float64" if str(t) == "float32" else
         ("object" if c in ("targeted_structure", "equipment_name", "cre_line", "sex")
          else "int64")) for c, t in traces.dtypes.items() if c != "timestamps"})
plain_bytes_per_row = plain.memory_usage(deep=True).sum() / len(plain)
print(f"this table: {ours / 1e6:.0f} MB ({ours / len(traces):.0f} bytes per row)")
print(f"default dtypes: about {plain_bytes_per_row * len(traces) / 1e6:.0f} MB "
      f"({plain_bytes_per_row:.0f} bytes per row)")

# %% [markdown]
# ### The walkthrough's way, once
#
# The public walkthrough this course follows builds the table with a loop: for each
# plane, one small DataFrame per cell (its frame times and its three traces, with its
# ids repeated on every row), then `pd.concat` of all of them, then one column per
# metadata key. Here is that loop for one plane, the one loaded in section 1. Only one
# change: it reads the plane's two trace tables once, before the loop, because AllenSDK
# rebuilds them on every access.

# %%
started = time.perf_counter()
dff_table, events_table = first.dff_traces, first.events
per_cell = []
for cell_specimen_id, cell in first.cell_specimen_table.query("valid_roi").iterrows():
    per_cell.append(pd.DataFrame({
        "timestamps": first.ophys_timestamps,
        "dff": dff_table.loc[cell_specimen_id, "dff"],
        "events": events_table.loc[cell_specimen_id, "events"],
        "filtered_events": events_table.loc[cell_specimen_id, "filtered_events"],
        "cell_roi_id": cell["cell_roi_id"],
        "cell_specimen_id": cell_specimen_id,
    }))
loop_table = pd.concat(per_cell, ignore_index=True)
for key in DEFAULT_METADATA:
    loop_table[key] = first.metadata[key]
loop_seconds = time.perf_counter() - started

started = time.perf_counter()
plane_table = tidy_traces(first)
print(f"{len(per_cell)} cells: loop {loop_seconds:.2f} s, tidy_traces "
      f"{time.perf_counter() - started:.2f} s")
print(f"memory: loop {loop_table.memory_usage().sum() / 1e6:.0f} MB, "      # see below
      f"tidy_traces {plane_table.memory_usage(deep=True).sum() / 1e6:.0f} MB")

# %% [markdown]
# The loop's table is measured without `deep=True`: its rows all point to one copy of
# each label string, which pandas' deep count would charge to every row again.
#
# **Self-check.** The two tables hold the same rows, in the same order, with the same
# values. Only the dtypes differ: the loop keeps float64 traces, 64-bit integer ids and
# Python strings, where `tidy_traces` uses the smaller dtypes explained above. So we
# convert the loop's table to `tidy_traces`' dtypes (float64 to float32 rounds exactly
# as `tidy_traces` does) and then require an exact match: values, dtypes, column order
# and index. The categorical columns are compared through their categories and integer
# codes, which is the same test: pandas 1.5's `assert_frame_equal` compares them one
# value at a time in Python, about 40 s for this plane. Two more details were aligned
# in the loop above: `ignore_index=True` gives one row number per row (a plain
# `pd.concat` repeats 0, 1, 2 … for every cell), and the metadata keys are
# `tidy_traces`' own, which add `imaging_plane_group` to the walkthrough's list.

# %% tags=["nbval-check-output"]
normalised = loop_table.astype(plane_table.dtypes.to_dict())
assert list(normalised.columns) == list(plane_table.columns)
pd.testing.assert_frame_equal(normalised.select_dtypes(exclude="category"),
                              plane_table.select_dtypes(exclude="category"), check_exact=True)
for column in plane_table.select_dtypes("category"):
    pd.testing.assert_index_equal(normalised[column].cat.categories,
                                  plane_table[column].cat.categories)
    np.testing.assert_array_equal(normalised[column].cat.codes, plane_table[column].cat.codes)
print(f"plane {first.metadata['ophys_experiment_id']}: {len(plane_table):,} rows, "
      f"{plane_table['cell_specimen_id'].nunique()} cells; loop == tidy_traces")
del per_cell, loop_table, normalised, dff_table, events_table    # free the loop's copies

# %% [markdown]
# ## 5. One cell's activity
#
# Select a cell with a boolean mask (or `.query`), then plot with pandas or Matplotlib.

# %%
CELL = 1086557208
one_cell = traces[traces["cell_specimen_id"] == CELL]
print(f"{len(one_cell):,} frames; plane {one_cell['ophys_experiment_id'].iloc[0]}, "
      f"{one_cell['targeted_structure'].iloc[0]} at {one_cell['imaging_depth'].iloc[0]} µm")

SYNTHETIC = "\n(offline sample: synthetic activity)" if data_source() == "sample" else ""
zoom = one_cell[(one_cell["timestamps"] > 600) & (one_cell["timestamps"] < 660)]
with_event = zoom[zoom["events"] > 0]
fig = plt.figure(figsize=(12, 9), layout="constrained")
whole, rest = fig.subfigures(2, 1, height_ratios=[1, 2.4])
ax = whole.subplots()
ax.plot(one_cell["timestamps"], one_cell["dff"], lw=0.4)
ax.axvspan(600, 660, color="tab:orange", alpha=0.3, label="the minute below")
ax.set(title=f"cell {CELL}: the whole session{SYNTHETIC}", xlabel="time (s)",
       ylabel="dF/F")
ax.legend(loc="upper right")
axes = rest.subplots(3, 1, sharex=True)
axes[0].plot(zoom["timestamps"], zoom["dff"], color="tab:blue")
axes[0].set(title="one minute (600-660 s), three trace types", ylabel="dF/F")
axes[1].vlines(with_event["timestamps"], 0, with_event["events"], color="k", lw=1.5)
axes[1].set(ylabel="events\n(a.u.)", ylim=(0, None))
axes[2].plot(zoom["timestamps"], zoom["filtered_events"], color="tab:green")
axes[2].set(ylabel="filtered events\n(a.u.)", xlabel="time (s)")
plt.show()

# %% [markdown]
# *Figure: top, the cell's dF/F over the whole session, with the minute shown below
# shaded; below, that minute as dF/F, as detected events (one line per frame with an
# event, its height the event's size) and as filtered events (the events smoothed by
# AllenSDK with a half-Gaussian kernel, 2/31 s wide). Events and filtered events are in
# arbitrary units of event size, roughly proportional to the rise in dF/F they explain.
# On the offline sample this activity is generated: the model draws events (more after
# the flashes of each cell's preferred images), shapes them with a GCaMP6f-like rise and
# decay and adds noise to make dF/F, and keeps the events larger than twice the noise
# as the "detected" ones. Real events come from Allen's event-detection algorithm run on
# real dF/F.*

# %% [markdown]
# ## 6. Group-bys that tidy data makes easy
#
# Event rate per cell: the number of frames with an event, divided by the recording
# length. Categorical columns need `observed=True` so that pandas only forms groups
# that actually occur.

# %%
duration = traces.groupby("cell_specimen_id", observed=True)["timestamps"].agg(np.ptp)
rates = (traces.assign(has_event=traces["events"] > 0)
         .groupby(["targeted_structure", "imaging_depth", "cell_specimen_id"], observed=True)
         ["has_event"].sum()
         .div(duration, level="cell_specimen_id")
         .rename("events_per_s").reset_index())
per_plane = (rates.groupby(["targeted_structure", "imaging_depth"], observed=True)
             ["events_per_s"].agg(["count", "mean"]).round(3))
per_plane

# %%
fig, ax = plt.subplots(figsize=(7, 4))
sns.stripplot(data=rates, x="imaging_depth", y="events_per_s", hue="targeted_structure",
              ax=ax, size=6, jitter=0.15)
ax.set(title=f"Session {OPHYS_SESSION}: event rate of each cell by plane{SYNTHETIC}",
       xlabel="imaging depth (µm)", ylabel="frames with an event per second")
ax.legend(title="area", loc="upper left", bbox_to_anchor=(1.01, 1))
plt.show()

# %% [markdown]
# *Figure: one dot per cell, the number of frames with an event divided by the
# recording length, by imaging depth, coloured by area. On the offline sample the rates
# come from the generator's settings (a baseline rate, a running gain and image
# responses drawn per cell, the same model for every plane), so differences between
# planes or areas here are chance, not a finding about Sst cells in VISp and VISl.*

# %% [markdown]
# **Self-check.** One row per plane in `per_plane`, and its `count` column adds up to
# 53 cells.

# %% tags=["nbval-check-output"]
print(per_plane["count"].to_dict())
assert per_plane["count"].sum() == 53 and len(per_plane) == 6

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** Which plane has the highest mean dF/F over all its cells and frames?
# Answer with one `groupby`.
#
# **Exercise 2.** For every cell, find the fraction of frames with a non-zero event.
# Plot the `filtered_events` of the most active cell for the first five minutes of
# image flashes (from 310 s).
#
# **Exercise 3.** Build a tidy table of the `events` trace only, for the two VISl planes
# only. Check that its length is (number of cells) × (number of frames).

# %% tags=["solution"]
# Solution 1
traces.groupby(["ophys_experiment_id", "targeted_structure", "imaging_depth"],
               observed=True)["dff"].mean().sort_values(ascending=False).head(3)

# %% tags=["solution"]
# Solution 2
active = (traces["events"] > 0).groupby(traces["cell_specimen_id"], observed=True).mean()
best = active.idxmax()
print(f"most active cell: {best} ({active.max():.1%} of frames)")
window = traces[(traces["cell_specimen_id"] == best)
                & traces["timestamps"].between(310, 610)]
ax = window.plot(x="timestamps", y="filtered_events", figsize=(10, 3), legend=False)
ax.set(title=f"cell {best}{SYNTHETIC}", xlabel="time (s)", ylabel="filtered events (a.u.)")
plt.show()

# %% tags=["solution"]
# Solution 3
visl = session_traces.sel(cell=session_traces["targeted_structure"] == "VISl")
visl_events = tidy_traces(visl, traces=["events"])
n_cells_visl = visl_events["cell_specimen_id"].nunique()
n_frames = visl.sizes["frame"]
print(len(visl_events), "=", n_cells_visl, "x", n_frames)
assert len(visl_events) == n_cells_visl * n_frames

# %% [markdown]
# ## What's next
# Notebook 03 looks at where these cells are (ROIs on the imaging plane), what the mouse
# saw, and how the cells respond to each image.
