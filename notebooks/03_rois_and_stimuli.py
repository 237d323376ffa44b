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
# **Estimated time:** 60 minutes · **Prerequisites:** notebooks 01 and 02.
#
# By the end of this notebook you will be able to:
#
# 1. read the cell specimen table and draw ROIs on the plane's max projection;
# 2. navigate the stimulus presentations table and show the images the mouse saw;
# 3. align every cell's activity to image flashes, image changes and omissions, and
#    summarise it as mean ± s.e.m. traces and cells-by-time heatmaps;
# 4. build a table of each cell's mean response to each flash;
# 5. look at licking, rewards and running around image changes;
# 6. measure how well the mouse did the task (hit rate, false-alarm rate, d′) and check
#    your numbers against AllenSDK's own `get_performance_metrics`.

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

# %% [markdown]
# **What is real here, and what is synthetic.** Without a download, the course reads an
# offline sample built from the real release of session 854060305 (notebook 01).
#
# - **Real** (from the Allen release): the ids of the session, planes and cells and their
#   metadata tables; the stimulus clock, the stimulus blocks and the flash cadence (the
#   first image at the session's real time, then 250 ms image and 500 ms grey); the
#   names of the eight images; the task's rules and parameters, which the trials table
#   follows (go, catch and aborted trials, the response window).
# - **Synthetic** (made by the sample's generator, `course_utils/sample/`): all activity
#   (dF/F, events); the ROI masks and the max projection, which is a field of smooth
#   blobs rather than an image of tissue; the stimulus templates, noise textures that
#   stand in for the real natural images; which flashes change or are omitted, and
#   every trial's outcome; the licks, rewards and running.
#
# So a figure built from activity or behaviour shows what the generator was told to put
# there, not a fact about the brain. Each such figure's caption says so, and where
# published work on the real dataset reports something different, we say what it
# reports. Run the same code on a downloaded session (notebook 01) for real results.

# %%
import warnings

warnings.filterwarnings("ignore", category=FutureWarning)   # hdmf/pynwb chatter
warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import norm

from course_utils.alignment import event_triggered_responses, mean_sem
from course_utils.caches import open_ophys_cache
from course_utils.config import data_source
from course_utils import reuse
from course_utils.plotting import (image_grid, outline_rois, plot_mean_sem,
                                   plot_response_heatmap)
from course_utils.responses import stimulus_response_table

OPHYS_SESSION = 854060305
# figure titles say when the activity is the offline sample's synthetic one
ON_SAMPLE = data_source() == "sample"
SYNTHETIC = "\n(offline sample: synthetic data)" if ON_SAMPLE else ""
cache = open_ophys_cache()
plane = cache.get_behavior_ophys_experiment(854759894)        # a VISp plane, 14 cells
# all 53 cells: notebook 02's load_session_traces, stored on disk (course_utils.reuse)
session_traces = reuse.session_traces(cache, OPHYS_SESSION)
print(plane.metadata["cre_line"], "·", plane.metadata["session_type"])

# %% [markdown]
# A reminder from notebook 01: this session imaged an *Sst-IRES-Cre* mouse (the
# labelled cells are Sst inhibitory interneurons), in a session of type
# `OPHYS_6_images_B`.
#
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
fig.suptitle(f"plane {plane.ophys_experiment_id}: max projection and ROIs "
             f"{SYNTHETIC}")
fig.tight_layout()
plt.show()

# %% [markdown]
# *Figure: the plane's max projection (left), one ROI mask (middle) and all ROI outlines
# on the projection (right). On the offline sample both the projection and the masks
# are synthetic: the projection is smooth noise with a bright blob on each ROI, and the
# ROIs are ellipses placed at random. A real max projection shows the labelled somata,
# neuropil and blood vessels, and real ROIs follow the cells' shapes.*
#
# ## 3. What the mouse saw
#
# The stimulus table is shared by all planes of a session. It is organised in *blocks*:
# a grey screen, the change-detection task, another grey screen, and repeats of a
# natural movie.

# %%
stimulus = plane.stimulus_presentations
reuse.stimulus_presentations(cache, 854759894, experiment=plane)   # kept for notebook 05
print(stimulus["stimulus_block_name"].value_counts(), "\n")
flashes = stimulus[stimulus["stimulus_block_name"] == "change_detection_behavior"]
flashes[["start_time", "duration", "image_name", "is_change", "omitted"]].head(8)

