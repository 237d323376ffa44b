"""Everything the offline sample holds, generated in memory from the recipe.

Generation is deterministic: the same recipe gives identical arrays on every call.
Writing them to disk is :mod:`course_utils.sample.build`'s job.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import METADATA_DIR, RECIPE_PATH
from ..metadata import read_table
from . import ecephys_synth
from .ophys_cells import PlaneCells, image_templates, make_plane_cells, ophys_timestamps
from .ophys_task import ChangeDetectionTask, make_task


def load_recipe(path: Path | None = None) -> dict:
    """Read the sample recipe (``data/sample_recipe.toml`` by default)."""
    path = Path(path or RECIPE_PATH)
    with open(path, "rb") as f:
        recipe = tomllib.load(f)
    missing = {"seed", "ophys", "ecephys"} - set(recipe)
    if missing:
        raise ValueError(f"recipe {path} lacks {sorted(missing)}: see data/sample_recipe.toml")
    return recipe


def _streams(recipe: dict) -> tuple[np.random.Generator, np.random.Generator]:
    ophys, ecephys = np.random.SeedSequence(int(recipe["seed"])).spawn(2)
    return np.random.default_rng(ophys), np.random.default_rng(ecephys)


def _eye_stream(recipe: dict) -> np.random.SeedSequence:
    """The eye tracking's own stream (the seed's third child), so adding it left the
    ophys and Neuropixels streams, and every array drawn from them, unchanged."""
    return np.random.SeedSequence(int(recipe["seed"]), spawn_key=(2,))


@dataclass
class OphysSample:
    """The ophys session: shared task, and per experiment (same order as
    ``experiments``) its table row, frame times, cell ids and cells."""

    task: ChangeDetectionTask
    timestamps: list                 # (n_frames,) float64 per plane, s: its group's clock
    templates: tuple
    experiments: pd.DataFrame        # real experiment-table rows, index ophys_experiment_id
    cell_ids: list                   # DataFrames of cell_roi_id / cell_specimen_id
    planes: list                     # PlaneCells
    plane_groups: list               # imaging plane group of each plane (int)
    group_count: int                 # number of imaging plane groups in the session


def plane_groups(experiments: pd.DataFrame) -> tuple[list[int], int]:
    """Imaging plane group of each experiment and the session's group count, from the
    real table's ``imaging_plane_group`` column (groups numbered 0, 1, ...)."""
    groups = experiments["imaging_plane_group"]
    if groups.isna().any():
        raise ValueError("the recipe's ophys session has planes without an imaging plane "
                         "group in the release table; the sample mirrors a mesoscope session")
    groups = groups.astype(int).tolist()
    count = len(set(groups))
    if sorted(set(groups)) != list(range(count)):
        raise ValueError(f"imaging plane groups {sorted(set(groups))} are not 0..{count - 1}")
    return groups, count


def generate_ophys(recipe: dict, metadata_dir: Path = METADATA_DIR) -> OphysSample:
    """Generate the Visual Behavior session named in ``recipe["ophys"]``."""
    cfg = recipe["ophys"]
    rng, _ = _streams(recipe)
    table = read_table("vbo_ophys_experiment_table", metadata_dir)
    cells = read_table("vbo_ophys_cells_table", metadata_dir)
    experiments = table[table["ophys_session_id"] == cfg["ophys_session_id"]]
    if experiments.empty:
        raise KeyError(f"ophys session {cfg['ophys_session_id']} is not in the release tables")
    experiments = experiments.sort_values("ophys_experiment_id").set_index("ophys_experiment_id",
                                                                           drop=False)
    groups, count = plane_groups(experiments)
    task = make_task(rng, cfg)
    if "eye_tracking" in cfg:
        task.eye_tracking_source = (_eye_stream(recipe), dict(cfg["eye_tracking"]))
    templates = image_templates(rng, len(cfg["images"]), tuple(cfg["template_shape"]))
    ids, planes, clocks = [], [], []
    for exp_id, group in zip(experiments.index, groups):
        plane_cells = cells[cells["ophys_experiment_id"] == exp_id].sort_values("cell_roi_id")
        ids.append(plane_cells[["cell_roi_id", "cell_specimen_id"]].reset_index(drop=True))
        t = ophys_timestamps(cfg, group, count)
        clocks.append(t)
        planes.append(make_plane_cells(rng, cfg, task, t, len(plane_cells)))
    return OphysSample(task, clocks, templates, experiments, ids, planes, groups, count)


