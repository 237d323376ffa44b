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
# # 01 · Loading the Allen Brain Observatory caches
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/allen-course/allen-brain-observatory-course/blob/main/notebooks/01_loading_the_caches.ipynb)
#
# **Estimated time:** 30 minutes · **Prerequisites:** Python and pandas basics
# (`DataFrame`, `.query`, `.loc`).
#
# By the end of this notebook you will be able to:
#
# 1. open the Visual Behavior 2P and Visual Coding Neuropixels caches with AllenSDK;
# 2. explain what a *session*, an *experiment* (imaging plane), a *container* and a
#    *cell* are, and follow the ids that link them;
# 3. filter the release tables by cre line, session type, experience level and rig;
# 4. pick out the two sessions the rest of the course analyses: ophys session
#    854060305 and Neuropixels session 756029989.
#
# ### Where the data come from
# Out of the box the course reads an **offline sample**: real Allen metadata tables,
# plus synthetic recordings written in Allen's own NWB format for the two sessions we
# analyse (same ids, cell and unit counts, frame times and stimulus epochs). The AllenSDK
# calls below are the ones you would use on the real data. To switch to the real data,
# set one environment variable before starting Jupyter:
#
# ```bash
# export COURSE_DATA_SOURCE=allen                   # default: sample
# export COURSE_ALLEN_CACHE_DIR=~/allen_cache        # where downloads go
# ```
#
# or pass `source="allen"` to the two `open_…_cache` functions. Real files are large
# (a mesoscope plane is about 200 MB), so the first real run takes a while.

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
import pandas as pd

from course_utils.caches import open_ecephys_cache, open_ophys_cache
from course_utils.config import data_source
from course_utils.metadata import VISUAL_AREAS, sessions_with_areas

pd.set_option("display.max_columns", 40)
print("data source:", data_source())

# %% [markdown]
# ## 1. The Visual Behavior 2P cache
#
# `open_ophys_cache()` returns AllenSDK's `VisualBehaviorOphysProjectCache`. Its
# `get_…_table()` methods return pandas DataFrames describing everything in the
# release; nothing heavy is loaded yet.

# %% tags=["nbval-check-output"]
ophys_cache = open_ophys_cache()
behavior_sessions = ophys_cache.get_behavior_session_table()
ophys_sessions = ophys_cache.get_ophys_session_table()
experiments = ophys_cache.get_ophys_experiment_table()
cells = ophys_cache.get_ophys_cells_table()

for name, table in [("behavior sessions", behavior_sessions), ("ophys sessions", ophys_sessions),
                    ("ophys experiments", experiments), ("cells (ROIs)", cells)]:
    print(f"{name:>18}: {len(table):>7,} rows  (index: {table.index.name})")

# %% [markdown]
# The experiment table is the one you will filter most: one row per imaging plane,
# with the mouse and its genotype, the area and depth imaged, the session's type and
# the rig. On the sample these are real Allen tables too: AllenSDK's own copies, a
# slightly older version than the current release (a few rows and columns differ; see
# `data/README.md`). One column is changed: the last, `file_id`, points to the plane's
# NWB file in the cache, and on the sample it is -999 for every plane whose file the
# sample does not hold (all but the six of session 854060305). Its first rows:

# %%
experiments.head()

# %% [markdown]
# ## 2. How the ids fit together
#
# * A **behavior session** (`behavior_session_id`) is one sitting of one mouse in the
#   task. Training days have no imaging, so only some behavior sessions have an
#   **ophys session** (`ophys_session_id`).
# * An ophys session holds one or more **experiments** (`ophys_experiment_id`): one per
#   imaging plane. A single-plane rig gives one; the mesoscope (`MESO.1`) records up to
#   eight planes at once, at several depths in two visual areas.
# * The same plane, found again on later days, forms an **ophys container**
#   (`ophys_container_id`).
# * Each segmented ROI in an experiment has a `cell_roi_id`; the same neuron matched
#   across sessions keeps one `cell_specimen_id`.
#
# The session table lists each session's experiments in a column of lists:

# %%
ophys_sessions[["mouse_id", "equipment_name", "session_type", "ophys_experiment_id"]].head()

# %% [markdown]
# ## 3. Filtering the tables
#
# Ordinary pandas is all we need. How many experiments are there per rig, per cre line
# and per experience level?

# %%
print(experiments["equipment_name"].value_counts(), "\n")
print(experiments["cre_line"].value_counts(), "\n")
print(experiments["experience_level"].value_counts())

# %% [markdown]
# What these labels mean:
#
# * **Cre line**: which neurons carry the calcium indicator (GCaMP6). `Slc17a7-IRES2-Cre`
#   labels excitatory neurons (*Slc17a7* is the gene of the vesicular glutamate
#   transporter VGLUT1). `Sst-IRES-Cre` and `Vip-IRES-Cre` label two classes of
#   inhibitory interneurons, those that make somatostatin and those that make
#   vasoactive intestinal peptide; Vip cells inhibit mostly Sst cells, so when Vip cells
#   fire, the cells that Sst cells inhibit are released (Pfeffer et al. 2013, *Nat
#   Neurosci*, doi:10.1038/nn.3446).
# * **Experience level**: mice learn the task with one set of eight images, which is
#   *familiar* by the time they are imaged (sessions `OPHYS_1` to `OPHYS_3`). From
#   `OPHYS_4` on they see a new set: `Novel 1` is the first session with it, `Novel >1`
#   the later ones, when it is no longer quite new.
# * **Passive** sessions (`OPHYS_2` and `OPHYS_5`, `passive == True`) show the same
#   images with no reward to earn, so the mouse watches but does not perform.
#
# The dataset's technical white paper on the
# [Allen Brain Map portal](https://portal.brain-map.org/explore/circuits/visual-behavior-2p)
# describes the design in full.

