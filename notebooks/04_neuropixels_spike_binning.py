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
# # 04 · Neuropixels: spike counts by visual area around stimulus epochs
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/allen-course/allen-brain-observatory-course/blob/main/notebooks/04_neuropixels_spike_binning.ipynb)
#
# **Estimated time:** 55 minutes · **Prerequisites:** notebook 01; NumPy arrays;
# a first look at xarray in notebook 03 helps.
#
# By the end of this notebook you will be able to:
#
# 1. choose Visual Coding Neuropixels sessions that record all six visual areas and
#    load one with AllenSDK;
# 2. read a session's stimulus epochs and its units per visual area;
# 3. turn spike times into spike counts in 100 ms bins around every epoch start, for
#    every unit, as one labelled array, and know exactly which bin a spike lands in;
# 4. save that array to a portable NetCDF file and read it back;
# 5. draw a raster, population rates and units-by-time heatmaps;
# 6. map each unit's receptive field from the gabors epoch and its direction tuning from
#    the drifting gratings, with AllenSDK's selectivity indices.
#
# **About the data.** On the offline sample (the default), the session table, the
# session and probe ids, which areas each probe records, how many units pass the quality
# filters in each area, and the session's stimulus epochs (names, start and stop times)
# are the release's. The spikes are generated, and so are the unit ids, their quality
# metrics and each presentation's stimulus parameters (see `data/README.md`). Every
# figure built from spikes below is therefore a picture of the sample's generator, not
# of mouse visual cortex; the counting method is what this notebook teaches, and it runs
# unchanged on the real files (`COURSE_DATA_SOURCE=allen`).

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
from pathlib import Path

warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt
import numpy as np

from course_utils import reuse
from course_utils.caches import open_ecephys_cache
from course_utils.config import data_source
from course_utils.ecephys import (by_area, epoch_spike_counts, load_ecephys_session,
                                  stimulus_epochs, units_by_area)
from course_utils.export import load_netcdf, save_netcdf
from course_utils.metadata import AREA_SHORT_NAMES, VISUAL_AREAS, sessions_with_areas

SESSION = 756029989

# %% [markdown]
# ## 1. Sessions that record all six visual areas
#
# The six areas of mouse visual cortex, with the short names used in papers: V1
# (primary visual cortex, `VISp`) and the higher areas LM, RL, AL, PM and AM.

# %% tags=["nbval-check-output"]
cache = open_ecephys_cache()
sessions = cache.get_session_table()
print(AREA_SHORT_NAMES)
eight = sessions_with_areas(sessions, VISUAL_AREAS, "brain_observatory_1.1")
print(len(eight), "brain_observatory_1.1 sessions record all six:", eight)
assert eight == [719161530, 750332458, 750749662, 754312389, 755434585, 756029989,
                 791319847, 797828357]

# %% [markdown]
# ## 2. One session
#
# `load_ecephys_session` calls `cache.get_session_data`, which applies AllenSDK's
# default quality filters to the units: `session.units` holds only units that pass.
# Spike sorting splits the voltage recordings into putative neurons ("units"), and
# some of those are poor: a mix of several neurons, or one neuron seen only part of
# the time. Three metrics, computed for every unit, flag them:
#
# * **presence ratio**: the fraction of equal blocks of the recording in which the unit
#   fired at all. A unit that drifts away from the probe, or appears only late, has a
#   low one. Kept: at least 0.95.
# * **ISI violations**: how many inter-spike intervals are shorter than a neuron's
#   refractory period (about 1.5 ms), turned into an estimate of the rate of spikes
#   from other neurons relative to the unit's own rate. Kept: at most 0.5.
# * **amplitude cut-off**: an estimate, from how the distribution of spike amplitudes is
#   cut off at the detection threshold, of the fraction of the unit's spikes that were
#   too small to be detected. Kept: at most 0.1.
#
# These limits are AllenSDK's defaults in its code (`UNIT_FILTER_DEFAULTS` in
# `allensdk.brain_observatory.ecephys`, version 2.16; a unit exactly on a limit is kept).
# AllenSDK's
# [quality metrics tutorial](https://allensdk.readthedocs.io/en/latest/_static/examples/nb/ecephys_quality_metrics.html)
# explains each metric on real units, and warns that the defaults may not suit every
# analysis (its text gives the presence-ratio limit as 0.9; the code uses 0.95). To
# change one, pass it on: `cache.get_session_data(id, presence_ratio_minimum=0.9)`, or
# `np.inf` / `-np.inf` to switch a filter off. On the sample the metric values are
# generated (some units fail on purpose, so that the filters visibly remove something).