# %% [markdown]
# ### The change-detection task
#
# Visual Behavior mice are trained to lick a spout when an image changes
# ([Allen Brain Map: Visual Behavior 2P](https://portal.brain-map.org/explore/circuits/visual-behavior-2p);
# [AllenSDK documentation and technical white paper](https://allensdk.readthedocs.io/en/latest/visual_behavior_optical_physiology.html)).
# An image is flashed for 250 ms, then the screen is grey for 500 ms: one flash every
# 750 ms. The same image repeats until the task changes it. The session is a sequence
# of *trials*; on each, the task schedules a change a random number of flashes ahead
# (from a geometric distribution, `stimulus_distribution` below), so the mouse cannot
# simply time it.
#
# - **Go trial**: at the scheduled flash the image changes to one of the other seven.
#   A lick in the *response window*, 0.15 to 0.75 s after the change, is a **hit** and
#   earns a drop of water; no lick there is a **miss**.
# - **Catch trial**: at the scheduled flash the image does *not* change (a sham
#   change), but the same window is scored: a lick is a **false alarm**, no lick a
#   **correct rejection**. Catch trials measure how often the mouse licks without a
#   change.
# - **Aborted trial**: a lick before the scheduled change ends the trial early, and the
#   mouse waits through a time-out before the next one.
# - **Auto-rewarded trials**: the first few change trials of a session give the water
#   automatically just after the change, whatever the mouse does. AllenSDK counts them
#   as neither go nor catch trials (`auto_rewarded` is True), so they never enter the
#   hit and miss counts. The offline sample has none.
# - **Omissions**: in imaging sessions about 5% of the flashes are left out: the grey
#   screen stays on where an image was due, and the next flash comes on time.
#
# The task's parameters are stored with the session:

# %%
{key: plane.task_parameters[key]
 for key in ("stimulus_duration_sec", "blank_duration_sec", "response_window_sec",
             "stimulus_distribution", "omitted_flash_fraction", "reward_volume")}

# %% [markdown]
# In the stimulus table, `is_change` marks the first flash of a new image and `omitted`
# the flashes that were left out. On the sample, the flashes follow the real session's
# clock and cadence, but which flash changes and which is omitted was drawn by the
# generator with the task's rules.

# %% tags=["nbval-check-output"]
changes = flashes[flashes["is_change"]]
omissions = flashes[flashes["omitted"]]
images = flashes[~flashes["omitted"]]
print(f"flashes: {len(flashes)}  image flashes: {len(images)}  "
      f"changes: {len(changes)}  omissions: {len(omissions)}")
assert len(flashes) == len(images) + len(omissions)

# %% [markdown]
# The images themselves are in `plane.stimulus_templates`: one row per image name, with
# two columns. `warped` is the image as it was drawn on the monitor, after the spherical
# warp that corrects for the flat screen's varying distance from the eye; `unwarped` is
# the image as it was meant to be seen, with NaN where a pixel fell off the screen.
# Each cell of the table holds a whole image array, so we summarise the arrays:

# %%
templates = plane.stimulus_templates
templates.applymap(lambda image: f"{image.shape[0]}×{image.shape[1]} {image.dtype}")

# %%
# every 4th pixel in each direction is plenty for small panels, and draws much faster
fig = image_grid(templates["unwarped"].apply(lambda image: image[::4, ::4]), ncols=4)
fig.suptitle("the eight images of session 854060305 (unwarped)"
             + ("\n(offline sample: synthetic stand-ins under the real names)" if ON_SAMPLE else ""))
plt.show()

# %% [markdown]
# *Figure: the `unwarped` template of each image of this session (image set B), under
# its real name, drawn at a quarter of its resolution. On the offline sample these are
# noise textures standing in for the real natural images, which the sample does not
# include; NaN pixels (off the screen) are drawn white. With real data the same cell
# shows the natural scenes the mouse saw.*
#
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
ax.set_title(f"cell {CELL}: mean ± s.e.m. dF/F around each image flash{SYNTHETIC}")
ax.set_xlabel("time from image flash (s)")
ax.legend(ncols=2, fontsize=8)
plt.show()

# %% [markdown]
# *Figure: one cell's mean dF/F around the flashes of each image (grey band: the 250 ms
# the image is on). Synthetic on the sample: the generator gives every cell a random
# ranking of the eight images and a fixed response shape, so which image this cell
# prefers was drawn, not measured.*
#
# The same for every cell at once: heatmaps of the mean response, one row per cell.
# To compare the three kinds of event, all three panels share one cell order (sorted
# once, by the mean response from 0 to 0.5 s after an image flash) and one colour
# scale, from 0 to the largest mean in any panel, so no panel saturates.

