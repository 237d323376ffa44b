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
# # 05 · Decoding stimuli from population activity
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/allen-course/allen-brain-observatory-course/blob/main/notebooks/05_decoding.ipynb)
#
# **Estimated time:** 50 minutes · **Prerequisites:** notebooks 03 and 04; the idea of
# a training and a test set.
#
# By the end of this notebook you will be able to:
#
# 1. turn responses into a presentations × cells matrix and decode the image shown
#    with a linear SVM in a scikit-learn `Pipeline`;
# 2. estimate accuracy with cross-validation that keeps related flashes together, and
#    test it against chance with a label-permutation test;
# 3. tell three chance levels apart (uniform guessing, the most frequent class, and
#    balanced accuracy's 1/K) and compare each score with the right one;
# 4. read a confusion matrix, and show how accuracy grows with the number of cells;
# 5. look at the population with PCA and t-SNE, and know what t-SNE cannot tell you;
# 6. handle class imbalance (balanced accuracy) and leakage between related samples.
#
# Every random step has a fixed seed, so your numbers should match the ones printed.
#
# **About the data: what is real, what is synthetic.** On the offline sample (the
# default), these come from the Allen releases: the ids of the 2P session, its planes
# and cells, and of the Neuropixels session and its probes, with their metadata tables;
# how many units pass the quality filters in each visual area; the stimulus clocks,
# the timing of every image flash and of every Neuropixels stimulus epoch; and the
# change-detection task's rules. **All the activity is synthetic**: the dF/F traces and
# the spike counts are made by the sample's generator (`course_utils/sample/`), and so
# is which flash changes or is omitted (drawn following the task's rules, notebook 03).
# The generator gives each cell a randomly chosen preferred image, and each Neuropixels
# area a fixed gain for each stimulus type. Every accuracy below therefore measures what
# the generator put into the sample, not what mouse visual cortex encodes; what this
# notebook teaches is the method, which runs unchanged on the real data
# (`COURSE_DATA_SOURCE=allen`, notebook 01). Each figure built from this activity says
# so in its title and caption, and where published work on the real recordings reports
# something, we say what.

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

warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import accuracy_score
from sklearn.model_selection import (GroupShuffleSplit, KFold, StratifiedGroupKFold,
                                     permutation_test_score)
from sklearn.preprocessing import StandardScaler

from course_utils.caches import open_ecephys_cache, open_ophys_cache
from course_utils.config import data_source
from course_utils.decoding import (decode, design_matrix, linear_svm, runs_between_changes,
                                   window_features)
from course_utils import reuse
from course_utils.ecephys import by_area
from course_utils.memory import release_memory
from course_utils.responses import stimulus_response_table

SEED = 0
results = {}          # the numbers to compare, collected as we go
# Figure titles name the synthetic activity when the offline sample is in use.
ON_SAMPLE = data_source() == "sample"
SYNTHETIC_DFF = "\n(offline sample: synthetic dF/F)" if ON_SAMPLE else ""
SYNTHETIC_SPIKES = "\n(offline sample: synthetic spikes)" if ON_SAMPLE else ""

# %% [markdown]
# Section 7 decodes from notebook 04's Neuropixels spike counts, and sections 1-6 from
# the traces of notebooks 02 and 03. Those notebooks kept them on disk
# (`course_utils.reuse`, built on `joblib.Memory`), so here they are read back in a
# second or two. Run on its own, this notebook computes them instead (about 70 s):
# AllenSDK then briefly needs about 1 GB to load the Neuropixels session, so we fetch
# the counts first, while the notebook holds little else.
#
# Deleting a loaded session is not quite enough to give its memory back: Python frees
# it, but the C allocator keeps the freed pages for later, so to the operating system
# (and to Binder's 2 GB limit) the notebook still looks nearly as big as at its peak.
# `release_memory` hands them back and reports the resident memory before and after.

# %%
counts = reuse.session_spike_counts(open_ecephys_cache(), 756029989,
                                    pre=10.0, post=90.0, bin_size=0.1)
