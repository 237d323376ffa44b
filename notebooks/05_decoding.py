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
# 2. estimate accuracy with stratified cross-validation and test it against chance
#    with a label-permutation test;
# 3. read a confusion matrix, and show how accuracy grows with the number of cells;
# 4. look at the population with PCA and t-SNE, and know what t-SNE cannot tell you;
# 5. handle class imbalance (balanced accuracy) and leakage between related samples.
#
# Every random step has a fixed seed, so your numbers should match the ones printed.

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
from sklearn.model_selection import (KFold, StratifiedGroupKFold, StratifiedKFold,
                                     permutation_test_score, train_test_split)
from sklearn.preprocessing import StandardScaler

from course_utils.caches import open_ecephys_cache, open_ophys_cache
from course_utils.decoding import decode, design_matrix, linear_svm, window_features
from course_utils import reuse
from course_utils.ecephys import by_area
from course_utils.memory import release_memory
from course_utils.responses import stimulus_response_table

SEED = 0
results = {}          # the numbers to compare, collected as we go

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

# %% tags=["nbval-check-output"]
cache = open_ophys_cache()
traces = reuse.session_traces(cache, 854060305)
stimulus = reuse.stimulus_presentations(cache, 854759894)
flashes = stimulus[stimulus["stimulus_block_name"] == "change_detection_behavior"]
images = flashes[~flashes["omitted"].astype(bool)]

responses = stimulus_response_table(traces["dff"], images, response_window=(0.0, 0.5))
X, y = design_matrix(responses, value="mean_response", label="image_name")
print(f"X: {X.shape[0]} flashes x {X.shape[1]} cells; {y.nunique()} images")
y.value_counts().sort_index()

# %% [markdown]
# ## 2. A first decoder: one train/test split
#
# The model is a `Pipeline`: `StandardScaler` (each cell to mean 0, s.d. 1) followed by
# a linear SVM. Putting the scaler *inside* the pipeline matters: it is then fitted on
# the training flashes only, so nothing about the test flashes leaks into training.

# %% tags=["nbval-check-output"]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=SEED)
model = linear_svm(SEED).fit(X_train, y_train)
single_split = accuracy_score(y_test, model.predict(X_test))
print(f"accuracy on one held-out quarter: {single_split:.3f} (chance: 1/8 = 0.125)")
results["one split, accuracy"] = single_split

# %% [markdown]
# ## 3. Cross-validation and a permutation test
#
# One split gives one noisy number. Stratified k-fold cross-validation uses every flash
# once for testing, keeping the eight images in the same proportions in every fold.
# `decode` returns a tidy table of the folds:

# %%
image_result = decode(X, y, n_splits=5, seed=SEED)
image_result.scores.round(3)

# %% [markdown]
# Is 0.7 really better than chance? A *permutation test* shuffles the labels many
# times, repeats the whole cross-validation each time, and asks how often shuffled
# labels score as well as the real ones.

# %% tags=["nbval-check-output"]
started = time.perf_counter()
score, permuted, p_value = permutation_test_score(
    linear_svm(SEED), X.values, y.values, n_permutations=30, random_state=SEED,
    cv=StratifiedKFold(5, shuffle=True, random_state=SEED))
print(f"accuracy {score:.3f}; shuffled labels {permuted.mean():.3f} ± {permuted.std():.3f}; "
      f"p = {p_value:.3f} ({time.perf_counter() - started:.0f} s)")
results["5-fold accuracy"] = score
results["shuffled-label accuracy"] = permuted.mean()
results["permutation p-value"] = p_value

# %% [markdown]
# **Self-check.** Accuracy well above 0.125 and below 1, shuffled labels near 0.125,
# p below 0.05 (with 30 permutations the smallest possible p is 1/31 ≈ 0.032).

# %% tags=["nbval-check-output"]
print(image_result.summary().round(3).to_dict())
assert 0.4 < score < 0.95 and p_value < 0.05 and abs(permuted.mean() - 0.125) < 0.05

