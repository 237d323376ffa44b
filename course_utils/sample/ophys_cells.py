"""Synthetic cells of one imaging plane: events, dF/F and the other traces, ROI masks,
projections and motion, as NumPy arrays (no AllenSDK).

Shapes use ``n_cells`` (cells in the plane) and ``n_frames`` (imaging frames).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from .nwb_writing import keep_mantissa_bits
from .ophys_task import ChangeDetectionTask

RESPONSE_SHAPE = np.array([0.45, 0.35, 0.2])  # share of a flash response per frame


@dataclass
class PlaneCells:
    """Activity and anatomy of the cells in one plane.

    Attributes
    ----------
    dff, events : (n_cells, n_frames) float64, as in the released files
        dF/F (unitless) and detected event magnitudes (dF/F units).
    corrected, demixed, neuropil : (n_cells, n_frames) float32
        fluorescence traces (arbitrary units).
    noise_std : (n_cells,) float64, dF/F noise of each cell
    event_lambda : (n_cells,) float64, the event detector's penalty
    preferred_image : (n_cells,) int, index of the image each cell prefers
    roi_masks : (n_cells, fov, fov) bool
    max_projection, average_projection : (fov, fov) uint8
    motion : (n_frames, 2) int64, x and y shifts in pixels
    """

    dff: np.ndarray
    events: np.ndarray
    corrected: np.ndarray
    demixed: np.ndarray
    neuropil: np.ndarray
    noise_std: np.ndarray
    event_lambda: np.ndarray
    preferred_image: np.ndarray
    roi_masks: np.ndarray
    max_projection: np.ndarray
    average_projection: np.ndarray
    motion: np.ndarray


def sync_line(cfg: dict, group_count: int) -> np.ndarray:
    """Times (s) of the mesoscope's frame ticks, shape (n_ticks,), rounded to 10 us like
    the release: ``group_count`` ticks per plane frame, the first at group 0's first
    frame, minus ``sync_ticks_missing`` ticks at the end."""
    if group_count < 1:
        raise ValueError(f"group_count must be at least 1, got {group_count}")
    n_ticks = int(cfg["n_frames"]) * group_count - int(cfg.get("sync_ticks_missing", 0))
    tick = float(cfg["frame_interval_s"]) / group_count
    return np.round(cfg["first_frame_time_s"] + np.arange(n_ticks) * tick, 5)


def ophys_timestamps(cfg: dict, plane_group: int = 0, group_count: int = 1) -> np.ndarray:
    """Frame times (s) of a plane in imaging plane group ``plane_group``, shape (n_frames,).

    AllenSDK's rule for mesoscope sessions (``OphysTimestampsMultiplane.from_sync_file``):
    the groups' frames interleave on one sync line, and group g takes every
    ``group_count``-th tick starting at tick g.
    """
    if not 0 <= plane_group < group_count:
        raise ValueError(f"plane_group must be in [0, {group_count}), got {plane_group}")
    return sync_line(cfg, group_count)[plane_group::group_count]


def image_tuning(rng: np.random.Generator, n_cells: int, n_images: int, decay: float,
                 floor: float) -> np.ndarray:
    """Relative response of each cell to each image, shape (n_cells, n_images), max 1."""
    ranks = np.argsort(rng.random((n_cells, n_images)), axis=1)   # random image order
    tuning = np.exp(-decay * ranks)
    return np.maximum(tuning, floor)


def expected_events(rng: np.random.Generator, cfg: dict, task: ChangeDetectionTask,
                    t: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected number of events per frame, shape (n_cells, n_frames), and the
    preferred image of each cell."""
    c = cfg["cells"]
    dt = float(cfg["frame_interval_s"])
    n_images = len(task.image_names)
    tuning = image_tuning(rng, n_cells, n_images, c["tuning_decay"], c["nonpreferred_floor"])
    amp = c["image_response_events"] * rng.lognormal(0.0, 0.3, n_cells)
    change_gain = rng.uniform(*c["change_gain_range"], n_cells)
    omission_amp = np.where(rng.random(n_cells) < c["omission_cell_fraction"],
                            c["omission_response_events"] * rng.lognormal(0.0, 0.3, n_cells),
                            0.0)
    running_gain = rng.uniform(*c["running_gain_range"], n_cells)

    speed = np.interp(t, task.stimulus_timestamps, task.running_speed)
    running = np.clip(speed / 20.0, 0.0, 2.0)
    rate = c["baseline_event_rate_hz"] * dt * np.clip(1.0 + running_gain[:, None] * running,
                                                      0.1, None)

    fl = task.flashes
    shown = ~fl["omitted"].to_numpy()
    image = fl["image_index"].to_numpy()
    per_flash = np.where(shown[None, :],
                         amp[:, None] * tuning[:, np.where(shown, image, 0)],
                         omission_amp[:, None])
    per_flash = per_flash * np.where(fl["is_change"].to_numpy()[None, :], change_gain[:, None], 1.0)
    per_flash = per_flash * rng.lognormal(0.0, 0.25, per_flash.shape)   # trial-to-trial gain
    first = np.searchsorted(t, fl["start_time"].to_numpy() + c["response_latency_s"])
    for lag, share in enumerate(RESPONSE_SHAPE):
        frames = first + lag
        ok = frames < t.size
        np.add.at(rate, (slice(None), frames[ok]), share * per_flash[:, ok])
    return rate, np.argmax(tuning, axis=1)


def gcamp_filter(events: np.ndarray, dt: float, rise: float, decay: float) -> np.ndarray:
    """Convolve event trains (..., n_frames) with a unit-peak difference-of-exponentials
    kernel along the last axis, as two first-order recursive filters."""
    a_decay, a_rise = np.exp(-dt / decay), np.exp(-dt / rise)
    slow = lfilter([1.0], [1.0, -a_decay], events, axis=-1)
    fast = lfilter([1.0], [1.0, -a_rise], events, axis=-1)
    k = np.arange(200)
    peak = np.max(a_decay ** k - a_rise ** k)
    return (slow - fast) / peak