print(release_memory())
print(dict(counts.sizes))

# %% [markdown]
# ## 1. Which image was shown? The data
#
# From notebook 03: every cell's mean dF/F from 0 to 0.5 s after each image flash of
# session 854060305 (all six planes). One row per flash, one column per cell.
#
# The flashes come in *runs*. The task shows one image again and again until it
# changes, so a run is the stretch of flashes from one change (`is_change` marks its
# first flash) up to the next; `runs_between_changes` numbers them. Flashes of one run
# are alike for reasons other than the image: they are only seconds apart, so they
# share slow drifts of the signal and of the mouse's running, and each response starts
# on the fading tail of the one before. We will keep each run on one side of every
# train/test split.

# %% tags=["nbval-check-output"]
cache = open_ophys_cache()
traces = reuse.session_traces(cache, 854060305)
stimulus = reuse.stimulus_presentations(cache, 854759894)
flashes = stimulus[stimulus["stimulus_block_name"] == "change_detection_behavior"]
images = flashes[~flashes["omitted"].astype(bool)]

responses = stimulus_response_table(traces["dff"], images, response_window=(0.0, 0.5))
X, y = design_matrix(responses, value="mean_response", label="image_name")
runs = runs_between_changes(flashes["is_change"]).reindex(X.index)   # run id per flash
print(f"X: {X.shape[0]} flashes x {X.shape[1]} cells; {y.nunique()} images; "
      f"{runs.nunique()} runs of {runs.value_counts().min()} to {runs.value_counts().max()} "
      "flashes")
assert (y.groupby(runs).nunique() == 1).all()          # one image per run
y.value_counts().sort_index()

# %% [markdown]
# ## 2. A first decoder: one train/test split
#
# The model is a `Pipeline`: `StandardScaler` (each cell to mean 0, s.d. 1) followed by
# a linear SVM. Putting the scaler *inside* the pipeline matters: it is then fitted on
# the training flashes only, so nothing about the test flashes leaks into training.
# For the same reason we hold out whole runs: `GroupShuffleSplit`, with the run ids as
# groups, sets a quarter of the runs aside for testing.

# %% tags=["nbval-check-output"]
train, test = next(GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=SEED)
                   .split(X, y, groups=runs))
model = linear_svm(SEED).fit(X.iloc[train], y.iloc[train])
single_split = accuracy_score(y.iloc[test], model.predict(X.iloc[test]))
most_frequent = (y.iloc[test] == y.iloc[train].value_counts().idxmax()).mean()
print(f"accuracy on {len(test)} held-out flashes ({runs.iloc[test].nunique()} runs): "
      f"{single_split:.3f}")
print(f"chance: uniform guessing 1/8 = 0.125; always the training set's most frequent "
      f"image {most_frequent:.3f}")
results["one split, accuracy"] = single_split

# %% [markdown]
# **Which chance?** A score means something only next to what a guess that ignores the
# activity would get, and there is more than one such guess:
#
# - **uniform guessing**: naming one of the K = 8 images at random is right 1/K = 0.125
#   of the time, whatever the class sizes;
# - **always the most frequent class**: the images are not shown equally often (see
#   the counts above), so always answering the training set's commonest image is right
#   as often as that image occurs in the test set. This is the bar that plain
#   *accuracy* has to clear;
# - **balanced accuracy** (the mean, over the images, of the fraction of each image's
#   flashes named correctly; section 6): any guess that ignores the activity scores at
#   most 1/K on it, however unequal the classes, so its chance level is 1/K again.
#
# The most-frequent level can even fall below 1/K when whole runs are held out: the
# training set's commonest image may be rare among the test flashes (compare the split
# above).
#
# `decode` reports both levels for every fold: `chance_most_frequent` (compare with
# `accuracy`) and `chance_uniform`, 1/K (compare with `balanced_accuracy`). Every number
# and dashed line below says which one it is. The permutation test of section 3 measures
# a fourth: the chance level of our exact pipeline.
#
# ## 3. Cross-validation, with runs kept together
#
# One split gives one noisy number. *k*-fold cross-validation uses every flash once for
# testing. `StratifiedGroupKFold` puts whole runs into the folds (the run ids are its
# `groups`) while keeping the eight images in similar proportions in each fold. We make
# the five folds once, as a list of (train, test) row numbers, and use them for every
# decoder of this session below, so that all the numbers come from the same splits.
# `decode` returns a tidy table of the folds:

# %%
folds = list(StratifiedGroupKFold(5, shuffle=True, random_state=SEED).split(X, y, groups=runs))
image_result = decode(X, y, cv=folds, seed=SEED)
image_result.scores.round(3)

# %% [markdown]
# With whole runs held out, a fold's test set can hold much more or much less of the
# training set's most frequent image than the training set does, so
# `chance_most_frequent` varies from fold to fold (uniform chance stays 1/8).
#
# How much does keeping runs together matter? Plain stratified *k*-fold (the default of
# `decode`) ignores the runs: the flashes of one run end up in both the training and the
# test set, so the decoder is tested on flashes whose near-twins (same image, seconds
# apart) it was trained on. Here are both, once:

# %% tags=["nbval-check-output"]
leaky_result = decode(X, y, n_splits=5, seed=SEED)     # StratifiedKFold: runs split up
leak = pd.DataFrame({"stratified k-fold (leaky)": leaky_result.summary(),
                     "runs kept together": image_result.summary()})
print(leak.to_string())
assert image_result.summary()["accuracy"] <= leaky_result.summary()["accuracy"] + 0.02
results["5-fold accuracy, stratified (leaky)"] = leaky_result.summary()["accuracy"]
results["5-fold accuracy, runs kept together"] = image_result.summary()["accuracy"]

# %% [markdown]
# On the sample, keeping runs together lowers the accuracy by about two points: that
# part of the leaky score came from recognising a run, not the image. The size of the gap depends on how
# alike neighbouring flashes are. On the sample that is set by the generator (a slow
# drift of each cell's baseline, the calcium indicator's decay, a gain with running
# speed). Real visual cortex carries a large ongoing signal, partly tied to the mouse's
# movements, that goes on during visual stimulation (Stringer et al. 2019, *Science*,
# doi:10.1126/science.aav7893), so on real data measure the gap rather than assume it
# is small. The grouped number is the one to report.
#
# Is it really better than chance? A *permutation test* shuffles the labels many times,
# repeats the whole cross-validation each time (with the same folds), and asks how often
# shuffled labels score as well as the real ones. We pass the folds as `cv`, and **not**
# `groups=runs`: given `groups`, `permutation_test_score` shuffles the labels only
# *within* each group, and a run holds a single image, so nothing would be shuffled
# (every "shuffled" score would equal the real one, and p would be 1). Shuffling single
# flashes breaks the runs apart; a stricter test shuffles the images between whole runs,
# so that shuffled labels come in runs too (on the sample it gives the same p).

# %% tags=["nbval-check-output"]
started = time.perf_counter()
score, permuted, p_value = permutation_test_score(
    linear_svm(SEED), X.values, y.values, cv=folds, n_permutations=30, random_state=SEED)
print(f"accuracy {score:.3f}; shuffled labels {permuted.mean():.3f} ± {permuted.std():.3f}; "
      f"p = {p_value:.3f} ({time.perf_counter() - started:.0f} s)")
results["shuffled-label accuracy"] = permuted.mean()
results["permutation p-value"] = p_value

# %% [markdown]
# **Self-check.** With runs kept together: accuracy above its chance level (the most
# frequent image) and balanced accuracy above 1/8; shuffled labels near 1/8; p below
# 0.05 (with 30 permutations the smallest possible p is 1/31 ≈ 0.032). Shuffled labels
# score a little above 1/8 because a decoder trained on them leans towards the commoner
# images. On the sample, "above chance" holds because the generator gave the cells
# image preferences; on real data it is what you test.

