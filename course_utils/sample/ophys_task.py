"""Synthetic change-detection session: stimulus clock, image flashes, trials, licks,
rewards and running, as NumPy/pandas (no AllenSDK). Shared by all imaging planes.

Times are seconds on the session clock; stimulus frames are 60 Hz display frames.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import lfilter

MOVIE_FRAMES = 900          # natural_movie_one: 900 frames at 30 Hz
MOVIE_FRAME_DISPLAY = 2     # each movie frame lasts 2 display frames


@dataclass
class ChangeDetectionTask:
    """Everything a session's planes share.

    Attributes
    ----------
    stimulus_timestamps : (n_display_frames,) float64, s (vsync times, no monitor delay)
    monitor_delay : float, s
    presentations : DataFrame, one row per presentation (gray, flashes, movie frames), in
        the columns AllenSDK's ``Presentations`` object takes
    flashes : DataFrame, one row per image flash: ``start_time``, ``image_index`` (-1 when
        omitted), ``omitted``, ``is_change``
    trials, licks, rewards : DataFrames in AllenSDK's column layout
    running_speed : (n_display_frames,) float64, cm/s
    image_names : list of str
    eye_tracking_source : (SeedSequence, dict) or None: the random stream and recipe table
        the session's eye tracking is drawn from (see :meth:`eye_tracking`); None for a
        session without eye tracking. Kept instead of the 50 MB table, so each process
        that writes a plane draws it itself rather than receiving a copy.
    """

    stimulus_timestamps: np.ndarray
    monitor_delay: float
    presentations: pd.DataFrame
    flashes: pd.DataFrame
    trials: pd.DataFrame
    licks: pd.DataFrame
    rewards: pd.DataFrame
    running_speed: np.ndarray
    image_names: list
    eye_tracking_source: tuple | None = None

    def eye_tracking(self) -> pd.DataFrame | None:
        """The session's ``eye_tracking`` table (identical on every call), or None."""
        if self.eye_tracking_source is None:
            return None
        from .ophys_eye import eye_tracking_table

        seed, cfg = self.eye_tracking_source
        return eye_tracking_table(np.random.default_rng(seed), cfg,
                                  self.stimulus_timestamps, self.running_speed)


def _flash_sequence(rng: np.random.Generator, cfg: dict, n_images: int):
    """Image shown at each flash, organised in trials.

    Returns
    -------
    image : (n_flashes,) int, image index shown (before omissions)
    trials : list of dict with the flash indices of each trial
    """
    beh = cfg["behavior"]
    n = int(cfg["n_flashes"])
    image = np.empty(n, dtype=np.int64)
    trials = []
    current = int(rng.integers(n_images))
    k = 0
    while k < n:
        wait = beh["change_after_flashes_min"] + rng.geometric(beh["change_geometric_p"]) - 1
        wait = int(min(wait, beh["change_after_flashes_max"]))
        start = k
        if rng.random() < beh["abort_probability"]:
            stop = min(k + int(rng.integers(1, wait)), n)   # early lick, no change
            image[k:stop] = current
            trials.append(dict(start=start, change=None, stop=stop, aborted=True, catch=False))
            k = stop
            continue
        change = k + wait
        if change + 1 >= n:
            image[k:] = current
            break
        catch = bool(rng.random() < beh["catch_probability"])
        new = current if catch else int((current + rng.integers(1, n_images)) % n_images)
        image[k:change] = current
        image[change] = new
        current = new
        stop = min(change + 4, n)                            # response window and reward
        image[change:stop] = current
        trials.append(dict(start=start, change=change, stop=stop, aborted=False, catch=catch))
        k = stop
    return image, trials


def _omissions(rng: np.random.Generator, p: float, trials: list, n: int) -> np.ndarray:
    """Omit flashes at random, but never a change flash or the flash just before it."""
    omitted = rng.random(n) < p
    omitted[0] = False
    protect = [i for t in trials if t["change"] is not None for i in (t["change"] - 1, t["change"])]
    omitted[protect] = False
    return omitted


