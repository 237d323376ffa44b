"""Write a synthetic Visual Coding Neuropixels session as an Allen-format NWB file.

Uses AllenSDK's own writer objects (``Probes``/``Probe``/``Channels``/``Units``,
``Presentations.to_nwb``, metadata and running-speed writers), so
``EcephysProjectCache.get_session_data`` reads it like a released file.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .nwb_writing import fast_table_writes, write_nwb

N_WAVEFORM_SAMPLES = 82
# Eye-tracking rig geometry (mm, deg): AllenSDK's own test values
# (allensdk/test/brain_observatory/behavior/data_objects/test_data/
# eye_tracking_rig_geometry.json); only the equipment name is the session's.
RIG_GEOMETRY = {"camera_position_mm": [102.8, 74.7, 31.6], "camera_rotation_deg": [0.0, 0.0, 2.8],
                "led_position": [246.0, 92.3, 52.6], "monitor_position_mm": [118.6, 86.2, 31.6],
                "monitor_rotation_deg": [0.0, 0.0, 0.0]}


def _probe_class():
    """AllenSDK's ``Probe`` that records a probe's LFP sampling rate and ``has_lfp_data``
    from the release table without writing LFP data (the sample ships no LFP files)."""
    from allensdk.brain_observatory.ecephys._probe import Probe
    from allensdk.brain_observatory.ecephys.nwb_util import (add_ecephys_electrodes,
                                                             add_probe_to_nwbfile)

    class TableLfpProbe(Probe):
        def __init__(self, *args, lfp_sampling_rate: float, has_lfp_data: bool, **kwargs):
            super().__init__(*args, **kwargs)
            self._table_lfp = (float(lfp_sampling_rate), bool(has_lfp_data))

        def _add_probe_to_nwb(self, nwbfile, add_only_lfp_channels: bool = False):
            rate, has_lfp = self._table_lfp
            nwbfile, _, group = add_probe_to_nwbfile(
                nwbfile, probe_id=self._id, name=self._name,
                sampling_rate=self._sampling_rate, lfp_sampling_rate=rate,
                has_lfp_data=has_lfp, location=self._location)
            channels = [c.to_dict()["channel"] for c in self._channels.value]
            add_ecephys_electrodes(nwbfile, channels, group)
            return nwbfile

    return TableLfpProbe


def _invalid_epochs(rows: list, probes: pd.DataFrame, session_id: int) -> list:
    """The recipe's invalid intervals as AllenSDK's ``add_invalid_times`` records."""
    out = []
    for row in rows:
        if row["scope"] == "EcephysProbe":
            match = probes.index[probes["name"] == row["probe"]]
            if len(match) != 1:
                raise ValueError(f"invalid_times: no probe named {row['probe']!r} in the session")
            scope_id, label = int(match[0]), row["probe"]
        else:
            scope_id, label = session_id, row.get("label", "all_probes")
        out.append({"type": row["scope"], "id": scope_id, "label": label,
                    "start_time": float(row["start_s"]), "end_time": float(row["stop_s"])})
    return out


def _mean_waveform(peak: int, n_channels: int, amplitude: float) -> np.ndarray:
    """(n_channels, 82) float32 waveform, zero beyond 12 channels from the peak (V)."""
    t = np.arange(N_WAVEFORM_SAMPLES) / 30000.0
    shape = -np.exp(-((t - 0.0007) / 0.00015) ** 2) + 0.35 * np.exp(-((t - 0.0011) / 0.0003) ** 2)
    dist = np.abs(np.arange(n_channels) - peak)
    scale = np.where(dist <= 12, amplitude * 1e-6 * np.exp(-dist / 6.0), 0.0)
    return (scale[:, None] * shape[None, :]).astype(np.float32)


def build_nwbfile(session: pd.Series, probes: pd.DataFrame, channels: pd.DataFrame,
                  units: pd.DataFrame, presentations: pd.DataFrame, spike_times: dict,
                  spike_amplitudes: dict, running: pd.DataFrame, metadata: dict):
    """Assemble the NWB file of one session.

    Parameters
    ----------
    session : the session's row of the real sessions table (index = session id)
    probes : the session's rows of the real probes table (index = probe id)
    channels, units : the session's channels and units (warehouse columns, index = id)
    presentations : stimulus table (index = presentation id)
    spike_times, spike_amplitudes : unit id -> array
    running : running speed table (start_time, end_time, velocity, net_rotation)
    metadata : ``session_start_time`` (ISO 8601 with offset), ``rig_equipment_name``,
        ``invalid_times`` (the recipe's rows)
    """
    import pynwb
    from allensdk.brain_observatory.behavior.data_objects.stimuli.presentations import (
        Presentations)
    from allensdk.brain_observatory.ecephys._channel import Channel
    from allensdk.brain_observatory.ecephys._channels import Channels
    from allensdk.brain_observatory.ecephys._unit import Unit
    from allensdk.brain_observatory.ecephys._units import Units
    from allensdk.brain_observatory.ecephys.probes import Probes
    from allensdk.brain_observatory.ecephys.write_nwb.__main__ import (
        add_eye_tracking_rig_geometry_data_to_nwbfile, add_metadata_to_nwbfile,
        add_running_speed_to_nwbfile)
    from allensdk.brain_observatory.nwb import add_invalid_times, add_stimulus_timestamps

    Probe = _probe_class()
    session_id = int(session.name)
    nwbfile = pynwb.NWBFile(
        session_description="Data and metadata for an Ecephys session",
        identifier=str(session_id), session_id=str(session_id),
        session_start_time=datetime.fromisoformat(metadata["session_start_time"]),
        institution="Allen Institute for Brain Science (synthetic course sample)")
    add_metadata_to_nwbfile(nwbfile, dict(
        specimen_name=f"{session['full_genotype']}-{int(session['specimen_id'])}",
        age_in_days=float(session["age_in_days"]), full_genotype=session["full_genotype"],
        strain="C57BL/6J", sex=session["sex"], stimulus_name=session["session_type"],
        species="Mus musculus", donor_id=int(session["specimen_id"])))

    stim = presentations.copy()
    # AllenSDK reads 'color' back as text ("-1.0"); columns of only 0/1/NaN would
    # come back as booleans, so every value is kept as written.
    stim["color"] = stim["color"].map(lambda v: v if pd.isna(v) else str(v))
    table = Presentations(stim, sort_columns=False)
    add_stimulus_timestamps(nwbfile, table.value["start_time"].to_numpy())
    table.to_nwb(nwbfile)
    add_invalid_times(nwbfile, _invalid_epochs(metadata["invalid_times"], probes, session_id))
    add_eye_tracking_rig_geometry_data_to_nwbfile(
        nwbfile, {**RIG_GEOMETRY, "equipment": metadata["rig_equipment_name"]})

    metric_names = ["local_index", "cluster_id", "quality", "firing_rate", "isi_violations",
                    "presence_ratio", "amplitude_cutoff", "isolation_distance", "l_ratio",
                    "d_prime", "nn_hit_rate", "nn_miss_rate", "max_drift",
                    "cumulative_drift", "silhouette_score", "snr"]
    waveform_names = {"duration": "waveform_duration", "halfwidth": "waveform_halfwidth",
                      "PT_ratio": "PT_ratio", "repolarization_slope": "repolarization_slope",
                      "recovery_slope": "recovery_slope", "amplitude": "amplitude",
                      "spread": "spread", "velocity_above": "velocity_above",
                      "velocity_below": "velocity_below"}
    probe_objects = []
    for probe_id, probe in probes.iterrows():
        chans = channels[channels["ecephys_probe_id"] == probe_id]
        channel_objects = Channels([
            Channel(id=int(cid), probe_id=int(probe_id), valid_data=True,
                    probe_channel_number=int(c["local_index"]),
                    probe_vertical_position=int(c["probe_vertical_position"]),
                    probe_horizontal_position=int(c["probe_horizontal_position"]),
                    structure_acronym=c["ecephys_structure_acronym"]
                    if isinstance(c["ecephys_structure_acronym"], str) else "None",
                    anterior_posterior_ccf_coordinate=float(
                        c["anterior_posterior_ccf_coordinate"]),
                    dorsal_ventral_ccf_coordinate=float(c["dorsal_ventral_ccf_coordinate"]),
                    left_right_ccf_coordinate=float(c["left_right_ccf_coordinate"]))
            for cid, c in chans.iterrows()])
        local = pd.Series(chans["local_index"].to_numpy(), index=chans.index)
        probe_units = units[units["ecephys_channel_id"].isin(chans.index)]
        unit_objects = Units([
            Unit(id=int(uid), peak_channel_id=int(u["ecephys_channel_id"]),
                 **{k: u[k] for k in metric_names},
                 **{new: u[old] for old, new in waveform_names.items()},
                 spike_times=spike_times[uid], spike_amplitudes=spike_amplitudes[uid],
                 mean_waveforms=_mean_waveform(int(local[u["ecephys_channel_id"]]),
                                               len(chans), float(u["amplitude"])),
                 filter_and_sort_spikes=False)
            for uid, u in probe_units.iterrows()])
        # location "" as AllenSDK's executed ecephys_session.ipynb shows it for this
        # session (cell 22; the writer's default is "See electrode locations"); LFP rate
        # and has_lfp_data from the release table (no LFP files are shipped)
        probe_objects.append(Probe(id=int(probe_id), name=probe["name"],
                                   channels=channel_objects, units=unit_objects,
                                   sampling_rate=float(probe["sampling_rate"]), location="",
                                   lfp_sampling_rate=float(probe["lfp_sampling_rate"]),
                                   has_lfp_data=bool(probe["has_lfp_data"])))
    Probes(probe_objects).to_nwb(nwbfile)
    add_running_speed_to_nwbfile(nwbfile, running)
    return nwbfile


def write_session(path: Path, *args, **kwargs) -> None:
    """Build the session's NWB file (see :func:`build_nwbfile`) and write it to ``path``."""
    with fast_table_writes():
        write_nwb(build_nwbfile(*args, **kwargs), path)