# %% tags=["nbval-check-output"]
summary = image_result.summary()
print(summary.to_dict())
assert summary["accuracy"] > summary["chance_most_frequent"]
assert summary["balanced_accuracy"] > summary["chance_uniform"]
assert summary["chance_uniform"] == 1 / 8
assert p_value < 0.05 and abs(permuted.mean() - 1 / 8) < 0.05

# %% [markdown]
# The confusion matrix shows which images are mistaken for which (rows: the image
# shown; each row sums to 1).

# %%
fig, ax = plt.subplots(figsize=(7, 6))
sns.heatmap(image_result.confusion, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1,
            cbar_kws={"label": "fraction of the image's flashes"}, ax=ax)
ax.set(title=f"image decoding from 53 cells (5 folds, runs kept together){SYNTHETIC_DFF}",
       xlabel="predicted image", ylabel="image shown")
plt.show()

# %% [markdown]
# *Figure: for each image shown (rows), the fraction of its flashes that the decoder
# named as each image (columns), pooled over the five test folds; a perfect decoder
# fills the diagonal with 1, and uniform guessing would put 0.125 everywhere.
# Synthetic on the offline sample: which images get confused follows from the
# preferred images the generator drew at random for the 53 cells, not from how a mouse
# sees these pictures.*
#
# ## 4. How many cells does it take?
#
# Decode from random subsets of cells of growing size, ten subsets per size, with the
# same folds.

# %%
rng = np.random.default_rng(SEED)
sizes = [1, 2, 4, 8, 16, 32, 53]
rows = []
for size in sizes:
    for repeat in range(1 if size == X.shape[1] else 10):
        cells = rng.choice(X.columns, size=size, replace=False)
        accuracy = decode(X[cells], y, cv=folds, seed=SEED).scores["accuracy"].mean()
        rows.append({"n_cells": size, "repeat": repeat, "accuracy": accuracy})
curve = pd.DataFrame(rows).groupby("n_cells")["accuracy"].agg(["mean", "std"])
curve.round(3)

# %%
fig, ax = plt.subplots(figsize=(6, 4))
ax.errorbar(curve.index, curve["mean"], yerr=curve["std"].fillna(0), marker="o", capsize=3)
ax.axhline(summary["chance_most_frequent"], color="0.3", ls="--",
           label=f"chance for accuracy: most frequent image "
                 f"({summary['chance_most_frequent']:.3f})")
ax.axhline(1 / 8, color="0.6", ls=":", label="uniform guessing (1/8 = 0.125)")
ax.set(xscale="log", xticks=sizes, xticklabels=sizes, ylim=(0, 1),
       title=f"image decoding vs number of cells (mean ± s.d. over subsets){SYNTHETIC_DFF}",
       xlabel="number of cells", ylabel="accuracy (5 folds, runs kept together)")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# *Figure: cross-validated accuracy against the number of cells decoded from (log
# axis), mean ± s.d. over ten random subsets per size (one for all 53). The dashed line
# is the chance level for accuracy (always answering the most frequent image, averaged
# over the folds); the dotted line is uniform guessing. Synthetic on the offline
# sample: the generator makes every cell respond to every image to some degree, with
# its own independent noise, so accuracy keeps rising as cells are added; how fast is a
# setting of the generator.* In real recordings many cells are not reliably driven by
# a given stimulus at all: de Vries et al. (2020, *Nature Neuroscience*,
# doi:10.1038/s41593-019-0550-9) found that the largest functional class of the cells
# they imaged responds reliably to none of their stimuli, and that it grows in the
# higher visual areas. On real data, measure how accuracy grows with the number of
# cells rather than expect this smooth curve.
#
# ## 5. What does the population look like?
#
# PCA finds the directions of largest variance: a linear, faithful projection. t-SNE
# places points so that *neighbours* stay neighbours; distances between clusters, and
# cluster sizes, mean nothing in a t-SNE plot. Both are computed on standardised
# responses; t-SNE on 1,500 flashes to keep it quick.