# %%
started = time.perf_counter()
session = load_ecephys_session(cache, SESSION)
units = units_by_area(session)               # the six areas, with short names
print(f"loaded in {time.perf_counter() - started:.0f} s; {len(session.units)} units pass "
      f"the filters, {len(units)} of them in the six visual areas")
units[["ecephys_structure_acronym", "area", "probe_description", "firing_rate"]].head()

# %% [markdown]
# Spike times are read from the file the first time you ask for them: a dictionary
# `{unit id: sorted spike times in seconds}`.

# %%
started = time.perf_counter()
spike_times = session.spike_times
n_spikes = sum(len(spike_times[u]) for u in units.index)
print(f"read in {time.perf_counter() - started:.0f} s: {n_spikes:,} spikes from the "
      f"{len(units)} visual-area units")

# %% [markdown]
# **Self-check.** Units per area: V1 51, LM 30, RL 24, AL 51, PM 90, AM 72.

# %% tags=["nbval-check-output"]
per_area = units["area"].value_counts(sort=False)
print(per_area.to_dict())
assert per_area.to_dict() == {"V1": 51, "LM": 30, "RL": 24, "AL": 51, "PM": 90, "AM": 72}

# %% [markdown]
# ## 3. Stimulus epochs
#
# The session shows blocks of different stimuli (Gabor patches, flashes, drifting and
# static gratings, natural scenes and movies), separated by spontaneous activity in
# front of a grey screen. An *epoch* is one such block. The first, `gabors`, flashes a
# small Gabor patch at one position of a 9 × 9 grid at a time: averaging a unit's
# response at each position maps its receptive field (AllenSDK's
# `ReceptiveFieldMapping` does this), which a later analysis can use to keep only units
# whose receptive field lies on the screen.

# %%
session.get_stimulus_epochs().head(8)

# %% [markdown]
# We keep the stimulus epochs, dropping spontaneous and invalid ones:

# %%
epochs = stimulus_epochs(session)
print(len(epochs), "stimulus epochs")
epochs[["start_time", "stop_time", "duration", "stimulus_name"]]

# %% [markdown]
# **Self-check.** 15 epochs; the first starts at 84.496 s and the last at 8611.624 s.

# %% tags=["nbval-check-output"]
print(f"{len(epochs)} epochs, first {epochs['start_time'].iloc[0]:.3f} s, "
      f"last {epochs['start_time'].iloc[-1]:.3f} s")
assert len(epochs) == 15
assert abs(epochs["start_time"].iloc[0] - 84.49618798636119) < 1e-6

# %% [markdown]
# ## 4. Spike counts in 100 ms bins
#
# For every epoch and every unit we count spikes from 10 s before to 90 s after the
# epoch start, in 1,000 bins of 100 ms. Which bin does a spike exactly on a bin edge
# go to? We follow `np.histogram`: every bin is half-open, `[a, b)`, so an edge spike
# goes to the later bin, except the last bin, which is closed, `[a, b]`. Spikes are
# taken relative to the window start (epoch start − 10 s).
#
# `epoch_spike_counts` does every epoch and unit in one call and returns an
# `xarray.DataArray` with dimensions *epoch × time × unit*. Each unit carries its area,
# each epoch its start time and stimulus name, and `time` holds the bin centres in
# seconds from the epoch start.

# %% tags=["nbval-check-output"]
started = time.perf_counter()
counts = epoch_spike_counts(session, pre=10.0, post=90.0, bin_size=0.1, epochs=epochs)
helper_seconds = time.perf_counter() - started
print(f"counted {int(counts.sum()):,} spikes in {helper_seconds:.2f} s")

# %%
counts

# %% [markdown]
# Per area, this gives the walkthrough's layout: for each epoch a (time bins × units)
# matrix.