def make_task(rng: np.random.Generator, cfg: dict) -> ChangeDetectionTask:
    """Build the shared stimulus and behaviour of the ophys session from its recipe."""
    names = list(cfg["images"])
    dt = float(cfg["stimulus_frame_interval_s"])
    delay = float(cfg["monitor_delay_s"])
    f0 = int(cfg["first_flash_frame"])
    period, on = int(cfg["flash_period_frames"]), int(cfg["flash_frames_on"])
    n_flashes = int(cfg["n_flashes"])

    # Place the stimulus clock so that flash 0 (display frame f0) appears at the real
    # session's time, as in the walkthrough's stimulus table.
    clock0 = float(cfg["first_flash_time_s"]) - delay - f0 * dt

    f_gray2 = f0 + n_flashes * period
    f_movie = f_gray2 + int(round(cfg["gray_after_behavior_s"] / dt))
    n_movie = int(cfg["movie_repeats"]) * MOVIE_FRAMES
    n_display = f_movie + n_movie * MOVIE_FRAME_DISPLAY + 1
    stim_ts = clock0 + np.arange(n_display) * dt

    image, trials = _flash_sequence(rng, cfg, len(names))
    omitted = _omissions(rng, float(cfg["omission_probability"]), trials, n_flashes)
    is_change = np.zeros(n_flashes, dtype=bool)
    for t in trials:
        if t["change"] is not None and not t["catch"]:
            is_change[t["change"]] = True

    start_frame = f0 + np.arange(n_flashes) * period
    flash_start = stim_ts[start_frame] + delay
    flashes = pd.DataFrame(dict(
        start_time=flash_start,
        image_index=np.where(omitted, -1, image),
        omitted=omitted,
        is_change=is_change,
    ))

    presentations = _presentations(cfg, names, stim_ts, delay, image, omitted, start_frame,
                                   on, f_gray2, f_movie, n_movie)
    trials_df, licks, rewards = _behavior(rng, cfg, trials, flash_start, start_frame,
                                          stim_ts, names, image)
    running = _running(rng, n_display)
    return ChangeDetectionTask(stim_ts, delay, presentations, flashes, trials_df, licks,
                               rewards, running, names)


def _presentations(cfg, names, stim_ts, delay, image, omitted, start_frame, on, f_gray2,
                   f_movie, n_movie) -> pd.DataFrame:
    n = len(image)
    blank = dict(omitted=np.nan, image_name=np.nan, image_index=-99, movie_frame_index=-99,
                 movie_repeat=-99, is_image_novel=np.nan)
    gray1 = dict(stimulus_block=0, stimulus_block_name="initial_gray_screen_5min",
                 stimulus_name="spontaneous", start_frame=0, end_frame=int(start_frame[0]),
                 **blank)
    flashes = pd.DataFrame(dict(
        stimulus_block=1, stimulus_block_name="change_detection_behavior",
        stimulus_name=cfg["image_set_name"], start_frame=start_frame,
        end_frame=start_frame + on, omitted=omitted.astype(float),
        image_name=np.where(omitted, "omitted", np.asarray(names)[image]),
        image_index=np.where(omitted, len(names), image),
        movie_frame_index=-99, movie_repeat=-99,
        # AllenSDK maps image names to novelty; "omitted" is no image, so it stays <NA>
        is_image_novel=np.where(omitted, np.nan, 0.0)))
    gray2 = dict(stimulus_block=2, stimulus_block_name="post_behavior_gray_screen_5min",
                 stimulus_name="spontaneous", start_frame=f_gray2, end_frame=f_movie, **blank)
    movie_idx = np.arange(n_movie)
    movie = pd.DataFrame(dict(
        stimulus_block=3, stimulus_block_name="natural_movie_one",
        stimulus_name="natural_movie_one",
        start_frame=f_movie + movie_idx * MOVIE_FRAME_DISPLAY,
        end_frame=f_movie + (movie_idx + 1) * MOVIE_FRAME_DISPLAY,
        omitted=np.nan, image_name=np.nan, image_index=-99,
        movie_frame_index=movie_idx % MOVIE_FRAMES, movie_repeat=movie_idx // MOVIE_FRAMES,
        is_image_novel=np.nan))
    pres = pd.concat([pd.DataFrame([gray1]), flashes, pd.DataFrame([gray2]), movie],
                     ignore_index=True)
    pres["start_time"] = stim_ts[pres["start_frame"].to_numpy()] + delay
    pres["stop_time"] = stim_ts[pres["end_frame"].to_numpy()] + delay
    pres["duration"] = pres["stop_time"] - pres["start_time"]
    for col in ("omitted", "is_image_novel"):
        pres[col] = pres[col].astype("boolean")
    assert len(pres) == n + 2 + n_movie
    return pres