# %%
Z = StandardScaler().fit_transform(X)
pcs = PCA(n_components=2, random_state=SEED).fit(Z)
percent = 100 * pcs.explained_variance_ratio_
subset = rng.choice(len(Z), size=1500, replace=False)
embedded = TSNE(n_components=2, perplexity=30, init="pca",
                random_state=SEED).fit_transform(Z[subset])
fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
for ax, points, labels, title, (xlabel, ylabel) in [
        (axes[0], pcs.transform(Z), y.values, "PCA",
         (f"PC 1 ({percent[0]:.1f}% of variance)", f"PC 2 ({percent[1]:.1f}% of variance)")),
        (axes[1], embedded, y.values[subset], "t-SNE (1,500 flashes)",
         ("t-SNE 1 (no units)", "t-SNE 2 (no units)"))]:
    sns.scatterplot(x=points[:, 0], y=points[:, 1], hue=labels, hue_order=sorted(y.unique()),
                    s=8, linewidth=0, ax=ax, legend=ax is axes[1])
    ax.set(title=f"{title} of the 53 cells' standardised responses", xlabel=xlabel,
           ylabel=ylabel)
axes[1].legend(title="image", markerscale=2, bbox_to_anchor=(1, 1))
fig.suptitle(f"each dot one image flash, coloured by the image shown{SYNTHETIC_DFF}")
fig.tight_layout()
plt.show()
print("variance explained by PC1, PC2:", pcs.explained_variance_ratio_.round(3))

# %% [markdown]
# *Figure: left, every flash projected on the first two principal components of the
# standardised responses (axis labels: the share of the total variance each one
# explains); right, a t-SNE map of 1,500 flashes, whose axes have no units or meaning.
# Synthetic on the offline sample.*
#
# The first two PCs explain only a few percent of the variance each: no two directions
# summarise these 53 cells, and the images largely overlap in the PCA plane even
# though a linear decoder that uses all 53 dimensions names them far above chance. On
# the sample this reflects how the generator works: each cell gets its own independent
# noise and its own slow drift, and the cells share little (the image responses and
# running speed), so the variance is spread thinly over many directions. Real
# populations do have shared fluctuations, partly tied to the mouse's behaviour rather
# than to the stimulus (Stringer et al. 2019, above), so on real data the first PCs may
# explain more, and need not be about the images at all.
#
# ## 6. Change or repeat? Class imbalance
#
# Only about one flash in twelve is a change. A decoder that always answers "repeat"
# is right 92% of the time (its `chance_most_frequent`) and has learned nothing.
# *Balanced accuracy* (the mean of the per-class accuracies) is 0.5 for such a decoder,
# which is `chance_uniform` for two classes; `class_weight="balanced"` makes the SVM
# pay as much attention to the rare class. We use the same folds: every run but the
# first starts with its one change flash, so every fold gets its share of changes.

# %%
is_change = images["is_change"].astype(bool).reindex(X.index).map({True: "change",
                                                                   False: "repeat"})
print(is_change.value_counts().to_dict())
plain = decode(X, is_change, cv=folds, seed=SEED)
weighted = decode(X, is_change, cv=folds, seed=SEED,
                  model=linear_svm(SEED, class_weight="balanced"))
imbalance = pd.DataFrame({"plain SVM": plain.summary(), "balanced weights": weighted.summary()})
results["change vs repeat, balanced accuracy"] = weighted.summary()["balanced_accuracy"]
imbalance

# %% [markdown]
# Read each score against its own chance: here the plain SVM's accuracy hardly differs
# from its `chance_most_frequent`, while balanced accuracy (chance 0.5) shows what the
# weighted SVM learned. On the sample, change flashes differ from repeats mainly because
# the generator scales each cell's response to a change by a random gain of its own
# (the leftover response to the flash before, a different image, differs too).
#
# ## 7. Neuropixels: which stimulus is on, per visual area?
#
# From notebook 04's counts, each 1 s window after an epoch start becomes a row
# (spike counts of the area's units) labelled with the epoch's stimulus. Windows from
# one epoch are alike, so a random split would put near-copies of test windows in the
# training set. We keep each epoch's windows together (`StratifiedGroupKFold`), and
# keep the stimulus types shown in at least two epochs, so every type can be trained
# on one epoch and tested on another. The classes are the K stimulus types, so
# balanced accuracy's chance level is 1/K (`chance_uniform` in the table).