# %%
pd.crosstab(experiments["session_type"], experiments["experience_level"])

# %% [markdown]
# Combine conditions with `.query`. Here: Sst interneurons, imaged on the mesoscope,
# on a day with images the mouse had seen before ("Novel >1" means a novel image set
# that is no longer new).

# %% tags=["nbval-check-output"]
sst_meso = experiments.query(
    "cre_line == 'Sst-IRES-Cre' and equipment_name == 'MESO.1' "
    "and experience_level == 'Novel >1'")
print(f"{len(sst_meso)} experiments from {sst_meso['ophys_session_id'].nunique()} sessions "
      f"of {sst_meso['mouse_id'].nunique()} mice")
sst_meso.groupby("session_type").size()

# %% [markdown]
# ## 4. The session we will analyse: 854060305
#
# An Sst-IRES-Cre mouse (GCaMP6f in Sst-positive inhibitory interneurons) imaged on the
# mesoscope with six planes.

# %%
OPHYS_SESSION = 854060305
session = ophys_sessions.loc[OPHYS_SESSION]
session[["mouse_id", "cre_line", "equipment_name", "session_type", "experience_level",
         "behavior_session_id"]]

# %% [markdown]
# Its planes, from the experiment table (the session table's list and the experiment
# table's `ophys_session_id` column say the same thing):

# %%
planes = (experiments[experiments["ophys_session_id"] == OPHYS_SESSION]
          .loc[session["ophys_experiment_id"],
               ["targeted_structure", "imaging_depth", "ophys_container_id"]])
planes

# %% [markdown]
# And the cells segmented in each plane, from the cells table:

# %%
cells_per_plane = (cells[cells["ophys_experiment_id"].isin(planes.index)]
                   .groupby("ophys_experiment_id").size().rename("n_cells"))
planes.join(cells_per_plane)

# %% [markdown]
# **Self-check.** Compare with your output: six planes, ids 854759890 … 854759903,
# 53 cells in all.

# %% tags=["nbval-check-output"]
plane_ids = list(session["ophys_experiment_id"])
print("planes:", len(plane_ids), plane_ids)
print("cells:", int(cells_per_plane.sum()))
assert plane_ids == [854759890, 854759894, 854759896, 854759898, 854759900, 854759903]
assert cells_per_plane.sum() == 53

# %% [markdown]
# ## 5. The Visual Coding Neuropixels cache
#
# The Neuropixels data use an older AllenSDK cache, `EcephysProjectCache`. Its session
# table has one row per recording, with the brain structures the probes passed through.

# %%
ecephys_cache = open_ecephys_cache()
np_sessions = ecephys_cache.get_session_table()
print(np_sessions["session_type"].value_counts())
np_sessions[["session_type", "unit_count", "probe_count", "full_genotype"]].head()

# %% [markdown]
# Two stimulus programmes exist: *brain_observatory_1.1* and
# *functional_connectivity*. Notebook 04 needs sessions of the first kind that record
# all six visual cortical areas. `sessions_with_areas` checks each session's list of
# structures:

# %% tags=["nbval-check-output"]
print("visual areas:", VISUAL_AREAS)
six_area_sessions = sessions_with_areas(np_sessions, VISUAL_AREAS, "brain_observatory_1.1")
print(len(six_area_sessions), "sessions:", six_area_sessions)
assert len(six_area_sessions) == 8 and 756029989 in six_area_sessions

# %% [markdown]
# A quick picture of the Neuropixels release: units recorded per session, by programme.

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
for kind, group in np_sessions.groupby("session_type"):
    ax.hist(group["unit_count"], bins=15, alpha=0.6, label=kind)
ax.set_xlabel("units recorded in the session")
ax.set_ylabel("number of sessions")
ax.set_title("Visual Coding Neuropixels: units per session")
ax.legend()
plt.show()

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** How many *Vip-IRES-Cre* experiments were recorded on the mesoscope
# in a session where the image set was new to the mouse ("Novel 1")? How many
# distinct mice do they come from?
#
# **Exercise 2.** Plane 854759890 belongs to an ophys container. List every experiment
# in that container with its session type and experience level, in date order.
#
# **Exercise 3.** Among *functional_connectivity* Neuropixels sessions, how many record
# all six visual areas?

# %% tags=["solution"]
# Solution 1
vip_novel = experiments.query(
    "cre_line == 'Vip-IRES-Cre' and equipment_name == 'MESO.1' and experience_level == 'Novel 1'")
print(len(vip_novel), "experiments from", vip_novel["mouse_id"].nunique(), "mice")

# %% tags=["solution"]
# Solution 2
container = experiments.loc[854759890, "ophys_container_id"]
(experiments[experiments["ophys_container_id"] == container]
 .sort_values("date_of_acquisition")[["date_of_acquisition", "session_type",
                                      "experience_level"]])

# %% tags=["solution"]
# Solution 3
fc = sessions_with_areas(np_sessions, VISUAL_AREAS, "functional_connectivity")
print(len(fc), "functional_connectivity sessions record all six areas")

# %% [markdown]
# ## What's next
# Notebook 02 loads all six planes of session 854060305 and turns every cell's traces
# into one tidy table.