@dataclass
class EcephysSample:
    """The Neuropixels sample: tables for the whole project, spikes for one session."""

    session_id: int
    sessions: pd.DataFrame       # real, index id
    probes: pd.DataFrame         # real, index id
    channels: pd.DataFrame       # all sessions, index id
    units: pd.DataFrame          # all sessions, index id
    presentations: pd.DataFrame  # the session's stimulus table
    spike_times: dict
    spike_amplitudes: dict
    running: pd.DataFrame
    nwb_metadata: dict = None    # the recipe's session-file facts (start time, rig, invalid times)

    def session_tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The session's probes, channels and units."""
        probes = self.probes[self.probes["ecephys_session_id"] == self.session_id]
        channels = self.channels[self.channels["ecephys_probe_id"].isin(probes.index)]
        units = self.units[self.units["ecephys_channel_id"].isin(channels.index)]
        return probes, channels, units

    def warehouse_tables(self, known: dict) -> dict:
        """``sessions``, ``probes``, ``channels``, ``units`` as the Allen warehouse serves
        them (see :func:`ecephys_synth.warehouse_tables`)."""
        return ecephys_synth.warehouse_tables(self.sessions, self.probes, self.channels,
                                              self.units, known)


def ecephys_tables(recipe: dict, metadata_dir: Path = METADATA_DIR):
    """The first draws of the Neuropixels stream: the shipped session's presentations,
    then channels and units for every probe of the project.

    Returns ``(rng, sessions, probes, presentations, channels, units)``; ``rng`` is the
    stream, ready for the shipped session's spikes (:func:`generate_ecephys`). The
    sessions built on demand (:mod:`.more_sessions`) call it for the same anatomy.
    """
    cfg = recipe["ecephys"]
    _, rng = _streams(recipe)
    session_id = int(cfg["session_id"])
    sessions = read_table("vcnp_sessions", metadata_dir).set_index("id")
    probes = read_table("vcnp_probes", metadata_dir).set_index("id")
    if session_id not in sessions.index:
        raise KeyError(f"Neuropixels session {session_id} is not in the release tables")
    presentations = ecephys_synth.make_presentations(rng, cfg)
    channels, units = ecephys_synth.make_anatomy(
        rng, probes, session_id, cfg["units"]["visual_area_counts"],
        cfg["units"]["failing_fraction"], cfg["units"].get("all_units"))
    return rng, sessions, probes, presentations, channels, units


def generate_ecephys(recipe: dict, metadata_dir: Path = METADATA_DIR) -> EcephysSample:
    """Generate the Neuropixels tables and the session named in ``recipe["ecephys"]``."""
    cfg = recipe["ecephys"]
    session_id = int(cfg["session_id"])
    rng, sessions, probes, presentations, channels, units = ecephys_tables(recipe,
                                                                           metadata_dir)
    nwb_metadata = {k: cfg[k] for k in ("session_start_time", "rig_equipment_name",
                                        "invalid_times")}
    sample = EcephysSample(session_id, sessions, probes, channels, units, presentations,
                           {}, {}, pd.DataFrame(), nwb_metadata)
    _, session_channels, session_units = sample.session_tables()
    structures = session_units["ecephys_channel_id"].map(
        session_channels["ecephys_structure_acronym"])
    sample.spike_times, sample.spike_amplitudes = ecephys_synth.make_spikes(
        rng, cfg, presentations, structures)
    duration = float(cfg["recording_end_s"])    # spikes and running go on after the stimuli
    rates = pd.Series({u: s.size / duration for u, s in sample.spike_times.items()})
    sample.units.loc[rates.index, "firing_rate"] = rates.round(3)
    sample.running = ecephys_synth.make_running(rng, duration)
    return sample