# %%
repeated = pd.Series(counts["stimulus_name"].values).value_counts()
repeated = sorted(repeated[repeated >= 2].index)
keep = np.isin(counts["stimulus_name"].values, repeated)
print("stimulus types with 2+ epochs:", repeated)

rows, leaky_rows = [], []
for area, area_counts in by_area(counts.isel(epoch=np.flatnonzero(keep))).items():
    Xa, ya, groups = window_features(area_counts, window_s=1.0)
    grouped = decode(Xa, ya, cv=StratifiedGroupKFold(2, shuffle=True, random_state=SEED),
                     groups=groups, seed=SEED)
    leaky = decode(Xa, ya, cv=KFold(5, shuffle=True, random_state=SEED), seed=SEED)
    rows.append({"area": area, "units": Xa.shape[1], **grouped.summary().to_dict()})
    leaky_rows.append(leaky.summary()["balanced_accuracy"])
by_area_table = pd.DataFrame(rows).set_index("area")
by_area_table["random-split balanced accuracy (leaky)"] = leaky_rows
by_area_table.round(3)

# %% [markdown]
# `chance_most_frequent` is *below* 1/K here: with whole epochs held out, the stimulus
# type most common in a training fold is often rare in its test fold. That is why
# balanced accuracy, whose chance stays 1/K, is the score to compare across areas.

# %%
fig, ax = plt.subplots(figsize=(7, 4))
ax.bar(by_area_table.index, by_area_table["balanced_accuracy"], color="tab:blue",
       label="epochs kept together")
ax.plot(by_area_table.index, by_area_table["random-split balanced accuracy (leaky)"], "o",
        color="tab:red", label="random split (leaky)")
ax.axhline(1 / len(repeated), color="0.5", ls="--",
           label=f"chance for balanced accuracy (1/{len(repeated)} = {1 / len(repeated):.2f})")
ax.set(ylim=(0, 1), title=f"decoding the stimulus type from 1 s of spikes, per area"
                          f"{SYNTHETIC_SPIKES}",
       xlabel="visual area", ylabel="balanced accuracy")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# *Figure: balanced accuracy of naming the stimulus type from 1 s of spike counts, per
# visual area, with whole epochs held out (bars) and with a random split of the windows
# (dots); dashed, balanced accuracy's chance level 1/K. Synthetic on the offline sample:
# the unit counts per area are the release's, but the spikes are generated, and the
# generator scales each area's drive by a gain it sets for each stimulus type
# (`data/sample_recipe.toml`). The differences between the areas are those settings,
# not a finding about the areas. The dots sit close to the bars because the generator
# draws every window's spikes afresh from the stimulus alone, with nothing that drifts
# within an epoch; on real recordings the leak can be larger (section 3).*
#
# What do real recordings show? Siegle et al. (2021, *Nature*,
# doi:10.1038/s41586-020-03171-x) describe the real Visual Coding Neuropixels dataset
# that this session comes from. They found that the areas differ systematically along
# the anatomical hierarchy measured from connectivity, with V1 the lowest of the
# cortical areas: response latency, receptive-field size, phase-locking to drifting
# gratings and how long responses take to decay all correlate with an area's place in
# it. de Vries et al. (2020, above), imaging the same six areas, found the share of
# cells that respond reliably to none of the stimuli growing in the higher areas. The
# sample's differences between areas can neither confirm nor contradict this. To compare
# areas on real data, run this analysis on the real sessions, with equal numbers of
# units per area (exercise 2 shows why) and whole epochs held out.

# %% [markdown]
# **Self-check.** Every area decodes above balanced-accuracy chance (1/K), and keeping
# epochs together never scores much above the leaky random split. We do not check
# which area is best or how much the areas differ: on the sample, that is a setting of
# the generator.

