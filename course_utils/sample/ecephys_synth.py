"""Synthetic Visual Coding Neuropixels data as NumPy/pandas (no AllenSDK).

* :func:`make_presentations`: a brain_observatory_1.1 stimulus table from the recipe's
  epochs (one row per presentation, one per spontaneous gap).
* :func:`make_anatomy`: channels and unit metadata for every probe of the real
  ``probes.csv`` (all sessions), so AllenSDK's session table recomputes the real counts.
* :func:`make_spikes`: spike trains for the units of the one session shipped as NWB.

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
# (on-screen time, period) of one presentation, s; period > on leaves a gray gap.
TIMING = {"gabors": (0.25, 0.25), "flashes": (0.25, 2.0), "drifting_gratings": (2.0, 3.0),
          "static_gratings": (0.25, 0.25), "natural_scenes": (0.25, 0.25),
          "natural_movie_one": (1 / 30, 1 / 30), "natural_movie_three": (1 / 30, 1 / 30)}
MOVIE_LENGTH = {"natural_movie_one": 900, "natural_movie_three": 3600}


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
        return dict(orientation=rng.choice(np.arange(0.0, 180.0, 30.0), n),
                    spatial_frequency=rng.choice([0.02, 0.04, 0.08, 0.16, 0.32], n),
                    phase=rng.choice(["0.0", "0.25", "0.5", "0.75"], n), contrast=0.8,
                    size="[250.0, 250.0]")
    raise ValueError(f"unknown stimulus {name!r}; known: {sorted(TIMING)}")


def make_presentations(rng: np.random.Generator, cfg: dict) -> pd.DataFrame:
    """Stimulus presentations of the session, index ``id``, sorted by start time.

    Each epoch of the recipe becomes ``n`` presentations, evenly spaced so that the first
    starts at the epoch's start and the last stops at its end; each gap between epochs
    becomes one ``spontaneous`` row (``stimulus_block`` NaN).
    """
    epochs = cfg["epochs"]
    starts = np.array([e["start_s"] for e in epochs])
    stops = starts + np.array([e["duration_s"] for e in epochs])
    if np.any(np.diff(starts) <= 0) or np.any(stops[:-1] > starts[1:]):
        raise ValueError("recipe epochs must be in time order and must not overlap")
    frames, t_prev = [], float(cfg["first_spontaneous_start_s"])
    for block, (e, start, stop) in enumerate(zip(epochs, starts, stops)):
        if start > t_prev:
            frames.append(pd.DataFrame(dict(start_time=[t_prev], stop_time=[start],
                                            stimulus_name="spontaneous", stimulus_block=np.nan)))
        on, period = TIMING[e["name"]]
        n = int(np.floor((stop - start - on) / period + 1e-9)) + 1
        onsets = start + np.arange(n) * ((stop - start - on) / (n - 1) if n > 1 else 0.0)
        offsets = onsets + on
        if on == period:                         # contiguous: each ends where the next starts
            offsets = np.append(onsets[1:], stop)
        offsets[-1] = stop
        frames.append(pd.DataFrame(dict(start_time=onsets, stop_time=offsets,
                                        stimulus_name=e["name"], stimulus_block=float(block),
                                        **_conditions(rng, e["name"], n))))
        t_prev = stop
    end = t_prev + float(cfg["final_spontaneous_s"])
    frames.append(pd.DataFrame(dict(start_time=[t_prev], stop_time=[end],
                                    stimulus_name="spontaneous", stimulus_block=np.nan)))
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


def make_anatomy(rng: np.random.Generator, probes: pd.DataFrame, session_id: int,
                 visual_counts: dict, failing_fraction: float
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Channels and units (warehouse column names) for every probe in ``probes``.

    Each probe gets its real ``channel_count`` channels and ``unit_count`` units that pass
    AllenSDK's default quality filters, plus ``failing_fraction`` more that fail one.
    In ``session_id``, units in each visual area number exactly ``visual_counts``.

    Returns
    -------
    channels : DataFrame indexed by ``id``
    units : DataFrame indexed by ``id``; column ``ecephys_channel_id`` links to channels
    """
    chan_frames, unit_frames = [], []
    next_channel, next_unit = FIRST_CHANNEL_ID, FIRST_UNIT_ID
    for probe_id, probe in probes.iterrows():
        n_ch = int(probe["channel_count"])
        acr = _channel_structures(parse_acronyms(probe["ecephys_structure_acronyms"]), n_ch)
        ch_ids = next_channel + np.arange(n_ch)
        next_channel += n_ch
        chan_frames.append(pd.DataFrame(dict(
            id=ch_ids, ecephys_probe_id=probe_id, local_index=np.arange(n_ch),
            probe_horizontal_position=np.array([43, 11, 59, 27])[np.arange(n_ch) % 4],
            probe_vertical_position=20 * (np.arange(n_ch) // 2) + 20,
            anterior_posterior_ccf_coordinate=np.where(acr != None, 8000 + rng.normal(0, 300), np.nan),  # noqa: E711
            dorsal_ventral_ccf_coordinate=np.where(acr != None, 4000 - 10.0 * np.arange(n_ch), np.nan),  # noqa: E711
            left_right_ccf_coordinate=np.where(acr != None, 7500 + rng.normal(0, 300), np.nan),  # noqa: E711
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
        n_fail = int(round(failing_fraction * n_pass))
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
    t_end = float(pres["stop_time"].iloc[-1])
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


def make_running(rng: np.random.Generator, t_end: float, fs: float = 60.0) -> pd.DataFrame:
    """Running speed (cm/s) in AllenSDK's ecephys layout (start/end time, velocity)."""
    from scipy.signal import lfilter

    t = np.arange(0.0, t_end, 1.0 / fs)
    v = np.clip(lfilter([1.0], [1.0, -0.999], rng.normal(0, 0.6, t.size)) * 2.0, -5, None)
    v = np.round(v, 2)
    return pd.DataFrame(dict(start_time=t, end_time=t + 1.0 / fs, velocity=v,
                             net_rotation=np.round(v / fs / 8.0, 5)))