# %%
change_responses = event_triggered_responses(dff, changes["start_time"], -1.0, 1.5)
omission_responses = event_triggered_responses(dff, omissions["start_time"], -1.0, 1.5)
flash_mean = flash_responses.mean("event")
order = np.argsort(-flash_mean.sel(time=slice(0, 0.5)).mean("time").values)
panels = [("image flashes", flash_responses), ("image changes", change_responses),
          ("omissions", omission_responses)]
means = [responses.mean("event").isel(cell=order) for _, responses in panels]
vmax = max(float(mean.max()) for mean in means)

fig, axes = plt.subplots(1, 3, figsize=(16, 5), sharey=True, layout="constrained")
for ax, (title, responses), mean in zip(axes, panels, means):
    plot_response_heatmap(mean, ax=ax, title=f"{title} (n={responses.sizes['event']})",
                          sort=False, vmax=vmax, colorbar=False)
axes[0].set_ylabel("cell (sorted by flash response)")
fig.colorbar(axes[0].images[0], ax=axes, label="mean dF/F")
fig.suptitle(f"mean dF/F of the 53 cells around three kinds of event{SYNTHETIC}")
plt.show()
print(f"colour scale: 0 to {vmax:.2f} dF/F")

# %% [markdown]
# *Figure: mean dF/F of each cell (rows, same order in all panels) around image flashes,
# image changes and omitted flashes. Synthetic on the sample: the generator gives each
# cell its own gain on change flashes (larger than 1 for most), and about 30% of the
# cells a response at the time the omitted image was due. That omission response is a
# short transient with the same shape as a flash response, which is why it looks like
# a box here.*
#
# *Real data differ. In the Visual Behavior recordings, Garrett et al. (2020, eLife
# 9:e50340, [doi:10.7554/eLife.50340](https://doi.org/10.7554/eLife.50340)) found that
# Vip interneurons (not the Sst cells of this session), with familiar images, were suppressed by the images and their
# activity ramped up in the grey periods; when an expected image was omitted, that ramp
# continued until the next image appeared. Nothing in the synthetic heatmap above is
# evidence for or against such dynamics.*
#
# Split by image: one heatmap per image, with the cells in the same order as above
# and one colour scale for all eight panels.

# %%
mean_by_image = flash_responses.groupby("image_name").mean("event").isel(cell=order)
vmax_images = float(mean_by_image.max())
fig, axes = plt.subplots(2, 4, figsize=(18, 7), sharex=True, sharey=True,
                         layout="constrained")
for ax, name in zip(axes.flat, mean_by_image["image_name"].values):
    plot_response_heatmap(mean_by_image.sel(image_name=name), ax=ax, title=name,
                          sort=False, vmax=vmax_images, colorbar=False)
for ax in axes[:, 0]:
    ax.set_ylabel("cell (sorted by flash response)")
fig.colorbar(axes[0, 0].images[0], ax=axes, label="mean dF/F")
fig.suptitle("mean dF/F around the flashes of each image, cells sorted by flash "
             f"response{SYNTHETIC}")
plt.show()

# %% [markdown]
# *Figure: each cell's mean response to each image. Synthetic on the sample: each cell's
# preferred image was drawn at random by the generator, so the pattern shows how to
# read such a figure, not how these neurons are tuned.*
#
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
# same image), and subtracting it would remove most of what we want to see. (On the
# sample, how many cells prefer each image is set by the generator's random draws.)

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
fig.suptitle(f"behaviour around the {len(change_times)} image changes{SYNTHETIC}")
fig.tight_layout()
plt.show()

# %% [markdown]
# *Figure: lick rate, reward deliveries and running speed around image changes.
# Synthetic on the sample: on a responded trial the generator starts a lick bout 0.3 to
# 0.7 s after the change and gives the reward 10 ms after the first lick; the running
# trace is drawn with no link to the task, so it cannot show any change-locked slowing.
# Real sessions have licks outside the response window too (aborted trials, licking
# after the reward), and the same code shows them.*
#
# ## 7. How well did the mouse do the task?
#
# The trials table has one row per trial, with its type (`go`, `catch`, `aborted`,
# `auto_rewarded`) and outcome (`hit`, `miss`, `false_alarm`, `correct_reject`) as
# boolean columns. The outcomes on the sample are synthetic: the generator draws each
# go trial's response with one fixed probability, and each catch trial's with another,
# so the numbers below describe the generator, not a mouse. The computation is the one
# you would do on a real session.