# %% tags=["nbval-check-output"]
results.update({f"Neuropixels {a}, balanced accuracy": v
                for a, v in by_area_table["balanced_accuracy"].items()})
chance = 1 / len(repeated)
print(f"{len(by_area_table)} areas, {by_area_table['units'].sum()} units; "
      f"balanced-accuracy chance 1/{len(repeated)} = {chance:.3f}")
assert (by_area_table["balanced_accuracy"] > chance).all()
assert (by_area_table["balanced_accuracy"]
        <= by_area_table["random-split balanced accuracy (leaky)"] + 0.05).all()

# %% [markdown]
# ## Results to compare
#
# All of them measured on the offline sample's synthetic activity (the generator's
# settings), unless you run on the real data.

# %%
pd.Series(results, name="value").round(3).to_frame()

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** Decode the image from the `events` trace instead of dF/F. Which gives
# the higher cross-validated accuracy here?
#
# **Exercise 2.** Decode the image from the VISp cells only and from the VISl cells
# only. Is the comparison fair when the two areas have different numbers of cells? Make
# it fair.
#
# **Exercise 3.** Decode omission versus image flash. Report balanced accuracy, with and
# without `class_weight="balanced"`, with runs kept together.

# %% tags=["solution"]
# Solution 1: the same flashes (rows) in the same order, so the same folds apply
event_table = stimulus_response_table(traces["events"], images, response_window=(0.0, 0.5))
X_events, y_events = design_matrix(event_table)
assert X_events.index.equals(X.index)
print("dF/F:   accuracy", image_result.summary()["accuracy"])
print("events: accuracy", decode(X_events, y_events, cv=folds, seed=SEED).summary()["accuracy"])

# %% tags=["solution"]
# Solution 2: compare equal numbers of cells, drawn at random, several times. The draws
# must be smaller than *both* areas: with n equal to the smaller area's count, every
# "random" subset of that area would be all its cells, the same set each time (a spread
# of 0), while the larger area's subsets would vary. 15 cells, 10 draws per area.
# (On the sample, the generator draws VISp and VISl cells alike: any gap is chance.)
area_of = traces["targeted_structure"].to_series()
draw = np.random.default_rng(SEED)
n = 15
for area in ("VISp", "VISl"):
    ids = area_of.index[area_of == area]
    scores = [decode(X[draw.choice(ids, n, replace=False)], y, cv=folds,
                     seed=SEED).summary()["accuracy"] for _ in range(10)]
    print(f"{area}: {n} of its {len(ids)} cells, accuracy {np.mean(scores):.3f} "
          f"± {np.std(scores):.3f} (10 draws)")

# %% tags=["solution"]
# Solution 3: all flashes, omitted ones included, with their runs kept together
omission_table = stimulus_response_table(traces["dff"], flashes, response_window=(0.0, 0.5))
X_all, _ = design_matrix(omission_table, label="image_name")
omitted = flashes["omitted"].astype(bool).reindex(X_all.index).map({True: "omitted",
                                                                    False: "image"})
runs_all = runs_between_changes(flashes["is_change"]).reindex(X_all.index)
omission_folds = list(StratifiedGroupKFold(5, shuffle=True, random_state=SEED)
                      .split(X_all, omitted, groups=runs_all))
for name, model in [("plain", linear_svm(SEED)),
                    ("balanced", linear_svm(SEED, class_weight="balanced"))]:
    scores = decode(X_all, omitted, cv=omission_folds, seed=SEED, model=model).summary()
    print(f"{name:>8}: accuracy {scores['accuracy']:.3f} "
          f"(chance {scores['chance_most_frequent']:.3f}), balanced accuracy "
          f"{scores['balanced_accuracy']:.3f} (chance {scores['chance_uniform']:.3f})")

# %% [markdown]
# ## Where to go from here
# Run the same notebooks on the real data (`COURSE_DATA_SOURCE=allen`, see notebook 01)
# and compare: the synthetic sample was built so that these analyses work (every number
# above is the generator's), and real neurons are messier.