# %% [markdown]
# The confusion matrix shows which images are mistaken for which (rows: the image
# shown; each row sums to 1).

# %%
fig, ax = plt.subplots(figsize=(7, 6))
sns.heatmap(image_result.confusion, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1,
            cbar_kws={"label": "fraction of flashes"}, ax=ax)
ax.set(title="image decoding from 53 cells (5-fold, normalised by row)",
       xlabel="predicted image", ylabel="image shown")
plt.show()

# %% [markdown]
# ## 4. How many cells does it take?
#
# Decode from random subsets of cells of growing size, ten subsets per size.

# %%
rng = np.random.default_rng(SEED)
sizes = [1, 2, 4, 8, 16, 32, 53]
rows = []
for size in sizes:
    for repeat in range(1 if size == X.shape[1] else 10):
        cells = rng.choice(X.columns, size=size, replace=False)
        accuracy = decode(X[cells], y, n_splits=5, seed=SEED).scores["accuracy"].mean()
        rows.append({"n_cells": size, "repeat": repeat, "accuracy": accuracy})
curve = pd.DataFrame(rows).groupby("n_cells")["accuracy"].agg(["mean", "std"])
curve.round(3)

# %%
fig, ax = plt.subplots(figsize=(6, 4))
ax.errorbar(curve.index, curve["mean"], yerr=curve["std"].fillna(0), marker="o", capsize=3)
ax.axhline(1 / 8, color="0.5", ls="--", label="chance (1/8)")
ax.set(xscale="log", xticks=sizes, xticklabels=sizes, ylim=(0, 1),
       title="image decoding vs number of cells (mean ± s.d. over subsets)",
       xlabel="number of cells", ylabel="5-fold accuracy")
ax.legend()
plt.show()

# %% [markdown]
# ## 5. What does the population look like?
#
# PCA finds the directions of largest variance: a linear, faithful projection. t-SNE
# places points so that *neighbours* stay neighbours; distances between clusters, and
# cluster sizes, mean nothing in a t-SNE plot. Both are computed on standardised
# responses; t-SNE on 1,500 flashes to keep it quick.

# %%
Z = StandardScaler().fit_transform(X)
pcs = PCA(n_components=2, random_state=SEED).fit(Z)
subset = rng.choice(len(Z), size=1500, replace=False)
embedded = TSNE(n_components=2, perplexity=30, init="pca",
                random_state=SEED).fit_transform(Z[subset])
fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
for ax, points, labels, title in [
        (axes[0], pcs.transform(Z), y.values, "PCA"),
        (axes[1], embedded, y.values[subset], "t-SNE (1,500 flashes)")]:
    sns.scatterplot(x=points[:, 0], y=points[:, 1], hue=labels, hue_order=sorted(y.unique()),
                    s=8, linewidth=0, ax=ax, legend=ax is axes[1])
    ax.set(title=f"{title} of the 53-cell responses, coloured by image",
           xlabel=f"{title.split()[0]} 1", ylabel=f"{title.split()[0]} 2")
axes[1].legend(title="image", markerscale=2, bbox_to_anchor=(1, 1))
fig.tight_layout()
plt.show()
print("variance explained by PC1, PC2:", pcs.explained_variance_ratio_.round(3))

# %% [markdown]
# ## 6. Change or repeat? Class imbalance
#
# Only about one flash in twelve is a change. A decoder that always answers "repeat"
# is right 92% of the time and has learned nothing. *Balanced accuracy* (the mean of
# the per-class accuracies) is 0.5 for such a decoder; `class_weight="balanced"` makes
# the SVM pay as much attention to the rare class.

# %%
is_change = images["is_change"].astype(bool).reindex(X.index).map({True: "change",
                                                                   False: "repeat"})
print(is_change.value_counts().to_dict())
plain = decode(X, is_change, n_splits=5, seed=SEED)
weighted = decode(X, is_change, n_splits=5, seed=SEED,
                  model=linear_svm(SEED, class_weight="balanced"))