# %%
areas = by_area(counts)
for name, area_counts in areas.items():
    print(f"{name}: {area_counts.sizes['epoch']} epochs of {area_counts.isel(epoch=0).shape}")

# %% [markdown]
# **Self-check.** 15 epochs × 1,000 bins × 318 units; V1's matrix for one epoch is
# (1000, 51).

# %% tags=["nbval-check-output"]
print(dict(counts.sizes), areas["V1"].isel(epoch=0).shape)
assert dict(counts.sizes) == {"epoch": 15, "time": 1000, "unit": 318}
assert areas["V1"].isel(epoch=0).shape == (1000, 51)

# %% [markdown]
# ### The walkthrough's way, once
#
# The public walkthrough this course follows counts with plain loops: for every epoch,
# every area and every unit, it keeps the unit's spikes inside the window, shifts them
# so that the window starts at 0 s, and calls `np.histogram`. Here is that loop for one
# area (V1) and one epoch (the first drifting gratings epoch), with the helper's own bin
# edges (`counts.attrs["bin_edges"]`: the same 1,001 numbers as the walkthrough's
# `np.arange(0, 100.1, 0.1)`).

# %%
epoch = int(np.flatnonzero(counts["stimulus_name"].values == "drifting_gratings")[0])
start = float(counts["start_time"][epoch])
pre, post = counts.attrs["pre"], counts.attrs["post"]
edges = counts.attrs["bin_edges"]                   # seconds from start - pre

started = time.perf_counter()
per_unit = []
for unit in units.index[units["area"] == "V1"]:
    t = spike_times[unit]
    t = t[(t >= start - pre) & (t <= start + post)]           # the unit's spikes in the window
    unit_counts, _ = np.histogram(t - (start - pre), bins=edges)
    per_unit.append(unit_counts)
loop_counts = np.array(per_unit).T                  # (time bins, units), as the walkthrough
loop_seconds = time.perf_counter() - started

started = time.perf_counter()
v1_once = epoch_spike_counts(session, pre=pre, post=post, bin_size=0.1, areas=["VISp"],
                             epochs=epochs.iloc[[epoch]])
once_seconds = time.perf_counter() - started
whole_loop = loop_seconds / len(per_unit) * counts.sizes["unit"] * counts.sizes["epoch"]
print(f"V1, one epoch: loop {loop_seconds * 1e3:.0f} ms, helper {once_seconds * 1e3:.0f} ms")
print(f"all {counts.sizes['unit']} units x {counts.sizes['epoch']} epochs: the loop would "
      f"take about {whole_loop:.1f} s at that pace, the helper took {helper_seconds:.2f} s "
      f"(about {whole_loop / helper_seconds:.0f} times faster)")

# %% [markdown]
# For one area and one epoch the loop is quick, and the helper can even be slower: it
# spends some tens of milliseconds on fixed work (selecting the units, labelling the
# result). The gain comes with the whole job. The loop reads each unit's entire spike
# train (tens of thousands of spikes) again for every epoch. The helper uses the fact
# that spike times are sorted: one `np.searchsorted` per unit finds where every bin
# edge of every epoch falls among its spikes (a binary search, not a scan), and the
# differences between neighbouring positions are the counts; it also shares the units
# between the CPU cores. The printed times vary from run to run and machine to machine.
#
# **Self-check.** The loop's counts and the helper's are identical (the helper's are
# int32, the loop's int64; `assert_array_equal` compares values). Both follow the same
# edge rule, `np.histogram`'s: a spike exactly on an inner edge goes to the later bin, one
# exactly on the last edge stays in the last bin. On the sample no spike sits exactly
# on an edge (spike times lie on a 2⁻¹⁵ s grid, epoch starts do not), and on real data
# it is rare, so the comparison above cannot show the rule at work. The second check
# tries it on four made-up spikes: one at the window start, one on an inner edge, one
# on the last edge and one just after the window.

# %% tags=["nbval-check-output"]
from course_utils.spikes import bin_spikes