# %%
trials = plane.trials
trials[["start_time", "change_time", "go", "catch", "aborted", "auto_rewarded", "hit",
        "miss", "false_alarm", "correct_reject", "response_latency"]].head()

# %% [markdown]
# **Self-check.** Every trial is exactly one of go, catch, aborted or auto-rewarded;
# every go trial is a hit or a miss, every catch trial a false alarm or a correct
# rejection.

# %% tags=["nbval-check-output"]
kinds = ["go", "catch", "aborted", "auto_rewarded"]
outcomes = ["hit", "miss", "false_alarm", "correct_reject"]
counts = {name: int(trials[name].sum()) for name in kinds + outcomes}
print(f"{len(trials)} trials:", counts)
assert (trials[kinds].sum(axis=1) == 1).all()
assert counts["hit"] + counts["miss"] == counts["go"]
assert counts["false_alarm"] + counts["correct_reject"] == counts["catch"]

# %% [markdown]
# ### Hit rate, false-alarm rate and d′
#
# The **hit rate** is the fraction of go trials with a lick in the response window,
# hits / (hits + misses); the **false-alarm rate** is the same fraction on catch trials,
# false alarms / (false alarms + correct rejections). A mouse that licks all the time
# has a high hit rate *and* a high false-alarm rate, so neither alone says whether it
# sees the change. Signal detection theory combines them into the sensitivity
#
# $$d' = Z(\text{hit rate}) - Z(\text{false-alarm rate}),$$
#
# where $Z$ is the inverse of the standard normal cumulative distribution
# (`scipy.stats.norm.ppf`). $d' = 0$ means the mouse licks as often without a change as
# with one; larger is better.
#
# A rate of exactly 0 or 1 gives an infinite $Z$, which happens easily with few catch
# trials. We use the common **1/(2N) rule** (Macmillan & Kaplan 1985, *Psychological
# Bulletin* 98:185, [doi:10.1037/0033-2909.98.1.185](https://doi.org/10.1037/0033-2909.98.1.185)):
# with N trials, a rate of 0 becomes 1/(2N) and a rate of 1 becomes 1 − 1/(2N). It is
# also the rule AllenSDK applies (`trial_number_limit` in
# `allensdk/brain_observatory/behavior/dprime.py`).

# %%
def corrected_rate(k, n):
    """Fraction k/n of trials with a lick, kept within [1/(2n), 1 - 1/(2n)]."""
    return np.clip(k / n, 1 / (2 * n), 1 - 1 / (2 * n))


def dprime(hit_rate, false_alarm_rate):
    """Sensitivity index: Z(hit rate) - Z(false-alarm rate)."""
    return norm.ppf(hit_rate) - norm.ppf(false_alarm_rate)


hit_rate = corrected_rate(counts["hit"], counts["hit"] + counts["miss"])
fa_rate = corrected_rate(counts["false_alarm"],
                         counts["false_alarm"] + counts["correct_reject"])
session_dprime = dprime(hit_rate, fa_rate)

# %% [markdown]
# **Self-check.** The formula gives 0 for equal rates and 2 for rates one standard
# deviation either side of the middle; the session's values are printed below.

# %% tags=["nbval-check-output"]
assert dprime(0.3, 0.3) == 0
assert np.isclose(dprime(norm.cdf(1), norm.cdf(-1)), 2)
assert np.isclose(corrected_rate(0, 10), 0.05)
assert np.isclose(corrected_rate(10, 10), 0.95)
print(f"hit rate {hit_rate:.3f} ({counts['hit']} of {counts['go']} go trials), "
      f"false-alarm rate {fa_rate:.3f} ({counts['false_alarm']} of {counts['catch']} "
      f"catch trials), d' = {session_dprime:.2f}")