imbalance = pd.DataFrame({"plain SVM": plain.summary(), "balanced weights": weighted.summary()})
results["change vs repeat, balanced accuracy"] = weighted.summary()["balanced_accuracy"]
imbalance

# %% [markdown]
# ## 7. Neuropixels: which stimulus is on, per visual area?
#
# From notebook 04's counts, each 1 s window after an epoch start becomes a row
# (spike counts of the area's units) labelled with the epoch's stimulus. Windows from
# one epoch are alike, so a random split would put near-copies of test windows in the
# training set. We keep each epoch's windows together (`StratifiedGroupKFold`), and
# keep the stimulus types shown in at least two epochs, so every type can be trained
# on one epoch and tested on another.

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

# %%
fig, ax = plt.subplots(figsize=(7, 4))
ax.bar(by_area_table.index, by_area_table["balanced_accuracy"], color="tab:blue",
       label="epochs kept together")
ax.plot(by_area_table.index, by_area_table["random-split balanced accuracy (leaky)"], "o",
        color="tab:red", label="random split (leaky)")
ax.axhline(1 / len(repeated), color="0.5", ls="--", label=f"chance (1/{len(repeated)})")
ax.set(ylim=(0, 1), title="decoding the stimulus type from 1 s of spikes, per area",
       xlabel="visual area", ylabel="balanced accuracy")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# **Self-check.** Every area above chance, and the areas differ.

# %% tags=["nbval-check-output"]
results.update({f"Neuropixels {a}, balanced accuracy": v
                for a, v in by_area_table["balanced_accuracy"].items()})
spread = by_area_table["balanced_accuracy"].max() - by_area_table["balanced_accuracy"].min()
print(f"best area {by_area_table['balanced_accuracy'].idxmax()}, spread {spread:.3f}")
assert (by_area_table["balanced_accuracy"] > 1 / len(repeated)).all() and spread > 0.05

# %% [markdown]
# ## Results to compare

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
# without `class_weight="balanced"`.

# %% tags=["solution"]
# Solution 1
event_table = stimulus_response_table(traces["events"], images, response_window=(0.0, 0.5))
X_events, y_events = design_matrix(event_table)
print("dF/F:  ", image_result.summary()["accuracy"])
print("events:", decode(X_events, y_events, n_splits=5, seed=SEED).summary()["accuracy"])

# %% tags=["solution"]
# Solution 2: compare equal numbers of cells, drawn at random, several times
area_of = traces["targeted_structure"].to_series()
n = min((area_of == "VISp").sum(), (area_of == "VISl").sum())
for area in ("VISp", "VISl"):
    ids = area_of.index[area_of == area]
    scores = [decode(X[rng.choice(ids, n, replace=False)], y, seed=SEED).summary()["accuracy"]
              for _ in range(5)]
    print(f"{area}: {n} cells, accuracy {np.mean(scores):.3f} ± {np.std(scores):.3f}")

# %% tags=["solution"]
# Solution 3
omission_table = stimulus_response_table(traces["dff"], flashes, response_window=(0.0, 0.5))
X_all, _ = design_matrix(omission_table, label="image_name")
omitted = flashes["omitted"].astype(bool).reindex(X_all.index).map({True: "omitted",
                                                                    False: "image"})
for name, model in [("plain", linear_svm(SEED)),
                    ("balanced", linear_svm(SEED, class_weight="balanced"))]:
    summary = decode(X_all, omitted, seed=SEED, model=model).summary()
    print(f"{name:>8}: accuracy {summary['accuracy']:.3f}, "
          f"balanced accuracy {summary['balanced_accuracy']:.3f}")

# %% [markdown]
# ## Where to go from here
# Run the same notebooks on the real data (`COURSE_DATA_SOURCE=allen`, see notebook 01)
# and compare: the synthetic sample was built so that these analyses work, real neurons
# are messier.