np.testing.assert_array_equal(loop_counts, areas["V1"].isel(epoch=epoch).values)
np.testing.assert_array_equal(loop_counts, v1_once.isel(epoch=0).values)
print(f"V1, epoch {epoch}: {loop_counts.shape} counts, {int(loop_counts.sum()):,} spikes, "
      "loop == helper")

made_up = {1: np.array([0.5, 0.75, 1.5, 1.6])}      # window: 0.5 s to 1.5 s, 0.25 s bins
helper_bins = bin_spikes(made_up, [1.0], pre=0.5, post=0.5, bin_size=0.25)
numpy_bins, _ = np.histogram(made_up[1] - 0.5, bins=[0, 0.25, 0.5, 0.75, 1.0])
print("edge spikes:", helper_bins.values[0, :, 0].tolist(), numpy_bins.tolist())
assert helper_bins.values[0, :, 0].tolist() == numpy_bins.tolist() == [1, 1, 0, 1]

# %% [markdown]
# ## 5. Save, then read back
#
# NetCDF stores the counts with their dimension names, coordinates and attributes
# (session id, bin edges, areas), so the file explains itself and opens in any language
# with a NetCDF or HDF5 reader. (Pickle files, by contrast, are Python-only and can run
# code when opened.) `save_netcdf` writes to a temporary file and renames it into
# place, and refuses to replace an existing file unless you pass `overwrite=True`.

# %%
out_dir = Path("../outputs")
out_dir.mkdir(exist_ok=True)
path = save_netcdf(counts, out_dir / f"session_{SESSION}_epoch_counts.nc", overwrite=True)
back = load_netcdf(path)
print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB; identical after reading back:",
      back.identical(counts))
assert back.identical(counts)

# %% [markdown]
# Notebook 05 decodes from these counts. Rather than have it load the session again
# (about 35 s), we keep them on disk with `course_utils.reuse` (a
# [`joblib.Memory`](https://joblib.readthedocs.io/en/stable/memory.html) keyed by the
# NWB file and the course's code). Given the session we already hold, it counts again
# (a fraction of a second) and stores the result; notebook 05 reads it back.

# %%
kept = reuse.session_spike_counts(cache, SESSION, pre=10.0, post=90.0, bin_size=0.1,
                                  session=session)
assert kept.identical(counts)

# %% [markdown]
# The same file can be made without a notebook:
#
# ```bash
# python -m course_utils bin-spikes --session 756029989 --bin-size 0.1 --pre 10 --post 90 \
#     --out outputs/session_756029989_epoch_counts.nc --overwrite
# ```
#
# ## 6. Looking at the counts
#
# A raster: each row a V1 unit, each tick a spike, around the start of the drifting
# gratings epoch of section 4.

# %%
SYNTHETIC = "\n(offline sample: synthetic spikes)" if data_source() == "sample" else ""
fig, ax = plt.subplots(figsize=(10, 5))
for row, unit in enumerate(areas["V1"]["unit"].values):
    t = spike_times[unit]
    t = t[(t >= start - 2) & (t <= start + 8)] - start
    ax.vlines(t, row + 0.6, row + 1.4, color="k", lw=0.5)
ax.axvline(0, color="tab:red", lw=1)
ax.set(title=f"V1 units around the start of epoch {epoch} (drifting gratings){SYNTHETIC}",
       xlabel="time from epoch start (s)", ylabel="unit (V1)")
plt.show()

# %% [markdown]
# *Figure: spikes of the 51 V1 units from 2 s before to 8 s after the start of the first
# drifting gratings epoch (red line), one row per unit. On the offline sample the spikes
# are generated: each unit fires at a steady background rate, plus extra spikes while
# a grating it is tuned to is on the screen (2 s gratings every 3 s).*

# %% [markdown]
# Population rate per area: mean count per unit and bin, divided by the bin width,
# averaged over all 15 epochs.

# %%
bin_size = counts.attrs["bin_size"]
fig, ax = plt.subplots(figsize=(10, 4))
for name, area_counts in areas.items():
    rate = area_counts.mean(["epoch", "unit"]) / bin_size
    smooth = rate.rolling(time=10, center=True).mean()          # 1 s running mean
    ax.plot(smooth["time"], smooth, label=name)