# %% [markdown]
# ### AllenSDK's performance metrics
#
# AllenSDK computes the same quantities itself, in `plane.get_performance_metrics()`,
# but not over the whole session at once. Its source
# (`allensdk/brain_observatory/behavior/dprime.py` and
# `data_objects/trials/trials.py`) does this, and `get_rolling_performance_df()` returns
# the per-trial values:
#
# 1. Aborted trials are dropped. On each remaining trial, the hit rate is computed over
#    the go trials among the last 100 trials (a rolling window), with the 1/(2N) rule
#    applied to that window's N; the false-alarm rate likewise over its catch trials.
#    Auto-rewarded trials take a place in the window but count as neither.
# 2. Each trial's d′ is computed from those two rates, after clipping both to
#    [0.01, 0.99].
# 3. The *reward rate* of each trial counts, among the 25 trials before it and the 24
#    after it,
#    those whose first lick came 0.15 to 0.75 s after the change or sham change (so
#    false alarms count too), per minute of those trials; it is undefined for the
#    first 10 trials. A trial counts as
#    **engaged** when its reward rate is above 2 rewards per minute.
# 4. `mean_hit_rate`, `mean_false_alarm_rate` and `mean_dprime` are the averages of the
#    per-trial rolling values; the `_engaged` versions average the engaged trials only;
#    `max_dprime` is the largest rolling value.
#
# So AllenSDK's `mean_dprime` is an average of local d′ values, not the d′ of the
# session's totals. With only about 10 catch trials in a window of 100, the 1/(2N) floor
# of each window is about 0.05, which lifts AllenSDK's mean false-alarm rate above the
# session's overall rate and changes d′ accordingly.

# %%
metrics = plane.get_performance_metrics()
rolling = plane.get_rolling_performance_df()
pd.DataFrame({
    "whole session (this notebook)": [hit_rate, fa_rate, session_dprime],
    "AllenSDK: mean of rolling values": [metrics["mean_hit_rate"],
                                         metrics["mean_false_alarm_rate"],
                                         metrics["mean_dprime"]],
    "AllenSDK: engaged trials only": [metrics["mean_hit_rate_engaged"],
                                      metrics["mean_false_alarm_rate_engaged"],
                                      metrics["mean_dprime_engaged"]],
}, index=["hit rate", "false-alarm rate", "d′"]).round(3)

# %% [markdown]
# **Self-check.** Rebuilding AllenSDK's rolling rates and d′ from the trials table with
# pandas gives its numbers exactly, and AllenSDK's counts are the trials table's.

# %% tags=["nbval-check-output"]
WINDOW = 100                                    # AllenSDK's dprime.SLIDING_WINDOW
done = trials[~trials["aborted"]]


def rolling_rate(outcome):
    """Mean of `outcome` (1, 0 or NaN) over the last WINDOW trials, 1/(2N) rule."""
    window = outcome.rolling(WINDOW, min_periods=0)
    n = window.count().where(lambda n: n > 0)   # NaN: no such trial in the window
    return window.mean().clip(1 / (2 * n), 1 - 1 / (2 * n))


rolling_hit = rolling_rate(done["hit"].astype(float).where(done["go"]))
rolling_fa = rolling_rate(done["false_alarm"].astype(float).where(done["catch"]))
limits = (1 / WINDOW, 1 - 1 / WINDOW)
rolling_dprime = pd.Series(dprime(rolling_hit.clip(*limits), rolling_fa.clip(*limits)),
                           index=done.index)

sdk = rolling.loc[done.index]
np.testing.assert_allclose(rolling_hit, sdk["hit_rate"], equal_nan=True)
np.testing.assert_allclose(rolling_fa, sdk["false_alarm_rate"], equal_nan=True)
np.testing.assert_allclose(rolling_dprime, sdk["rolling_dprime"], equal_nan=True)
assert np.isclose(rolling_dprime.mean(), metrics["mean_dprime"])
assert np.isclose(rolling_dprime.max(), metrics["max_dprime"])
for name in ["go", "catch", "hit", "miss", "false_alarm", "correct_reject"]:
    assert metrics[f"{name}_trial_count"] == counts[name]
print(f"rolling d' rebuilt on all {len(done)} non-aborted trials: "
      f"mean {rolling_dprime.mean():.3f}, max {rolling_dprime.max():.3f}")

# %% [markdown]
# ### Engagement over the session
#
# The rolling values show whether performance held up through the hour. Real mice do
# not work at a constant rate: AllenSDK's engagement criterion (a reward rate above 2
# per minute) exists to set aside the stretches where a mouse stopped working, for
# instance once it is no longer thirsty. On the sample the generator keeps the same hit
# and false-alarm probabilities for the whole session, so any drift you see is chance.

