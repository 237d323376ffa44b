"""Synthetic Visual Coding Neuropixels data as NumPy/pandas (no AllenSDK).

* :func:`make_presentations`: a brain_observatory_1.1 stimulus table from the recipe's
  epochs (one row per presentation, one per spontaneous gap).
* :func:`make_anatomy`: channels and unit metadata for every probe of the real
  ``probes.csv`` (all sessions), so AllenSDK's session table recomputes the real counts.
* :func:`make_spikes`: spike trains for the units of the one session shipped as NWB.
* :func:`warehouse_tables`: the four tables as the Allen warehouse serves them (the raw
  ``sessions.csv``, ``probes.csv``, ``channels.csv``, ``units.csv`` that
  ``EcephysProjectCache`` caches and then annotates, merges and counts itself).

Times are seconds on the session clock.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..metadata import parse_acronyms
from .nwb_writing import keep_mantissa_bits

PRESENTATION_COLUMNS = ["start_time", "stop_time", "stimulus_name", "stimulus_block",
                        "color", "contrast", "frame", "orientation", "phase", "size",
                        "spatial_frequency", "temporal_frequency", "x_position",
                        "y_position"]
# Real Allen CCF ids for the main structures; others get placeholder ids (>= 9,000,000).
STRUCTURE_IDS = {"VISp": 385, "VISl": 409, "VISal": 402, "VISrl": 417, "VISam": 394,
                 "VISpm": 533, "LGd": 170, "LP": 218, "CA1": 382, "CA3": 463, "DG": 726,
                 "APN": 215}
TIME_GRID = 2.0 ** 15          # spike times are multiples of 1 / TIME_GRID s
FIRST_CHANNEL_ID = 849_000_000
FIRST_UNIT_ID = 950_900_000
# (on-screen time, period) of one presentation, s; period > on leaves a gray gap. The
# real session's: drifting gratings 2.0017 s every 3.0025 s, 250 ms presentations every
# 250.2 ms, movie frames every 33.3612 ms (AllenSDK ecephys_session.ipynb at 43fa3655,
# cells 26, 30, 32). With these the real epoch lengths give the real counts: 3,645
# gabors, 150 flashes, 630 gratings, 6,000 static gratings, 5,950 scenes, 9,000 and
# 18,000 movie frames an epoch; 70,390 rows with the 15 spontaneous ones.
TIMING = {"gabors": (0.2502, 0.2502), "flashes": (0.2502, 2.0017),
          "drifting_gratings": (2.0017, 3.0025), "static_gratings": (0.2502, 0.2502),
          "natural_scenes": (0.2502, 0.2502), "natural_movie_one": (0.0333612, 0.0333612),
          "natural_movie_three": (0.0333612, 0.0333612)}
MOVIE_LENGTH = {"natural_movie_one": 900, "natural_movie_three": 3600}
# Static-grating blank sweeps: 189 of a session's 6,000 presentations (5,811 have an
# orientation: dherrera1911.github.io _posts/2025-08-10-open-neural-coding.md, real data).
STATIC_BLANK_FRACTION = 189 / 6000


def _conditions(rng: np.random.Generator, name: str, n: int) -> dict:
    """Stimulus parameters of ``n`` consecutive presentations of stimulus ``name``."""
    if name in MOVIE_LENGTH:
        return dict(frame=(np.arange(n) % MOVIE_LENGTH[name]).astype(float), contrast=1.0,
                    size="[1920.0, 1080.0]")
    if name == "natural_scenes":
        return dict(frame=rng.integers(-1, 118, n).astype(float))
    if name == "flashes":
        return dict(color=np.where(rng.random(n) < 0.5, "-1.0", "1.0"), contrast=0.8,
                    size="[300.0, 300.0]", orientation=0.0)
    if name == "gabors":
        pos = np.linspace(-40.0, 40.0, 9)
        return dict(orientation=rng.choice([0.0, 45.0, 90.0], n), x_position=rng.choice(pos, n),
                    y_position=rng.choice(pos, n), temporal_frequency=4.0,
                    spatial_frequency=0.08, contrast=0.8, size="[20.0, 20.0]",
                    phase="[3644.93333333, 3644.93333333]")
    if name == "drifting_gratings":
        return dict(orientation=rng.choice(np.arange(0.0, 360.0, 45.0), n),
                    temporal_frequency=rng.choice([1.0, 2.0, 4.0, 8.0, 15.0], n),
                    spatial_frequency=0.04, contrast=0.8, size="[250.0, 250.0]",
                    phase="[42471.86666667, 42471.86666667]")
    if name == "static_gratings":
        # blank sweeps carry no grating parameters (AllenSDK shows them as "null")
        blank = rng.random(n) < STATIC_BLANK_FRACTION
        ori = np.where(blank, np.nan, rng.choice(np.arange(0.0, 180.0, 30.0), n))
        sf = np.where(blank, np.nan, rng.choice([0.02, 0.04, 0.08, 0.16, 0.32], n))
        phase = rng.choice(["0.0", "0.25", "0.5", "0.75"], n).astype(object)
        phase[blank] = np.nan
        return dict(orientation=ori, spatial_frequency=sf, phase=phase, contrast=0.8,
                    size="[250.0, 250.0]")
    raise ValueError(f"unknown stimulus {name!r}; known: {sorted(TIMING)}")


def presentation_count(name: str, duration: float) -> int:
    """Presentations of stimulus ``name`` that fill an epoch of ``duration`` s."""
    on, period = TIMING[name]
    if on == period:                             # contiguous presentations
        return max(1, int(round(duration / period)))
    return max(1, int(round((duration - on) / period)) + 1)


def make_presentations(rng: np.random.Generator, cfg: dict) -> pd.DataFrame:
    """Stimulus presentations of the session, index ``id``, sorted by start time.

    Each epoch of the recipe (``start_s``, ``stop_s``) becomes ``n`` presentations, evenly
    spaced so that the first starts at the epoch's start and the last stops at its stop;
    each gap before an epoch becomes one ``spontaneous`` row (``stimulus_block`` NaN). As
    in the real table, nothing follows the last epoch (the recording goes on to
    ``recording_end_s`` without a stimulus row).
    """
    epochs = cfg["epochs"]
    starts = np.array([e["start_s"] for e in epochs])
    stops = np.array([e["stop_s"] for e in epochs])
    if (np.any(stops <= starts) or np.any(np.diff(starts) <= 0)
            or np.any(stops[:-1] > starts[1:])):
        raise ValueError("recipe epochs must be in time order and must not overlap")
    if stops[-1] > float(cfg["recording_end_s"]):
        raise ValueError("the last recipe epoch stops after recording_end_s")
    frames, t_prev = [], float(cfg["first_spontaneous_start_s"])
    for block, (e, start, stop) in enumerate(zip(epochs, starts, stops)):
        if start > t_prev:
            frames.append(pd.DataFrame(dict(start_time=[t_prev], stop_time=[start],
                                            stimulus_name="spontaneous", stimulus_block=np.nan)))
        on, period = TIMING[e["name"]]
        n = presentation_count(e["name"], stop - start)
        if on == period:                         # contiguous: each ends where the next starts
            edges = np.linspace(start, stop, n + 1)
            onsets, offsets = edges[:-1], edges[1:]
        else:
            onsets = start + np.arange(n) * ((stop - start - on) / (n - 1) if n > 1 else 0.0)
            offsets = onsets + on
        offsets[-1] = stop
        frames.append(pd.DataFrame(dict(start_time=onsets, stop_time=offsets,
                                        stimulus_name=e["name"], stimulus_block=float(block),
                                        **_conditions(rng, e["name"], n))))
        t_prev = stop
    table = pd.concat(frames, ignore_index=True).reindex(columns=PRESENTATION_COLUMNS)
    table["stimulus_index"] = table["stimulus_block"].fillna(-1).astype(int)
    table.index = pd.RangeIndex(len(table), name="id")
    return table


def _channel_structures(acronyms: list, n_channels: int) -> np.ndarray:
    """Structure of each channel (tip first): the probe's structures, deepest first, fill
    the probe in order; cortex ("VIS*") gets a double share; out-of-brain (None) the top."""
    inside = [a for a in acronyms if a is not None]
    weights = np.array([2.0 if a.startswith("VIS") else 1.0 for a in inside])
    top = int(round(0.15 * n_channels)) if None in acronyms else 0
    bounds = np.round(np.concatenate([[0], np.cumsum(weights) / weights.sum()])
                      * (n_channels - top)).astype(int)
    out = np.full(n_channels, None, dtype=object)
    for a, lo, hi in zip(inside, bounds[:-1], bounds[1:]):
        out[lo:hi] = a
    return out


def failing_counts(probes: pd.DataFrame, session_id: int, failing_fraction: float,
                   all_units: int | None = None) -> pd.Series:
    """Units per probe that fail a default quality filter.

    The probes of ``session_id`` get ``failing_fraction`` of their passing units. With
    ``all_units`` (the project's unit count with the quality filters off), the other
    probes share what is left, in proportion to their passing units (largest remainders),
    so that the counts add up to ``all_units`` exactly.
    """
    n_pass = probes["unit_count"].astype(int)
    mine = probes["ecephys_session_id"] == session_id
    fail = (failing_fraction * n_pass).round().astype(int)
    if all_units is None:
        return fail
    rest = int(all_units) - int(n_pass.sum()) - int(fail[mine].sum())
    if rest < 0:
        raise ValueError(f"all_units = {all_units} is below the passing and session units")
    share = n_pass[~mine] / n_pass[~mine].sum() * rest
    base = np.floor(share).astype(int)
    extra = (share - base).sort_values(ascending=False).index[:rest - int(base.sum())]
    base.loc[extra] += 1
    fail[~mine] = base
    return fail


def make_anatomy(rng: np.random.Generator, probes: pd.DataFrame, session_id: int,
                 visual_counts: dict, failing_fraction: float, all_units: int | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Channels and units (warehouse column names) for every probe in ``probes``.

    Each probe gets its real ``channel_count`` channels and ``unit_count`` units that pass
    AllenSDK's default quality filters, plus units that fail one
    (:func:`failing_counts`). In ``session_id``, units in each visual area number
    exactly ``visual_counts``.

    Returns
    -------
    channels : DataFrame indexed by ``id``
    units : DataFrame indexed by ``id``; column ``ecephys_channel_id`` links to channels
    """
    chan_frames, unit_frames = [], []
    next_channel, next_unit = FIRST_CHANNEL_ID, FIRST_UNIT_ID
    n_failing = failing_counts(probes, session_id, failing_fraction, all_units)
    for probe_id, probe in probes.iterrows():
        n_ch = int(probe["channel_count"])
        acr = _channel_structures(parse_acronyms(probe["ecephys_structure_acronyms"]), n_ch)
        ch_ids = next_channel + np.arange(n_ch)
        next_channel += n_ch
        chan_frames.append(pd.DataFrame(dict(
            id=ch_ids, ecephys_probe_id=probe_id, local_index=np.arange(n_ch),
            probe_horizontal_position=np.array([43, 11, 59, 27])[np.arange(n_ch) % 4],
            probe_vertical_position=20 * (np.arange(n_ch) // 2) + 20,
            # CCF coordinates (um) are integers, as in the real channels.csv; channels above
            # the brain keep the coordinates of the probe track (outside any structure)
            anterior_posterior_ccf_coordinate=np.full(n_ch, round(8000 + rng.normal(0, 300))),
            dorsal_ventral_ccf_coordinate=4000 - 10 * np.arange(n_ch),
            left_right_ccf_coordinate=np.full(n_ch, round(7500 + rng.normal(0, 300))),
            ecephys_structure_acronym=acr)))

        in_brain = np.flatnonzero(acr != None)  # noqa: E711
        n_pass = int(probe["unit_count"])
        peak = rng.choice(in_brain, n_pass)      # passing units, anywhere in the brain
        visual = [a for a in set(acr[in_brain]) if a in visual_counts]
        if int(probe["ecephys_session_id"]) == session_id and visual:
            area = visual[0]
            area_ch = np.flatnonzero(acr == area)
            other_ch = np.setdiff1d(in_brain, area_ch)
            k = int(visual_counts[area])
            if k > n_pass:
                raise ValueError(f"probe {probe_id}: {k} {area} units exceed its {n_pass}")
            peak = np.concatenate([rng.choice(area_ch, k), rng.choice(other_ch, n_pass - k)])
        n_fail = int(n_failing[probe_id])
        peak = np.concatenate([peak, rng.choice(in_brain, n_fail)])
        units = _unit_metrics(rng, n_pass, n_fail)
        units.insert(0, "id", next_unit + np.arange(n_pass + n_fail))
        units.insert(1, "ecephys_channel_id", ch_ids[peak])
        units.insert(2, "local_index", np.arange(n_pass + n_fail))
        next_unit += n_pass + n_fail
        unit_frames.append(units)
    channels = pd.concat(chan_frames, ignore_index=True)
    channels.insert(8, "ecephys_structure_id",
                    channels["ecephys_structure_acronym"].map(_structure_ids(channels)))
    return channels.set_index("id"), pd.concat(unit_frames, ignore_index=True).set_index("id")


def _structure_ids(channels: pd.DataFrame) -> dict:
    names = sorted(set(channels["ecephys_structure_acronym"].dropna()) - set(STRUCTURE_IDS))
    return {**STRUCTURE_IDS, **{n: 9_000_000 + i for i, n in enumerate(names)}}


def _unit_metrics(rng: np.random.Generator, n_pass: int, n_fail: int) -> pd.DataFrame:
    """Quality and waveform metrics; the last ``n_fail`` units fail one default filter."""
    n = n_pass + n_fail
    m = pd.DataFrame(dict(
        cluster_id=np.arange(n), quality="good",
        firing_rate=np.round(rng.lognormal(np.log(2.2), 0.8, n), 3),  # spike-train rate where one exists
        isi_violations=np.minimum(rng.exponential(0.05, n), 0.49).round(4),
        presence_ratio=rng.uniform(0.95, 0.99, n).round(2),
        amplitude_cutoff=np.minimum(rng.exponential(0.02, n), 0.099).round(4),
        isolation_distance=np.maximum(rng.normal(50, 15, n), 5).round(2),
        l_ratio=rng.exponential(0.01, n).round(5), d_prime=np.maximum(rng.normal(4, 1, n), 0.5).round(3),
        nn_hit_rate=rng.uniform(0.7, 1, n).round(3), nn_miss_rate=rng.exponential(0.005, n).round(5),
        max_drift=rng.exponential(20, n).round(2), cumulative_drift=rng.exponential(150, n).round(2),
        silhouette_score=rng.uniform(0.05, 0.3, n).round(3),
        duration=np.where(rng.random(n) < 0.2, rng.normal(0.3, 0.05, n), rng.normal(0.7, 0.1, n)).round(4),
        halfwidth=rng.normal(0.25, 0.05, n).round(4), PT_ratio=rng.normal(0.5, 0.1, n).round(4),
        repolarization_slope=rng.normal(0.6, 0.2, n).round(4),
        recovery_slope=rng.normal(-0.1, 0.03, n).round(4),
        amplitude=np.maximum(rng.normal(150, 50, n), 30).round(2),
        spread=np.maximum(rng.normal(60, 20, n), 10).round(1),
        velocity_above=rng.normal(0.5, 0.5, n).round(4), velocity_below=rng.normal(0, 0.5, n).round(4),
        snr=np.maximum(rng.normal(3, 1, n), 0.5).round(3)))
    fail = np.arange(n_pass, n)
    which = rng.integers(0, 3, n_fail)
    m.loc[fail[which == 0], "amplitude_cutoff"] = rng.uniform(0.15, 0.5, (which == 0).sum()).round(4)
    m.loc[fail[which == 1], "presence_ratio"] = rng.uniform(0.5, 0.9, (which == 1).sum()).round(2)
    m.loc[fail[which == 2], "isi_violations"] = rng.uniform(0.6, 3.0, (which == 2).sum()).round(4)
    return m


def _numeric_columns(pres: pd.DataFrame) -> dict:
    return {c: pd.to_numeric(pres[c], errors="coerce").to_numpy()
            for c in ("orientation", "temporal_frequency", "spatial_frequency", "x_position",
                      "y_position", "color", "frame")}


def _tuning(rng: np.random.Generator, name: np.ndarray, num: dict, visual: bool) -> np.ndarray:
    """Relative drive (0..1.5) of one unit by each presentation, shape (n_presentations,).

    ``name`` holds the stimulus names and ``num`` the numeric stimulus columns
    (:func:`_numeric_columns`) of the presentations."""
    drive = np.zeros(name.size)
    pref_ori, kappa = rng.uniform(0, 360), rng.uniform(0.5, 3.0)

    def vonmises(delta, period):
        return np.exp(kappa * (np.cos(np.deg2rad(delta) * 360.0 / period) - 1))

    m = name == "drifting_gratings"
    d = num["orientation"][m] - pref_ori
    drive[m] = (vonmises(d, 360) + rng.uniform(0, 1) * vonmises(d - 180, 360)) * np.exp(
        -0.5 * np.log2(num["temporal_frequency"][m] / rng.choice([1.0, 2.0, 4.0, 8.0])) ** 2)
    m = name == "static_gratings"
    drive[m] = vonmises(num["orientation"][m] - pref_ori, 180) * np.exp(
        -0.5 * np.log2(num["spatial_frequency"][m] / rng.choice([0.02, 0.04, 0.08, 0.16])) ** 2)
    m = name == "gabors"
    rf = rng.uniform(-30, 30, 2)
    drive[m] = np.exp(-((num["x_position"][m] - rf[0]) ** 2 + (num["y_position"][m] - rf[1]) ** 2)
                      / (2 * rng.uniform(8, 20) ** 2))
    m = name == "flashes"
    drive[m] = np.where(num["color"][m] == rng.choice([-1.0, 1.0]), 1.5, 0.4)
    m = name == "natural_scenes"
    drive[m] = rng.gamma(0.5, 2.0, 119)[num["frame"][m].astype(int) + 1] * 0.8
    for movie, length in MOVIE_LENGTH.items():
        m = name == movie
        smooth = np.convolve(rng.gamma(0.3, 3.3, length), np.ones(5) / 5, "same")
        drive[m] = smooth[num["frame"][m].astype(int)] * 0.7
    drive = np.nan_to_num(drive)                # blank sweeps drive nothing
    return drive if visual else drive * 0.3


def make_spikes(rng: np.random.Generator, cfg: dict, pres: pd.DataFrame,
                structures: pd.Series) -> tuple[dict, dict]:
    """Spike times (s) and amplitudes (V) for the units in ``structures`` (unit id ->
    structure acronym): Poisson background plus stimulus-evoked Poisson spikes.

    Returns
    -------
    spike_times : dict unit id -> (n_spikes,) float64, sorted, on a grid of 2**-15 s
        (30.5 us, finer than the probes' 33 us samples; dyadic steps compress well)
    spike_amplitudes : dict unit id -> (n_spikes,) float32, V, 1% precision
    """
    u = cfg["units"]
    drive_by_area = cfg["area_drive"]
    t_end = float(cfg["recording_end_s"])
    start = pres["start_time"].to_numpy()
    stop = pres["stop_time"].to_numpy()
    name = pres["stimulus_name"].to_numpy()
    # flashes drive a 150 ms transient; everything else drives while on screen
    stop = np.where(name == "flashes", start + 0.15, stop)
    spont = name == "spontaneous"
    num = _numeric_columns(pres)
    area_gain = {area: pd.Series(name).map(gains).fillna(1.0).to_numpy()
                 for area, gains in drive_by_area.items()}
    times, amps = {}, {}
    for unit_id, area in structures.items():
        visual = area in drive_by_area
        base = rng.lognormal(np.log(u["rate_median_hz"]), u["rate_log_sd"])
        gain = rng.lognormal(np.log(u["visual_gain_median"] if visual else
                                    u["nonvisual_gain_median"]), 0.5)
        if rng.random() < u["unresponsive_fraction"]:
            gain *= 0.05
        latency = rng.uniform(0.03, 0.08) if visual else rng.uniform(0.06, 0.15)
        rate = np.where(spont, 0.0, gain * area_gain.get(area, 1.0) * _tuning(rng, name, num, visual))
        count = rng.poisson(rate * (stop - start))
        evoked = np.repeat(start + latency, count) + rng.random(count.sum()) * np.repeat(
            stop - start, count)
        background = rng.uniform(0.0, t_end, rng.poisson(base * t_end))
        st = np.unique(np.round(np.concatenate([background, evoked]) * TIME_GRID)) / TIME_GRID
        times[unit_id] = st[st < t_end]
        amps[unit_id] = keep_mantissa_bits(rng.normal(150e-6, 25e-6, st.size)[st < t_end], 7)
    return times, amps


def warehouse_tables(sessions: pd.DataFrame, probes: pd.DataFrame, channels: pd.DataFrame,
                     units: pd.DataFrame, known: dict) -> dict:
    """The four project tables in the shape the Allen warehouse serves them.

    ``EcephysProjectCache`` caches what ``EcephysProjectWarehouseApi`` returns
    (``get_sessions``, ``get_probes``, ``get_channels``, ``get_units``) and derives
    everything else itself: the per-session and per-probe counts and acronym lists, the
    ``_probe``/``_session`` merges, the ``waveform_*`` names, ``lfp_sampling_rate`` divided
    by ``lfp_temporal_subsampling_factor``. The course's shipped tables are that derived
    output, so they are turned back into the raw form here; writing them as they are
    would make AllenSDK merge and count a second time.

    Parameters
    ----------
    sessions, probes : the shipped (processed) tables, index ``id``
    channels, units : the sample's channels and units (index ``id``)
    known : real raw values known for some sessions, ``{"date_of_acquisition": {id:
        str}, "isi_experiment_id": {id: int}}``; other sessions get the placeholder
        ``known["date_of_acquisition_default"]`` and an ``isi_experiment_id`` of -1
        (AllenSDK hides ``isi_experiment_id`` from every table it returns)

    Returns
    -------
    dict name -> DataFrame (index ``id``) for ``sessions``, ``probes``, ``channels``, ``units``
    """
    dates = {int(k): v for k, v in known["date_of_acquisition"].items()}
    isi = {int(k): int(v) for k, v in known["isi_experiment_id"].items()}
    ids = sessions.index.to_series()
    raw_sessions = pd.DataFrame({
        "date_of_acquisition": ids.map(dates).fillna(known["date_of_acquisition_default"]),
        "isi_experiment_id": ids.map(isi).fillna(-1).astype(int),
        "published_at": sessions["published_at"],
        "specimen_id": sessions["specimen_id"],
        "session_type": sessions["session_type"],
        "age_in_days": sessions["age_in_days"],
        "sex": sessions["sex"],
        "genotype": sessions["full_genotype"],
        "has_nwb": True}, index=sessions.index)

    factor = 2.0                                 # LFP band stored at half the 2.5 kHz rate
    in_brain = channels["ecephys_structure_acronym"].notna()
    surface = (channels[in_brain].groupby("ecephys_probe_id")["local_index"].max() + 1)
    surface = surface.reindex(probes.index).fillna(0).astype(int)
    raw_probes = pd.DataFrame({
        "air_channel_index": np.minimum(surface + 20, probes["channel_count"]).astype(int),
        "ecephys_session_id": probes["ecephys_session_id"],
        "lfp_sampling_rate": probes["lfp_sampling_rate"] * factor,
        "lfp_temporal_subsampling_factor": factor,
        "name": probes["name"],
        "phase": probes["phase"],
        "sampling_rate": probes["sampling_rate"],
        "surface_channel_index": surface,
        "has_lfp_data": probes["has_lfp_data"]}, index=probes.index)

    raw_channels = channels[CHANNEL_COLUMNS]
    # The warehouse's unit columns, in its (alphabetical) order; local_index and
    # cluster_id live in the session NWB file only.
    raw_units = units[sorted(UNIT_COLUMNS)]
    for table in (raw_sessions, raw_probes, raw_channels, raw_units):
        table.index.name = "id"
    return {"sessions": raw_sessions, "probes": raw_probes, "channels": raw_channels,
            "units": raw_units}


CHANNEL_COLUMNS = ["ecephys_probe_id", "local_index", "probe_horizontal_position",
                   "probe_vertical_position", "anterior_posterior_ccf_coordinate",
                   "dorsal_ventral_ccf_coordinate", "left_right_ccf_coordinate",
                   "ecephys_structure_id", "ecephys_structure_acronym"]
UNIT_COLUMNS = ["PT_ratio", "amplitude", "amplitude_cutoff", "cumulative_drift", "d_prime",
                "duration", "ecephys_channel_id", "firing_rate", "halfwidth",
                "isi_violations", "isolation_distance", "l_ratio", "max_drift",
                "nn_hit_rate", "nn_miss_rate", "presence_ratio", "quality",
                "recovery_slope", "repolarization_slope", "silhouette_score", "snr",
                "spread", "velocity_above", "velocity_below"]


def make_running(rng: np.random.Generator, t_end: float, fs: float = 60.0) -> pd.DataFrame:
    """Running speed (cm/s) in AllenSDK's ecephys layout (start/end time, velocity)."""
    from scipy.signal import lfilter

    t = np.arange(0.0, t_end, 1.0 / fs)
    v = np.clip(lfilter([1.0], [1.0, -0.999], rng.normal(0, 0.6, t.size)) * 2.0, -5, None)
    v = np.round(v, 2)
    return pd.DataFrame(dict(start_time=t, end_time=t + 1.0 / fs, velocity=v,
                             net_rotation=np.round(v / fs / 8.0, 5)))