ax.axvline(0, color="0.5", ls="--")
ax.set(title=f"Population rate around epoch starts (mean of 15 epochs, 1 s smoothing)"
             f"{SYNTHETIC}", xlabel="time from epoch start (s)",
       ylabel="spikes per second per unit")
ax.legend(ncols=6, fontsize=8)
plt.show()

# %% [markdown]
# *Figure: mean firing rate per unit of each area, averaged over the 15 stimulus epochs
# and smoothed with a 1 s running mean; the dashed line is the epoch start. On the
# offline sample the rate steps up at t = 0 in every area, at the same moment, and
# stays up, because that is how the generator was written: it adds stimulus-driven
# spikes to every visual unit, after a latency drawn from the same 30-80 ms range in
# every area, only while a stimulus is on the screen (for the 250 ms flashes, for
# 150 ms), with a strength per area and
# stimulus set in `data/sample_recipe.toml`. The differences between areas here are
# those settings, not findings. Real recordings differ: in the Visual Coding
# Neuropixels data, Siegle et al. (2021, Nature 592:86-92,
# [doi:10.1038/s41586-020-03171-x](https://doi.org/10.1038/s41586-020-03171-x))
# found that visual responses start earliest in V1 and progressively later in areas
# higher up the anatomical hierarchy (AM and PM among the latest), and that other
# response properties change along that hierarchy too. A 100 ms bin and a 1 s
# smoothing hide such latencies; real rates also depend strongly on the stimulus, often
# with a transient at the onset, and some units are suppressed rather than driven.*

# %% [markdown]
# Units × time heatmaps, one per area, averaged over epochs (1 s bins for legibility).
# All panels share one colour scale, so the same colour means the same rate in every
# area; within a panel, units are sorted by their mean rate after t = 0, highest on top.

# %%
area_rates = {name: (area_counts.mean("epoch").coarsen(time=10).mean() / bin_size)
              .transpose("unit", "time") for name, area_counts in areas.items()}
vmax = max(float(np.percentile(r.values, 99)) for r in area_rates.values())  # shared scale
fig, axes = plt.subplots(2, 3, figsize=(15, 7), sharex=True, layout="constrained")
for ax, (name, rate) in zip(axes.flat, area_rates.items()):
    after = rate.sel(time=slice(0, None)).mean("time").values
    rate = rate.isel(unit=np.argsort(-after, kind="stable"))      # most active on top
    im = ax.imshow(rate.values, aspect="auto", cmap="viridis", vmin=0, vmax=vmax,
                   extent=(-10, 90, rate.sizes["unit"], 0), interpolation="nearest")
    ax.axvline(0, color="w", lw=0.8, ls="--")
    ax.set(title=f"{name} ({rate.sizes['unit']} units)", xlabel="time from epoch start (s)",
           ylabel="unit (sorted by rate after 0 s)")
fig.colorbar(im, ax=axes, extend="max", label="spikes/s (mean of 15 epochs)")
fig.suptitle(f"Firing rate of every unit around epoch starts{SYNTHETIC}")
plt.show()

# %% [markdown]
# *Figure: each row is one unit, its rate in 1 s bins averaged over the 15 stimulus
# epochs; the dashed line is the epoch start. One colour scale for all panels; its top
# is the largest of the six panels' 99th percentiles, and the few rates above it show
# in the top colour. On the offline sample the spikes are generated, so which areas
# look more active and how sharply rates change at 0 s reflect the recipe's per-area
# settings, not the brain.*

# %% [markdown]
# ## 7. Receptive fields and direction tuning
#
# Two epochs of this session were designed to measure what each unit prefers.
#
# * **`gabors`**: a small Gabor patch (a grating in a round window, 20° across) appears
#   for 250 ms at one of 9 × 9 positions, 10° apart, from 40° left of the screen centre
#   to 40° right and from 40° below to 40° above, in one of three orientations. A unit
#   fires more when the patch falls in its *receptive field*, the part of the visual
#   field it sees, so its mean rate at each position is a map of that field.
# * **`drifting_gratings`**: full-screen gratings drift for 2 s in one of 8 directions
#   (0° to 315°) at one of 5 temporal frequencies (1 to 15 Hz). The mean rate per
#   direction is the unit's *direction tuning*.
#
# `course_utils.tuning` counts every unit's spikes during every presentation
# (`presentation_counts`, a `presentation × unit` array) and averages the rates per
# position or per direction. AllenSDK has the same analyses as classes
# (`ReceptiveFieldMapping`, `DriftingGratings` in
# `allensdk.brain_observatory.ecephys.stimulus_analysis`); they compute many more
# metrics and take minutes per session, and the course's tests check that both give the
# same maps and selectivity indices.
#
# **On the offline sample these properties are the generator's.** It gives each visual
# unit a receptive field centred at a random point within 30° of the screen centre, and
# a preferred direction drawn at random, so the maps and curves below show what was
# drawn, not what mouse neurons do. The code runs unchanged on a real session.