def _behavior(rng, cfg, trials, flash_start, start_frame, stim_ts, names, image):
    """Trials table, licks and rewards for the trial structure."""
    beh = cfg["behavior"]
    rows, licks, rewards = [], [], []
    last = len(flash_start) - 1
    for t in trials:
        start_time = flash_start[t["start"]]
        stop_time = flash_start[min(t["stop"], last)]
        row = dict(start_time=start_time, stop_time=stop_time,
                   initial_image_name=names[image[t["start"]]],
                   change_image_name=names[image[t["change"]]] if t["change"] is not None
                   else names[image[t["start"]]],
                   stimulus_change=False, change_time=np.nan, go=False, catch=False,
                   lick_times=np.array([]), response_time=np.nan,
                   # AllenSDK: NaN on aborted trials, inf on go/catch trials without a lick
                   response_latency=np.nan if t["aborted"] else np.inf,
                   reward_time=np.nan, reward_volume=0.0, hit=False, false_alarm=False,
                   miss=False, correct_reject=False, aborted=t["aborted"],
                   auto_rewarded=False, change_frame=-99)
        if t["aborted"]:
            lick = flash_start[min(t["stop"], last)] - rng.uniform(0.05, 0.6)
            trial_licks = lick + np.cumsum(rng.exponential(0.15, int(rng.integers(1, 4))))
        else:
            change_time = flash_start[t["change"]]
            go = not t["catch"]
            p = beh["hit_probability"] if go else beh["false_alarm_probability"]
            responded = bool(rng.random() < p)
            row.update(stimulus_change=go, change_time=change_time, go=go,
                       catch=t["catch"], change_frame=int(start_frame[t["change"]]),
                       hit=go and responded, miss=go and not responded,
                       false_alarm=t["catch"] and responded,
                       correct_reject=t["catch"] and not responded)
            trial_licks = np.array([])
            if responded:
                response = change_time + rng.uniform(0.3, 0.7)
                trial_licks = response + np.concatenate(
                    [[0.0], np.cumsum(rng.exponential(0.13, int(rng.integers(2, 8))))])
                row.update(response_time=response, response_latency=response - change_time)
                if go:
                    reward_time = response + 0.01
                    row.update(reward_time=reward_time, reward_volume=beh["reward_volume_ml"])
                    rewards.append(dict(volume=beh["reward_volume_ml"], timestamps=reward_time,
                                        auto_rewarded=False))
        row["lick_times"] = np.asarray(trial_licks, dtype=float)
        licks.append(trial_licks)
        rows.append(row)
    trials_df = pd.DataFrame(rows)
    trials_df["trial_length"] = trials_df["stop_time"] - trials_df["start_time"]
    trials_df.index.name = "trials_id"
    lick_times = np.sort(np.concatenate(licks)) if licks else np.array([])
    lick_times = lick_times[lick_times < stim_ts[-1]]
    licks_df = pd.DataFrame(dict(timestamps=lick_times,
                                 frame=np.searchsorted(stim_ts, lick_times)))
    rewards_df = pd.DataFrame(rewards, columns=["volume", "timestamps", "auto_rewarded"])
    return trials_df, licks_df, rewards_df


def _running(rng: np.random.Generator, n: int) -> np.ndarray:
    """Running speed (cm/s) at each display frame: bouts of running and rest."""
    slow = lfilter([1.0], [1.0, -0.9995], rng.normal(0.0, 0.6, n))
    speed = np.clip(slow * 2.0, -3.0, None) + rng.normal(0.0, 1.0, n)
    return np.round(speed, 2)
