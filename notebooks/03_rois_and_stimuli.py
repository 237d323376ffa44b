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
# # 03 · ROIs, stimuli and event-triggered responses
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/allen-course/allen-brain-observatory-course/blob/main/notebooks/03_rois_and_stimuli.ipynb)
#
# **Estimated time:** 45 minutes · **Prerequisites:** notebooks 01 and 02.
#
# By the end of this notebook you will be able to:
#
# 1. read the cell specimen table and draw ROIs on the plane's max projection;
# 2. navigate the stimulus presentations table and show the images the mouse saw;
# 3. align every cell's activity to image flashes, image changes and omissions, and
#    summarise it as mean ± s.e.m. traces and cells-by-time heatmaps;
# 4. build a table of each cell's mean response to each flash;
# 5. look at licking, rewards and running around image changes.

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
import warnings

warnings.filterwarnings("ignore", category=FutureWarning)   # hdmf/pynwb chatter
warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt
import numpy as np

from course_utils.alignment import event_triggered_responses, mean_sem
from course_utils.caches import open_ophys_cache
from course_utils import reuse
from course_utils.plotting import (image_grid, outline_rois, plot_mean_sem,
                                   plot_response_heatmap)
from course_utils.responses import stimulus_response_table

OPHYS_SESSION = 854060305
cache = open_ophys_cache()
plane = cache.get_behavior_ophys_experiment(854759894)        # a VISp plane, 14 cells
# all 53 cells: notebook 02's load_session_traces, stored on disk (course_utils.reuse)
session_traces = reuse.session_traces(cache, OPHYS_SESSION)

# %% [markdown]
# ## 1. The cell specimen table
#
# One row per segmented ROI in this plane, indexed by `cell_specimen_id`. `x`, `y`,
# `width` and `height` give the ROI's bounding box in pixels; `roi_mask` is a boolean
# image of the whole plane that is True on the ROI's pixels; `valid_roi` says whether
# the ROI passed Allen's quality checks (the public release only contains valid ones).

# %% tags=["nbval-check-output"]
cells = plane.cell_specimen_table
print(f"{len(cells)} ROIs, mask shape {cells['roi_mask'].iloc[0].shape}")

# %%
cells.drop(columns="roi_mask").head()

# %% [markdown]
# ## 2. ROIs on the max projection
#
# The *max projection* keeps, for each pixel, the brightest value over the whole movie,
# so active cells stand out.