# %%
from course_utils.tuning import (direction_tuning, presentation_counts, presentations_of,
                                 receptive_field_maps, rf_peaks, selectivity)

gabors = presentations_of(session, "gabors")
for column in ("x_position", "y_position", "orientation"):
    print(f"{column:>12}:", np.unique(gabors[column].astype(float)).tolist())
gabor_counts = presentation_counts(spike_times, gabors, units.index, window=(0.0, 0.25))
rf_maps = receptive_field_maps(gabor_counts, gabors)
peaks = rf_peaks(rf_maps).join(units["area"])
print(dict(gabor_counts.sizes), "->", dict(rf_maps.sizes))

# %% [markdown]
# **Self-check.** A map is nothing more than an average: for one unit and one
# position, the mean of its counts over the presentations at that position, divided by
# the 0.25 s window, is the map's value there.

# %% tags=["nbval-check-output"]
unit = peaks["peak_z"].idxmax()
at = ((gabors["x_position"].astype(float) == 10.0)
      & (gabors["y_position"].astype(float) == -20.0)).to_numpy()
by_hand = gabor_counts.sel(unit=unit).values[at].mean() / 0.25
assert np.isclose(by_hand, float(rf_maps.sel(unit=unit, x_position=10.0, y_position=-20.0)))
assert rf_maps.shape == (len(units), 9, 9) and gabor_counts.sizes["presentation"] == 3645
print(f"{gabor_counts.sizes['presentation']} presentations x {len(units)} units -> maps "
      f"{dict(rf_maps.sizes)}; one value checked by hand")

# %% [markdown]
# The clearest map in each area. `rf_peaks` gives each map's peak position and
# `peak_z`, how many standard deviations of the map the peak stands above its mean: a
# unit whose receptive field is off the screen has a flat, noisy map and a small value.

# %%
fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), sharex=True, sharey=True,
                         layout="constrained")
for ax, (area, group) in zip(axes.flat, peaks.groupby("area", sort=False)):
    best = group["peak_z"].idxmax()
    rf_maps.sel(unit=best).plot.imshow(ax=ax, cmap="magma",
                                       cbar_kwargs={"label": "spikes/s"})
    ax.set(title=f"{area}: unit {best} (peak z {group.loc[best, 'peak_z']:.1f})",
           xlabel="azimuth: x_position (degrees)", ylabel="elevation: y_position (degrees)")
fig.suptitle(f"Receptive-field maps from the gabors epoch, clearest unit per area{SYNTHETIC}")
plt.show()

# %% [markdown]
# *Figure: each unit's mean rate while the Gabor patch was at each of the 81 positions
# (0 to 250 ms after its onset, averaged over orientations and 45 presentations per
# position on average), for the unit with the clearest map in each area. Each panel has
# its own colour scale. On the offline sample, each receptive field is a Gaussian blob
# that the generator placed at random. In real recordings the units on one probe have
# receptive fields close together, because a probe enters the cortex at one point of its
# map of the visual field, and receptive fields tend to be larger in the higher visual
# areas than in V1 (Siegle et al. 2021, cited above).*
#
# Where do all the receptive fields lie? The peaks of the units with a clear map:

# %%
clear = peaks[peaks["peak_z"] > 3]
fig, ax = plt.subplots(figsize=(6.5, 5.5))
for area, group in clear.groupby("area", sort=False):
    jitter = np.random.default_rng(0).uniform(-2, 2, (2, len(group)))   # overlapping points
    ax.scatter(group["x_position"] + jitter[0], group["y_position"] + jitter[1], s=14,
               label=f"{area} ({len(group)})")
