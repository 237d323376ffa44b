"""Write a synthetic Visual Coding Neuropixels session as an Allen-format NWB file.

Uses AllenSDK's own writer objects (``Probes``/``Probe``/``Channels``/``Units``,
``Presentations.to_nwb``, metadata and running-speed writers), so
``EcephysProjectCache.get_session_data`` reads it like a released file.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .nwb_writing import fast_table_writes, write_nwb

N_WAVEFORM_SAMPLES = 82


def _mean_waveform(peak: int, n_channels: int, amplitude: float) -> np.ndarray:
    """(n_channels, 82) float32 waveform, zero beyond 12 channels from the peak (V)."""
    t = np.arange(N_WAVEFORM_SAMPLES) / 30000.0
    shape = -np.exp(-((t - 0.0007) / 0.00015) ** 2) + 0.35 * np.exp(-((t - 0.0011) / 0.0003) ** 2)
    dist = np.abs(np.arange(n_channels) - peak)
    scale = np.where(dist <= 12, amplitude * 1e-6 * np.exp(-dist / 6.0), 0.0)
    return (scale[:, None] * shape[None, :]).astype(np.float32)


def build_nwbfile(session: pd.Series, probes: pd.DataFrame, channels: pd.DataFrame,
                  units: pd.DataFrame, presentations: pd.DataFrame, spike_times: dict,
                  spike_amplitudes: dict, running: pd.DataFrame):
    """Assemble the NWB file of one session.

    Parameters
    ----------
    session : the session's row of the real sessions table (index = session id)
    probes : the session's rows of the real probes table (index = probe id)
    channels, units : the session's channels and units (warehouse columns, index = id)
    presentations : stimulus table (index = presentation id)
    spike_times, spike_amplitudes : unit id -> array
    running : running speed table (start_time, end_time, velocity, net_rotation)
    """
    import pynwb
    from allensdk.brain_observatory.behavior.data_objects.stimuli.presentations import (
        Presentations)
    from allensdk.brain_observatory.ecephys._channel import Channel
    from allensdk.brain_observatory.ecephys._channels import Channels
    from allensdk.brain_observatory.ecephys._probe import Probe
    from allensdk.brain_observatory.ecephys._unit import Unit
    from allensdk.brain_observatory.ecephys._units import Units
    from allensdk.brain_observatory.ecephys.probes import Probes
    from allensdk.brain_observatory.ecephys.write_nwb.__main__ import (
        add_metadata_to_nwbfile, add_running_speed_to_nwbfile)
    from allensdk.brain_observatory.nwb import add_invalid_times, add_stimulus_timestamps

    session_id = int(session.name)
    nwbfile = pynwb.NWBFile(
        session_description="Data and metadata for an Ecephys session",
        identifier=str(session_id), session_id=str(session_id),
        session_start_time=datetime(2019, 1, 8, 13, 0, 0, tzinfo=timezone.utc),
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
    add_invalid_times(nwbfile, [])

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
                    anterior_posterior_ccf_coordinate=c["anterior_posterior_ccf_coordinate"],
                    dorsal_ventral_ccf_coordinate=c["dorsal_ventral_ccf_coordinate"],
                    left_right_ccf_coordinate=c["left_right_ccf_coordinate"])
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
        probe_objects.append(Probe(id=int(probe_id), name=probe["name"],
                                   channels=channel_objects, units=unit_objects,
                                   sampling_rate=float(probe["sampling_rate"])))
    Probes(probe_objects).to_nwb(nwbfile)
    add_running_speed_to_nwbfile(nwbfile, running)
    return nwbfile


def write_session(path: Path, *args, **kwargs) -> None:
    """Build the session's NWB file (see :func:`build_nwbfile`) and write it to ``path``."""
    with fast_table_writes():
        write_nwb(build_nwbfile(*args, **kwargs), path)
