"""Synthetic eye tracking for the ophys session, processed by AllenSDK's own pipeline.

Real Visual Behavior files carry the ellipse fits of an eye-tracking camera: the eye
opening, the pupil and the corneal reflection (``cr``), each as centre, width, height
and angle ``phi``, in camera pixels. AllenSDK builds ``experiment.eye_tracking`` from them
with ``process_eye_tracking_data`` (areas, outlier and blink detection) and writes it with
``EyeTrackingTable.to_nwb``. This module generates the raw fits and hands them to that
same function, so the table has the real 23 columns, dtypes and blink rule.

What is synthetic (none of it is a finding about mice): the sizes and positions, the
pupil's slow changes (made to follow running speed plus noise), the saccades and the
blinks. Values are rounded to 1/64 pixel and 1/4096 radian so the files compress.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter

_PARTS = ("cr", "eye", "pupil")
_FIELDS = ("center_x", "center_y", "width", "height", "phi")


def _ou(rng: np.random.Generator, n: int, dt: float, tau: float, sd: float) -> np.ndarray:
    """(n,) Ornstein-Uhlenbeck noise with time constant ``tau`` (s) and s.d. ``sd``."""
    a = np.exp(-dt / tau)
    x = lfilter([sd * np.sqrt(1 - a * a)], [1, -a], rng.standard_normal(n))
    return x


def _blink_mask(rng: np.random.Generator, n: int, rate_per_frame: float,
                min_frames: int, max_frames: int) -> np.ndarray:
    """(n,) bool, True on frames where the eye is closed (fits fail)."""
    starts = np.flatnonzero(rng.random(n) < rate_per_frame)
    lengths = rng.integers(min_frames, max_frames + 1, starts.size)
    change = np.zeros(n + 1, dtype=np.int64)
    np.add.at(change, starts, 1)
    np.add.at(change, np.minimum(starts + lengths, n), -1)
    return np.cumsum(change[:-1]) > 0


def raw_ellipse_fits(rng: np.random.Generator, cfg: dict, timestamps: np.ndarray,
                     running_speed: np.ndarray) -> pd.DataFrame:
    """Raw camera ellipse fits, as the eye-tracking pipeline hands them to AllenSDK.

    Parameters
    ----------
    rng : random generator
    cfg : the recipe's ``[ophys.eye_tracking]`` table
    timestamps : (n_frames,) float64, s, the camera's frame times
    running_speed : (n_frames,) float64, cm/s, running speed at those times

    Returns
    -------
    DataFrame, (n_frames, 15), index ``frame``: ``{cr,eye,pupil}_{center_x, center_y,
    width, height, phi}`` in pixels and radians; NaN on blink frames (failed fits).
    """
    n = timestamps.size
    dt = float(np.median(np.diff(timestamps))) if n > 1 else 1 / 60
    # Pupil size: a slow "arousal" signal that follows running, plus noise.
    arousal = np.tanh(lfilter([dt / 5.0], [1, dt / 5.0 - 1], running_speed / 20.0)
                      + _ou(rng, n, dt, 10.0, 0.4))
    radius = cfg["pupil_radius_px"] * (1 + cfg["pupil_dilation"] * arousal)
    # Gaze: fixations with saccades (jumps at random times), held between them.
    jumps = rng.random(n) < cfg["saccade_rate_hz"] * dt
    gaze = np.cumsum(np.where(jumps[:, None], rng.normal(0, cfg["saccade_px"], (n, 2)), 0),
                     axis=0)
    gaze -= lfilter([dt / 30.0], [1, dt / 30.0 - 1], gaze, axis=0)   # drifts back to centre
    eye_x, eye_y = cfg["eye_center_px"]
    eye_w, eye_h = cfg["eye_size_px"]
    jitter = lambda sd: rng.normal(0, sd, n)                          # noqa: E731
    fits = {
        "cr_center_x": eye_x - 12 + 0.2 * gaze[:, 0] + jitter(0.3),
        "cr_center_y": eye_y - 9 + 0.2 * gaze[:, 1] + jitter(0.3),
        "cr_width": 6.0 + jitter(0.2),
        "cr_height": 5.5 + jitter(0.2),
        "cr_phi": 0.1 + jitter(0.05),
        "eye_center_x": eye_x + _ou(rng, n, dt, 60.0, 1.0) + jitter(0.4),
        "eye_center_y": eye_y + _ou(rng, n, dt, 60.0, 1.0) + jitter(0.4),
        "eye_width": eye_w + jitter(0.8),
        "eye_height": eye_h + jitter(0.8),
        "eye_phi": 0.05 + jitter(0.01),
        "pupil_center_x": eye_x + gaze[:, 0] + jitter(0.3),
        "pupil_center_y": eye_y + gaze[:, 1] + jitter(0.3),
        "pupil_width": radius * 1.04 + jitter(0.3),
        "pupil_height": radius + jitter(0.3),
        "pupil_phi": 0.2 + jitter(0.05),
    }
    df = pd.DataFrame({k: np.round(v * (4096 if k.endswith("phi") else 64))
                       / (4096 if k.endswith("phi") else 64) for k, v in fits.items()})
    blink = _blink_mask(rng, n, cfg["blink_rate_hz"] * dt, *cfg["blink_frames"])
    df.loc[blink, [c for c in df if not c.startswith("eye_")]] = np.nan
    df.loc[blink, ["eye_width", "eye_height"]] = np.nan
    df.index.name = "frame"
    return df[[f"{p}_{f}" for p in _PARTS for f in _FIELDS]]


def process_fits(raw: pd.DataFrame, timestamps: np.ndarray, z_threshold: float = 3.0,
                 dilation_frames: int = 2) -> pd.DataFrame:
    """The ``eye_tracking`` table from raw fits: AllenSDK's ``process_eye_tracking_data``,
    vectorised, with the areas rounded to 1/64 pixel² so the files compress.

    The areas use AllenSDK's formulas (cr and eye: ellipse, pi * width * height; pupil:
    circle, pi * max(width, height)²); outliers, blinks and the blink filter are
    AllenSDK's own functions. AllenSDK's version computes the areas one row at a time
    (9 s for a session); ``tests/test_sample_contents.py`` checks that both agree.

    Parameters
    ----------
    raw : DataFrame from :func:`raw_ellipse_fits`, (n_frames, 15)
    timestamps : (n_frames,) float64, s
    z_threshold, dilation_frames : as in ``EyeTrackingTable.from_nwb``

    Returns
    -------
    DataFrame, (n_frames, 23), index ``frame``, columns in AllenSDK's order.
    """
    from allensdk.brain_observatory.behavior.eye_tracking_processing import (
        determine_likely_blinks, determine_outliers, filter_on_blinks)

    if len(raw) != len(timestamps):
        raise ValueError(f"{len(raw)} eye-tracking frames but {len(timestamps)} timestamps")
    data = raw.copy()

    def rounded(area):
        return pd.Series(np.round(area * 64) / 64, index=data.index)

    cr = rounded(np.pi * data["cr_width"] * data["cr_height"])
    eye = rounded(np.pi * data["eye_width"] * data["eye_height"])
    width, height = data["pupil_width"], data["pupil_height"]
    # AllenSDK takes Python's max(width, height): height only if height > width
    pupil = rounded(np.pi * np.where(height > width, height, width) ** 2)
    outliers = determine_outliers(pd.concat([eye, pupil], axis=1), z_threshold=z_threshold)
    blinks = determine_likely_blinks(eye, pupil, outliers, dilation_frames=dilation_frames)
    for position, (name, values) in enumerate(
            [("timestamps", np.asarray(timestamps, dtype=np.float64)), ("cr_area", cr),
             ("eye_area", eye), ("pupil_area", pupil), ("likely_blink", blinks),
             ("pupil_area_raw", pupil.copy()), ("cr_area_raw", cr.copy()),
             ("eye_area_raw", eye.copy())]):
        data.insert(position, name, values)
    filter_on_blinks(data)
    return data


def eye_tracking_table(rng: np.random.Generator, cfg: dict, stimulus_timestamps: np.ndarray,
                       running_speed: np.ndarray) -> pd.DataFrame:
    """The session's ``eye_tracking`` table, as AllenSDK's pipeline makes it.

    The camera runs at ``cfg["frame_rate_hz"]`` over the span of the stimulus clock.

    Returns
    -------
    DataFrame, index ``frame``: ``timestamps`` (s), the 15 fits, ``cr_area``,
    ``eye_area``, ``pupil_area`` (NaN on likely blinks) and their ``*_raw`` versions
    (pixels²), and bool ``likely_blink``: 23 columns, the order AllenSDK writes.
    """
    rate = float(cfg["frame_rate_hz"])
    start, stop = float(stimulus_timestamps[0]), float(stimulus_timestamps[-1])
    timestamps = start + np.arange(int((stop - start) * rate) + 1) / rate
    speed = np.interp(timestamps, stimulus_timestamps, running_speed)
    return process_fits(raw_ellipse_fits(rng, cfg, timestamps, speed), timestamps)