ax.set(xlim=(-45, 45), ylim=(-45, 45), aspect="equal",
       xlabel="azimuth: x_position (degrees)", ylabel="elevation: y_position (degrees)",
       title=f"Receptive-field peaks of units with peak z > 3{SYNTHETIC}")
ax.legend(title="area (units)", fontsize=8, bbox_to_anchor=(1, 1))
plt.show()

# %% [markdown]
# *Figure: the position of each clear map's peak, jittered by up to 2° so that units
# sharing a grid position stay visible. On the sample the peaks are spread uniformly
# over the central ±30°, in every area, because that is how the generator draws them; on
# a real session they cluster, probe by probe, and their positions tell you which part
# of the screen each area's units see.*
#
# Now the drifting gratings. Each presentation lasts 2 s, so the counts cover each
# presentation's own start and stop (no `window`); `direction_tuning` averages the rate
# for every direction and temporal frequency, leaving out blank sweeps, and
# `selectivity` finds each unit's preferred direction and frequency and computes the
# *global orientation* and *direction selectivity indices*, as AllenSDK defines them:
# at the preferred frequency, with r(θ) the rate for direction θ,
# g_osi = |Σ r(θ) e^{2iθ}| / Σ r(θ) and g_dsi = |Σ r(θ) e^{iθ}| / Σ r(θ). Both run from 0
# (no preference) to 1 (one orientation, or one direction, only).

# %%
gratings = presentations_of(session, "drifting_gratings")
grating_counts = presentation_counts(spike_times, gratings, units.index)
tuning = direction_tuning(grating_counts, gratings)      # (unit, orientation, temporal_frequency)
indices = selectivity(tuning).join(units["area"])
print(dict(tuning.sizes))
indices.groupby("area", sort=False)[["g_osi", "g_dsi"]].median().round(2)

# %% [markdown]
# **Self-check.** The indices are AllenSDK's own formula (its `osi` and `dsi`
# functions), applied to the rates at the preferred temporal frequency.

# %% tags=["nbval-check-output"]
from allensdk.brain_observatory.ecephys.stimulus_analysis.stimulus_analysis import dsi, osi

unit = indices["g_dsi"].idxmax()
curve = tuning.sel(unit=unit, temporal_frequency=indices.loc[unit, "pref_tf"])
theta = np.deg2rad(curve["orientation"].values).astype(complex)
assert np.isclose(osi(theta, curve.values), indices.loc[unit, "g_osi"])
assert np.isclose(dsi(theta, curve.values), indices.loc[unit, "g_dsi"])
assert indices[["g_osi", "g_dsi"]].stack().between(0, 1).all()
print(f"tuning {dict(tuning.sizes)}; indices of {len(indices)} units, all within [0, 1]; "
      "one unit checked against AllenSDK's osi and dsi")

# %%
fig, axes = plt.subplots(2, 3, figsize=(12, 8), subplot_kw={"projection": "polar"},
                         layout="constrained")
for ax, (area, group) in zip(axes.flat, indices.groupby("area", sort=False)):
    unit = group["g_dsi"].idxmax()
    curve = tuning.sel(unit=unit, temporal_frequency=group.loc[unit, "pref_tf"])
    angles = np.deg2rad(np.append(curve["orientation"].values, 0.0))   # close the loop
    ax.plot(angles, np.append(curve.values, curve.values[0]), marker="o")
    ax.set_title(f"{area}: unit {unit}\ng_dsi {group.loc[unit, 'g_dsi']:.2f}, "
                 f"g_osi {group.loc[unit, 'g_osi']:.2f}, {group.loc[unit, 'pref_tf']:g} Hz",
                 fontsize=9)
fig.suptitle("Direction tuning (spikes/s against direction of drift), most "
             f"direction-selective unit per area{SYNTHETIC}")
plt.show()