# %%
max_projection = plane.max_projection.data
cell_id = cells.index[2]
fig, axes = plt.subplots(1, 3, figsize=(15, 5), sharex=True, sharey=True)
axes[0].imshow(max_projection, cmap="gray")
axes[0].set_title("max projection")
axes[1].imshow(cells.loc[cell_id, "roi_mask"], cmap="gray")
axes[1].set_title(f"ROI mask of cell {cell_id}")
axes[2].imshow(max_projection, cmap="gray")
outline_rois(cells, ax=axes[2])
axes[2].set_title(f"all {len(cells)} ROIs outlined")
for ax in axes:
    ax.set(xlabel="x (pixels)", ylabel="y (pixels)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. What the mouse saw
#
# The stimulus table is shared by all planes of a session. It is organised in *blocks*:
# a grey screen, the change-detection task (images flashed for 250 ms, then 500 ms of
# grey), another grey screen, and repeats of a natural movie.

# %%
stimulus = plane.stimulus_presentations
reuse.stimulus_presentations(cache, 854759894, experiment=plane)   # kept for notebook 05
print(stimulus["stimulus_block_name"].value_counts(), "\n")
flashes = stimulus[stimulus["stimulus_block_name"] == "change_detection_behavior"]
flashes[["start_time", "duration", "image_name", "is_change", "omitted"]].head(8)

# %% [markdown]
# In the task, the same image repeats until it *changes* to another; the mouse is
# rewarded for licking soon after a change. About 5% of flashes are *omitted*: the
# grey screen stays on where an image was due.

# %% tags=["nbval-check-output"]
changes = flashes[flashes["is_change"]]
omissions = flashes[flashes["omitted"]]
images = flashes[~flashes["omitted"]]
print(f"flashes: {len(flashes)}  image flashes: {len(images)}  "
      f"changes: {len(changes)}  omissions: {len(omissions)}")
assert len(flashes) == len(images) + len(omissions)

# %% [markdown]
# The eight images of this session (image set B), as shown before the spherical warp
# that corrects for the screen's distance from the eye. Pixels the mouse could not see
# are NaN, drawn white.

# %%
templates = plane.stimulus_templates
fig = image_grid(templates["unwarped"], ncols=4)
fig.suptitle("the eight images of session 854060305 (unwarped)")
plt.show()

# %% [markdown]
# ## 4. Aligning activity to events
#
# To compare responses across flashes, we cut each cell's dF/F around every event and
# resample it on a common time grid (by linear interpolation, at the imaging rate of
# about 11 Hz). `event_triggered_responses` does this for all cells and all events at
# once and returns an `xarray.DataArray` with named dimensions *cell × event × time*.
# Windows that reach past the recording are NaN rather than padded.
#
# Remember from notebook 02 that the session's three imaging plane groups have their
# own clocks, 31 ms apart. Each cell is interpolated on its own plane's timestamps, so
# "0.2 s after the flash" means the same moment for every cell. Cutting fixed frame
# numbers from all planes would not: it would mix moments up to 62 ms apart.

# %%
dff = session_traces["dff"]            # cell x frame, all six planes, each on its own clock
first_frame = dff["timestamps"].isel(frame=0).groupby("imaging_plane_group").first()
print("first frame time of each imaging plane group (s):",
      first_frame.to_series().round(5).to_dict())
flash_responses = event_triggered_responses(dff, images["start_time"], t_before=-1.0,
                                            t_after=1.5)
# label each event with its image, so we can group by it later
flash_responses = flash_responses.assign_coords(
    image_name=("event", images["image_name"].to_numpy()))
flash_responses

# %% [markdown]
# **Self-check.** 53 cells, one row per image flash, 27 time points from −1 to +1.5 s.

# %% tags=["nbval-check-output"]
print(dict(flash_responses.sizes))
assert flash_responses.sizes["cell"] == 53
assert flash_responses.sizes["event"] == len(images)

# %% [markdown]
# Named dimensions make selections readable: the responses of one cell, split by the
# image shown, averaged over flashes with the s.e.m. as a band.

# %%
CELL = 1086557208
by_image = flash_responses.sel(cell=CELL).groupby("image_name")
fig, ax = plt.subplots(figsize=(8, 4.5))
for image_name, group in by_image:
    plot_mean_sem(mean_sem(group, "event"), ax=ax, label=image_name)
ax.axvspan(0, 0.25, color="0.9", zorder=0)
ax.set_title(f"cell {CELL}: mean ± s.e.m. dF/F around each image flash")
ax.legend(ncols=2, fontsize=8)
plt.show()

# %% [markdown]
# The same for every cell at once: a heatmap of mean responses, cells sorted by their
# response after the event. Changes and omissions are aligned the same way.

# %%
change_responses = event_triggered_responses(dff, changes["start_time"], -1.0, 1.5)
omission_responses = event_triggered_responses(dff, omissions["start_time"], -1.0, 1.5)
fig, axes = plt.subplots(1, 3, figsize=(16, 5))
for ax, (title, responses) in zip(axes, [("image flashes", flash_responses),
                                         ("image changes", change_responses),
                                         ("omissions", omission_responses)]):
    plot_response_heatmap(responses.mean("event"), ax=ax,
                          title=f"{title} (n={responses.sizes['event']})", vmax=0.15)
fig.suptitle("mean dF/F of the 53 cells")
fig.tight_layout()
plt.show()

# %% [markdown]
# Split by image: one heatmap per image, cells in the same order in every panel.

# %%
mean_by_image = flash_responses.groupby("image_name").mean("event")
order = np.argsort(-mean_by_image.sel(time=slice(0, 0.5)).mean(["time", "image_name"]).values)
fig, axes = plt.subplots(2, 4, figsize=(18, 7), sharex=True, sharey=True)
for ax, name in zip(axes.flat, mean_by_image["image_name"].values):
    plot_response_heatmap(mean_by_image.sel(image_name=name).isel(cell=order), ax=ax,
                          title=name, sort=False, vmax=0.15)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 5. A stimulus-response table
#
# For statistics and decoding (notebook 05) we want one number per cell and flash: the
# mean dF/F from 0 to 0.5 s after the flash, next to a baseline from the 0.5 s before.

# %% tags=["nbval-check-output"]
responses = stimulus_response_table(dff, flashes, response_window=(0.0, 0.5),
                                    baseline_window=(-0.5, 0.0))
print(f"{len(responses):,} rows = {responses['cell_specimen_id'].nunique()} cells x "
      f"{responses['stimulus_presentations_id'].nunique()} flashes")

# %%
responses.head()

# %% [markdown]
# Pivoting gives each cell's tuning: its mean response to each image. We use the
# response itself rather than response minus baseline: flashes come every 750 ms, so
# the 0.5 s before a flash still holds the response to the previous flash (usually the
# same image), and subtracting it would remove most of what we want to see.

# %%
tuning = (responses[~responses["omitted"]]
          .pivot_table(index="cell_specimen_id", columns="image_name",
                       values="mean_response"))
preferred = tuning.idxmax(axis=1)
print("cells preferring each image:", preferred.value_counts().sort_index().to_dict())
assert len(responses) == 53 * len(flashes)

# %% [markdown]
# ## 6. Behaviour around image changes
#
# Licks and rewards are lists of event times; running speed is a trace sampled at
# 60 Hz. The same alignment function handles the running trace; for licks we histogram
# lick times relative to each change.

# %%
licks, rewards, running = plane.licks, plane.rewards, plane.running_speed
change_times = changes["start_time"].to_numpy()

edges = np.arange(-1.0, 3.0 + 1e-9, 0.1)
relative_licks = (licks["timestamps"].to_numpy()[None, :] - change_times[:, None]).ravel()
lick_rate = np.histogram(relative_licks, edges)[0] / len(change_times) / 0.1
relative_rewards = (rewards["timestamps"].to_numpy()[None, :] - change_times[:, None]).ravel()
relative_rewards = relative_rewards[(relative_rewards >= -1) & (relative_rewards <= 3)]
speed = event_triggered_responses(running["speed"].to_numpy(), change_times, -1.0, 3.0,
                                  timestamps=running["timestamps"].to_numpy())

fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
axes[0].stairs(lick_rate, edges)
axes[0].set(ylabel="licks per s", title="licking around image changes")
axes[1].hist(relative_rewards, bins=edges)
axes[1].set(ylabel="rewards (count)", title="reward deliveries")
plot_mean_sem(mean_sem(speed, "event"), ax=axes[2], ylabel="running speed (cm/s)")
axes[2].set_title("running speed, mean ± s.e.m.")
for ax in axes:
    ax.axvline(0, color="0.5", ls="--", lw=0.8)
axes[2].set_xlabel("time from image change (s)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** Which plane's cells respond most after an omission? Average
# `omission_responses` over events and over 0–0.75 s, then over the cells of each
# plane (`ophys_experiment_id` is a coordinate on the cell dimension).
#
# **Exercise 2.** Redo the stimulus-response table with the `events` trace instead of
# dF/F. Do the cells prefer the same images?
#
# **Exercise 3.** The trials table (`plane.trials`) marks each change trial as a `hit`
# or a `miss`. Compare running speed around the change for hits and misses.

# %% tags=["solution"]
# Solution 1
after_omission = omission_responses.sel(time=slice(0, 0.75)).mean(["event", "time"])
after_omission.groupby("ophys_experiment_id").mean().to_series().sort_values(ascending=False)

# %% tags=["solution"]
# Solution 2
events = session_traces["events"]
event_table = stimulus_response_table(events, flashes)
event_tuning = (event_table[~event_table["omitted"]]
                .pivot_table(index="cell_specimen_id", columns="image_name",
                             values="mean_response"))
same = (event_tuning.idxmax(axis=1) == preferred).mean()
print(f"{same:.0%} of cells prefer the same image with events as with dF/F")

# %% tags=["solution"]
# Solution 3
trials = plane.trials
fig, ax = plt.subplots(figsize=(7, 4))
for outcome in ("hit", "miss"):
    times = trials.loc[trials[outcome], "change_time"].dropna().to_numpy()
    run = event_triggered_responses(running["speed"].to_numpy(), times, -1.0, 3.0,
                                    timestamps=running["timestamps"].to_numpy())
    plot_mean_sem(mean_sem(run, "event"), ax=ax, label=f"{outcome} (n={len(times)})",
                  ylabel="running speed (cm/s)")
ax.set(title="running around the change, by trial outcome",
       xlabel="time from image change (s)")
ax.legend()
plt.show()

# %% [markdown]
# ## What's next
# Notebook 04 turns to the Neuropixels recordings: spike counts by visual area around
# stimulus epochs.