def make_plane_cells(rng: np.random.Generator, cfg: dict, task: ChangeDetectionTask,
                     t: np.ndarray, n_cells: int) -> PlaneCells:
    """Generate every array of one plane with ``n_cells`` cells."""
    c = cfg["cells"]
    dt = float(cfg["frame_interval_s"])
    rate, preferred = expected_events(rng, cfg, task, t, n_cells)
    counts = rng.poisson(rate)
    size = rng.gamma(np.maximum(4.0 * counts, 1e-3), c["event_size_mean"] / 4.0)
    true_events = np.where(counts > 0, size, 0.0)

    noise_std = rng.uniform(*c["noise_std_range"], n_cells)
    drift = lfilter([1.0], [1.0, -0.999], rng.normal(0.0, c["drift_std"] * 0.045,
                                                     (n_cells, t.size)), axis=-1)
    dff = gcamp_filter(true_events, dt, c["rise_time_s"], c["decay_time_s"])
    dff = dff + drift + rng.normal(0.0, 1.0, dff.shape) * noise_std[:, None]
    detected = np.where(true_events > 2.0 * noise_std[:, None], true_events, 0.0)

    f0 = rng.uniform(150.0, 400.0, n_cells)[:, None]
    neuropil = f0 * 0.6 * (1.0 + 0.5 * drift)
    corrected = f0 * (1.0 + dff)
    demixed = corrected + 0.7 * neuropil

    fov = int(cfg["field_of_view_px"])
    masks = roi_masks(rng, n_cells, fov)
    max_proj, avg_proj = projections(rng, masks)
    motion = np.round(lfilter([1.0], [1.0, -0.98], rng.normal(0, 0.4, (2, t.size)),
                              axis=-1)).astype(np.int64).T

    def f32(x):
        return keep_mantissa_bits(x.astype(np.float32))

    # Released files store dF/F and events as float64; values rounded to float32's
    # 12 kept mantissa bits keep the files small (gzip) and lose nothing visible.
    return PlaneCells(
        dff=f32(dff).astype(np.float64), events=f32(detected).astype(np.float64), corrected=f32(corrected), demixed=f32(demixed),
        neuropil=f32(neuropil), noise_std=noise_std,
        event_lambda=rng.uniform(0.01, 0.05, n_cells), preferred_image=preferred,
        roi_masks=masks, max_projection=max_proj, average_projection=avg_proj,
        motion=motion)


def roi_masks(rng: np.random.Generator, n_cells: int, fov: int) -> np.ndarray:
    """Non-overlapping elliptical somata, shape (n_cells, fov, fov) bool."""
    yy, xx = np.mgrid[0:fov, 0:fov]
    masks = np.zeros((n_cells, fov, fov), dtype=bool)
    taken = np.zeros((fov, fov), dtype=bool)
    i = 0
    while i < n_cells:
        cy, cx = rng.uniform(30, fov - 30, 2)
        ry, rx = rng.uniform(5.0, 9.0, 2)
        theta = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = (dx * np.cos(theta) + dy * np.sin(theta)) / rx
        v = (-dx * np.sin(theta) + dy * np.cos(theta)) / ry
        mask = u ** 2 + v ** 2 <= 1.0
        if (mask & taken).any():
            continue
        masks[i] = mask
        taken |= mask
        i += 1
    return masks


def projections(rng: np.random.Generator, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Max and average projections (uint8): tissue texture, dark vessels, bright cells."""
    from scipy.ndimage import gaussian_filter

    fov = masks.shape[-1]
    tissue = gaussian_filter(rng.normal(0, 1, (fov, fov)), 6) * 8 + 0.35
    vessels = gaussian_filter((rng.random((fov, fov)) < 0.0008).astype(float), 4) * 60
    cells = gaussian_filter(masks.sum(axis=0).astype(float), 1.5)
    avg = np.clip(tissue - np.clip(vessels, 0, 0.25) + 0.35 * cells, 0, None)
    mx = avg + 0.45 * cells * rng.uniform(0.6, 1.0)
    scale = 255.0 / mx.max()
    noise = rng.normal(0, 2.0, (2, fov, fov))
    to_u8 = lambda img, n: np.clip(img * scale + n, 0, 255).astype(np.uint8)  # noqa: E731
    return to_u8(mx, noise[0]), to_u8(avg, noise[1])


def image_templates(rng: np.random.Generator, n_images: int, shape: tuple[int, int]
                    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Natural-looking grayscale images.

    Returns
    -------
    warped : list of (h, w) uint8, as shown on the monitor
    unwarped : list of (h, w) float32, NaN where the warp leaves the screen
    """
    from scipy.ndimage import gaussian_filter

    h, w = shape
    block = 4          # drawn at 1/4 resolution, shown in 4x4 pixel blocks: compresses well
    small = (-(-h // block), -(-w // block))
    yy, xx = np.mgrid[0:h, 0:w]
    visible = ((yy - h / 2) / (0.62 * h)) ** 2 + ((xx - w / 2) / (0.52 * w)) ** 2 <= 1.0
    warped, unwarped = [], []
    for _ in range(n_images):
        base = sum(gaussian_filter(rng.normal(0, 1, small), s) * s for s in (1, 3, 9))
        base = (base - base.min()) / np.ptp(base)
        img = np.round(base * 255).repeat(block, 0).repeat(block, 1)[:h, :w]
        warped.append(img.astype(np.uint8))
        unwarped.append(np.where(visible, img, np.nan).astype(np.float32))
    return warped, unwarped