# %% [markdown]
# *Figure: mean rate (radius, spikes/s) for each of the 8 directions of drift (angle),
# at the unit's preferred temporal frequency, for the most direction-selective unit of
# each area. On the sample, the generator gives each unit a smooth tuning around a
# random preferred direction, plus a random share of the response in the opposite
# direction; the tuning you see is that recipe. Real units vary far more: many respond
# weakly or not at all to gratings, and how selective they are differs between areas
# and cell types (for the Allen Brain Observatory's two-photon survey of these
# properties, see de Vries et al. 2020, Nat Neurosci 23:138-151,
# [doi:10.1038/s41593-019-0550-9](https://doi.org/10.1038/s41593-019-0550-9)).*

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** Count spikes in 50 ms bins from 2 s before to 5 s after each epoch
# start. What are the dimensions? Check that the number of bins is (2 + 5) / 0.05.
#
# **Exercise 2.** For each area, compare the mean rate in the 10 s before the epoch
# starts with the 10 s after. Which area changes most, in spikes per second? (On the
# offline sample the answer describes the generator's settings, not the brain.)
#
# **Exercise 3.** Select the LM units of the saved file without using `by_area`, using
# the `area` coordinate, and find LM's most active unit across all epochs.
#
# **Exercise 4.** Map the receptive field of the V1 unit with the clearest map three
# times, once for each orientation of the Gabor patch (select the presentations of one
# orientation, then use `presentation_counts` and `receptive_field_maps`). Do the three
# peaks agree? What would it mean on real data if they did not?
#
# **Exercise 5.** For each area, what fraction of units has a g_dsi above 0.3? Plot the
# most orientation-selective unit's rate against temporal frequency at its preferred
# direction (`tuning.sel(...)`, log x axis).

# %% tags=["solution"]
# Solution 1
fine = epoch_spike_counts(session, pre=2.0, post=5.0, bin_size=0.05)
print(dict(fine.sizes))
assert fine.sizes["time"] == round((2 + 5) / 0.05)

# %% tags=["solution"]
# Solution 2
before = counts.sel(time=slice(-10, 0)).mean(["epoch", "time"]) / bin_size
after = counts.sel(time=slice(0, 10)).mean(["epoch", "time"]) / bin_size
change = (after - before).groupby("area").mean()
print(change.to_series().round(2).sort_values())

# %% tags=["solution"]
# Solution 3
lm = back.sel(unit=back["area"] == "LM")
totals = lm.sum(["epoch", "time"])
print(f"LM has {lm.sizes['unit']} units; the most active is unit "
      f"{int(totals.idxmax())} with {int(totals.max())} spikes in the 15 windows")

# %% tags=["solution"]
# Solution 4
v1_best = peaks[peaks["area"] == "V1"]["peak_z"].idxmax()
for orientation in (0.0, 45.0, 90.0):
    subset = gabors[gabors["orientation"].astype(float) == orientation]
    one = receptive_field_maps(presentation_counts(spike_times, subset, [v1_best],
                                                   window=(0.0, 0.25)), subset)
    peak = rf_peaks(one).iloc[0]
    print(f"orientation {orientation:>4}: peak at x = {peak['x_position']:+.0f}, "
          f"y = {peak['y_position']:+.0f} degrees ({len(subset)} presentations)")
# Each map has a third of the presentations, so it is noisier, but the peaks should agree
# within a grid step. On the sample they must: the generator's receptive fields ignore
# the patch's orientation. On real data, a peak that moves with orientation would mean
# the map is too noisy to locate the field, or the unit prefers one orientation so much
# that the other maps hold little response.

# %% tags=["solution"]
# Solution 5
print((indices["g_dsi"] > 0.3).groupby(indices["area"], sort=False).mean().round(2))
unit = indices["g_osi"].idxmax()
tf_curve = tuning.sel(unit=unit, orientation=indices.loc[unit, "pref_direction"])
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(tf_curve["temporal_frequency"], tf_curve.values, marker="o")
ax.set(xscale="log", xlabel="temporal frequency (Hz)", ylabel="rate (spikes/s)",
       title=f"unit {unit} at {indices.loc[unit, 'pref_direction']:g} degrees{SYNTHETIC}")
plt.show()

# %% [markdown]
# ## What's next
# Notebook 05 decodes stimuli from population activity with scikit-learn, using these
# counts and the ophys responses of notebook 03.