# %%
minutes = trials["start_time"] / 60
scored = rolling.loc[done.index]                # the rolling rates skip aborted trials
fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
axes[0].plot(minutes, rolling["reward_rate"])
axes[0].axhline(2, color="0.5", ls="--", lw=0.8, label="engagement threshold")
axes[0].set(ylabel="rewards per minute", title="rolling reward rate (±25 trials)")
axes[0].legend(loc="lower left")
axes[1].plot(minutes[done.index], scored["hit_rate"], label="hit rate")
axes[1].plot(minutes[done.index], scored["false_alarm_rate"], label="false-alarm rate")
axes[1].set(ylabel="fraction of trials", ylim=(0, 1),
            title="rolling hit and false-alarm rates (last 100 trials)")
axes[1].legend(loc="center left")
axes[2].plot(minutes[done.index], scored["rolling_dprime"], label="rolling d′")
axes[2].axhline(session_dprime, color="0.5", ls="--", lw=0.8, label="whole-session d′")
axes[2].set(ylabel="d′", xlabel="trial start (minutes from the start of the recording)",
            title="rolling d′")
axes[2].legend(loc="lower left")
fig.suptitle(f"task performance over the session{SYNTHETIC}")
fig.tight_layout()
plt.show()

# %% [markdown]
# *Figure: AllenSDK's per-trial reward rate (top, with the 2 per minute engagement
# threshold), rolling hit and false-alarm rates (middle) and rolling d′ (bottom, with
# the whole-session d′ dashed), against the time each trial started. Synthetic on the
# sample: the outcomes are drawn with constant probabilities, so the curves wander by
# chance around flat lines. The large swings of the false-alarm rate and d′ come from
# the catch trials: a window of 100 trials holds only about ten, so one false alarm
# more or less moves the rate by about 0.1. On a real session, the same figure shows
# whether and when the mouse stopped working.*
#
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
# or a `miss`. Compare running speed around the change for hits and misses. (On the
# sample, running is drawn with no link to the trial outcome: what difference should
# you expect?)
#
# **Exercise 4.** Compute the hit rate, false-alarm rate and d′ (with the 1/(2N) rule)
# separately for the engaged trials (`rolling["reward_rate"] > 2`), and for the first
# and the second half of the session's trials. Why do the engaged trials give nearly the
# session's numbers here?

# %% tags=["solution"]
# Solution 1
after_omission = omission_responses.sel(time=slice(0, 0.75)).mean(["event", "time"])
after_omission.groupby("ophys_experiment_id").mean().to_series().sort_values(ascending=False)
# On the sample, which cells respond to omissions was drawn at random by the generator,
# so the ranking of the planes is chance, not a property of their areas or depths.

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
fig, ax = plt.subplots(figsize=(7, 4))
for outcome in ("hit", "miss"):
    times = trials.loc[trials[outcome], "change_time"].dropna().to_numpy()
    run = event_triggered_responses(running["speed"].to_numpy(), times, -1.0, 3.0,
                                    timestamps=running["timestamps"].to_numpy())
    plot_mean_sem(mean_sem(run, "event"), ax=ax, label=f"{outcome} (n={len(times)})",
                  ylabel="running speed (cm/s)")
ax.set(title=f"running around the change, by trial outcome{SYNTHETIC}",
       xlabel="time from image change (s)")
ax.legend()
plt.show()
# On the sample, running and outcomes are drawn independently: any gap between the two
# curves is chance (compare it with the s.e.m. bands), not a link between running and
# performance.

# %% tags=["solution"]
# Solution 4
first_half = trials["start_time"] < trials["start_time"].median()
for name, selected in [("engaged", rolling["reward_rate"] > 2),
                       ("first half", first_half), ("second half", ~first_half)]:
    part = trials[selected]
    h = corrected_rate(part["hit"].sum(), part["go"].sum())
    f = corrected_rate(part["false_alarm"].sum(), part["catch"].sum())
    print(f"{name:12s} {len(part):3d} trials: hit rate {h:.2f}, "
          f"false-alarm rate {f:.2f}, d' {dprime(h, f):.2f}")
# Nearly every trial of the sample is engaged (its reward rate never falls below 2 per
# minute), so the engaged trials are almost the whole session. The halves differ by
# chance only: the generator uses the same probabilities throughout.

# %% [markdown]
# ## What's next
# Notebook 04 turns to the Neuropixels recordings: spike counts by visual area around
# stimulus epochs.
