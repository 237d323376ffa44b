"""The offline sample, read through the real AllenSDK cache classes, mirrors the
walkthrough sessions and carries structure a course can find."""
import numpy as np
import pandas as pd
import pytest
from allensdk.brain_observatory.behavior.behavior_project_cache import (
    VisualBehaviorOphysProjectCache)
from allensdk.brain_observatory.ecephys.ecephys_project_cache import EcephysProjectCache

from course_utils.metadata import VISUAL_AREAS, read_table, sessions_with_areas

from conftest import EXPERIMENTS, OPHYS_SESSION

IMAGES_B = ["im000", "im106", "im075", "im073", "im045", "im054", "im031", "im035"]
EPOCH_STARTS = [84.49618798636119, 1285.4833979863608, 1585.7344179863614,
                2216.2614979863615, 2846.7885979863613, 3177.0646879863616,
                4077.8343479863615, 4708.361437986361, 5398.938717986361, 5909.365397986361,
                6690.017947986361, 7200.444627986361, 7710.871347986361, 8041.147407986361,
                8611.624247986361]
GROUPS = {854759890: 0, 854759894: 0, 854759896: 1, 854759898: 1, 854759900: 2,
          854759903: 2}          # imaging_plane_group in the real experiment table
AREA_COUNTS = {"VISp": 51, "VISl": 30, "VISrl": 24, "VISal": 51, "VISpm": 90, "VISam": 72}


# ----------------------------------------------------------------- Visual Behavior 2P
def test_ophys_cache_is_the_real_allensdk_class_with_real_tables(ophys_cache):
    assert isinstance(ophys_cache, VisualBehaviorOphysProjectCache)
    sessions = ophys_cache.get_ophys_session_table()
    assert sessions.shape[0] == 704
    assert list(sessions.loc[OPHYS_SESSION, "ophys_experiment_id"]) == EXPERIMENTS
    experiments = ophys_cache.get_ophys_experiment_table()
    assert experiments.shape[0] == 1941
    assert ophys_cache.get_ophys_cells_table().shape[0] == 133135


def test_planes_mirror_the_real_session(ophys_experiments):
    cells = read_table("vbo_ophys_cells_table")
    depths = {854759890: 275, 854759894: 179, 854759896: 350, 854759898: 83,
              854759900: 283, 854759903: 167}
    for exp_id, exp in ophys_experiments.items():
        real = cells[cells.ophys_experiment_id == exp_id]
        assert sorted(exp.dff_traces.index) == sorted(real.cell_specimen_id)
        assert sorted(exp.dff_traces.cell_roi_id) == sorted(real.cell_roi_id)
        assert exp.metadata["imaging_depth"] == depths[exp_id]
        assert exp.metadata["targeted_structure"] == ("VISl" if exp_id >= 854759900 else "VISp")
        assert exp.metadata["ophys_session_id"] == OPHYS_SESSION
        assert exp.metadata["cre_line"] == "Sst-IRES-Cre"
        assert exp.metadata["equipment_name"] == "MESO.1"
        t = exp.ophys_timestamps
        group = GROUPS[exp_id]
        assert exp.metadata["imaging_plane_group"] == group
        assert exp.metadata["imaging_plane_group_count"] == 3
        # group g's frames come g thirds of a frame after group 0's (one sync line)
        assert t.shape == (48331,) and t[0] == pytest.approx(10.52216 + group * 0.09322 / 3,
                                                             abs=1e-5)
        assert np.diff(t).mean() == pytest.approx(0.09322, abs=1e-6)
        assert set(exp.events.columns) >= {"events", "filtered_events"}
        assert np.stack(exp.events.events.to_numpy()).shape == (len(real), 48331)
        assert exp.cell_specimen_table.roi_mask.iloc[0].shape == (512, 512)
        assert np.asarray(exp.max_projection).shape == (512, 512)


def test_tidy_table_of_all_planes_has_the_walkthrough_size(ophys_experiments):
    rows = sum(len(e.dff_traces) * len(e.ophys_timestamps) for e in ophys_experiments.values())
    cells = set().union(*(e.dff_traces.index for e in ophys_experiments.values()))
    assert rows == 2_561_543
    assert len(cells) == 53


def test_stimulus_table_and_templates(ophys_experiments):
    exp = ophys_experiments[EXPERIMENTS[0]]
    flashes = exp.stimulus_presentations.query("stimulus_block_name == 'change_detection_behavior'")
    assert flashes.start_time.iloc[0] == pytest.approx(310.55053, abs=1e-5)
    assert flashes.duration.median() == pytest.approx(0.25, abs=0.002)
    assert np.diff(flashes.start_time).min() == pytest.approx(0.75, abs=0.002)
    assert 0.03 < flashes.omitted.mean() < 0.07
    assert set(flashes.image_name) == set(IMAGES_B) | {"omitted"}
    assert 4700 <= len(flashes) <= 4900
    assert flashes.is_change.sum() > 300
    assert list(exp.stimulus_templates.index) == IMAGES_B
    assert exp.stimulus_templates.warped.iloc[0].shape == (1200, 1920)
    assert exp.trials.hit.sum() > 100 and len(exp.licks) > 500 and len(exp.rewards) > 100
    assert len(exp.running_speed) > 200_000


def _flash_responses(exp, window=(0.1, 0.6)):
    """Mean dF/F per (cell, flash) in ``window`` after each flash."""
    t = exp.ophys_timestamps
    dff = np.stack(exp.dff_traces.dff.to_numpy())
    fl = exp.stimulus_presentations.query("stimulus_block_name == 'change_detection_behavior'")
    lo = np.searchsorted(t, fl.start_time.to_numpy() + window[0])
    hi = np.searchsorted(t, fl.start_time.to_numpy() + window[1])
    cs = np.concatenate([np.zeros((dff.shape[0], 1)), np.cumsum(dff, axis=1)], axis=1)
    return (cs[:, hi] - cs[:, lo]) / (hi - lo), fl.reset_index(drop=True)


def test_cells_are_image_selective_with_cell_specific_change_and_omission_responses(
        ophys_experiments):
    selective, change_mod, omission = [], [], []
    for exp in ophys_experiments.values():
        resp, fl = _flash_responses(exp)
        shown = ~fl.omitted.astype(bool)
        by_image = pd.DataFrame(resp[:, shown].T).groupby(fl.image_name[shown].to_numpy()).mean()
        selective += list((by_image.max() - by_image.median()) / resp.std(axis=1))
        change = fl.is_change.to_numpy() & shown
        repeat = ~fl.is_change.to_numpy() & shown
        change_mod += list(resp[:, change].mean(1) - resp[:, repeat].mean(1))
        omission += list(resp[:, fl.omitted.astype(bool)].mean(1) - resp[:, repeat].mean(1))
    selective, change_mod, omission = map(np.asarray, (selective, change_mod, omission))
    assert np.median(selective) > 0.3          # the preferred image stands out
    assert (change_mod > 0.02).sum() >= 10 and (change_mod < 0.01).sum() >= 5   # differs by cell
    assert (omission > 0.0).sum() >= 5 and (omission < 0.0).sum() >= 5
    all_dff = np.concatenate([np.stack(e.dff_traces.dff.to_numpy()).ravel()
                              for e in ophys_experiments.values()])
    assert 0.05 < np.std(all_dff) < 0.5        # plausible dF/F scale


def test_eye_tracking_is_the_session_camera_processed_as_allensdk_does(ophys_experiments):
    tables = [exp.eye_tracking for exp in ophys_experiments.values()]
    first = tables[0]
    for other in tables[1:]:          # one camera per session: every plane carries it
        pd.testing.assert_frame_equal(other, first)
    assert first.index.name == "frame" and first["likely_blink"].dtype == bool
    t = first["timestamps"].to_numpy()
    assert np.diff(t).mean() == pytest.approx(1 / 60, rel=1e-6)       # 60 Hz camera
    stimulus = next(iter(ophys_experiments.values())).stimulus_timestamps
    # the camera spans the session (stimulus times include the 21 ms monitor delay)
    assert abs(t[0] - stimulus[0]) < 0.05 and t[-1] <= stimulus[-1]
    blink = first["likely_blink"].to_numpy()
    assert 0.002 < blink.mean() < 0.1, "blinks are rare but present"
    # AllenSDK's rule: filtered areas are NaN exactly on likely blinks; raw ones keep fits
    for part in ("cr", "eye", "pupil"):
        np.testing.assert_array_equal(first[f"{part}_area"].isna().to_numpy(), blink)
        raw = first.loc[~blink, f"{part}_area_raw"]
        assert raw.notna().all() and (raw > 0).all()
    width = first[["pupil_width", "pupil_height"]].max(axis=1)
    np.testing.assert_allclose(first["pupil_area"], np.pi * width ** 2, atol=1 / 128)


def test_eye_tracking_processing_matches_allensdk():
    """The sample's vectorised processing gives AllenSDK's process_eye_tracking_data
    table (areas rounded to 1/64 pixel^2)."""
    from allensdk.brain_observatory.behavior.eye_tracking_processing import (
        process_eye_tracking_data)

    from course_utils.sample.generate import load_recipe
    from course_utils.sample.ophys_eye import process_fits, raw_ellipse_fits

    cfg = dict(load_recipe()["ophys"]["eye_tracking"], blink_rate_hz=0.5)
    t = 10 + np.arange(4000) / 60
    speed = np.where((t > 30) & (t < 50), 25.0, 0.0)
    raw = raw_ellipse_fits(np.random.default_rng(3), cfg, t, speed)
    ours = process_fits(raw, t)
    theirs = process_eye_tracking_data(raw.copy(), t)
    assert ours["likely_blink"].sum() > 50
    pd.testing.assert_frame_equal(ours, theirs, check_exact=False, atol=1 / 128, rtol=0)
    with pytest.raises(ValueError, match="4000 eye-tracking frames but 3999 timestamps"):
        process_fits(raw, t[:-1])


# -------------------------------------------------------- Visual Coding Neuropixels
def test_ecephys_cache_session_table_recomputes_the_real_one(ecephys_cache):
    assert isinstance(ecephys_cache, EcephysProjectCache)
    table = ecephys_cache.get_session_table()
    real = read_table("vcnp_sessions").set_index("id")
    assert table.shape[0] == 58
    assert (table.unit_count == real.unit_count).all()
    assert (table.probe_count == real.probe_count).all()
    assert (table.channel_count == real.channel_count).all()
    assert sessions_with_areas(table) == sessions_with_areas(real) == [
        719161530, 750332458, 750749662, 754312389, 755434585, 756029989, 791319847,
        797828357]


def test_session_units_per_area_after_default_filters(ecephys_session):
    units = ecephys_session.units
    counts = units.ecephys_structure_acronym.value_counts()
    assert {a: int(counts[a]) for a in VISUAL_AREAS} == AREA_COUNTS
    assert len(units) == 684


def test_quality_filters_remove_units(ecephys_cache):
    everything = ecephys_cache.get_units(amplitude_cutoff_maximum=np.inf,
                                         presence_ratio_minimum=-np.inf,
                                         isi_violations_maximum=np.inf)
    default = ecephys_cache.get_units()
    assert len(everything) > len(default) == 40010


def test_epochs_start_at_the_walkthrough_times(ecephys_session):
    epochs = ecephys_session.get_stimulus_epochs()
    stim = epochs[~epochs.stimulus_name.isin(["spontaneous", "invalid_presentation"])]
    assert len(stim) == 15
    np.testing.assert_allclose(stim.start_time.to_numpy(), EPOCH_STARTS, atol=1e-6)
    first = epochs.iloc[0]
    assert first.stimulus_name == "spontaneous" and first.start_time == pytest.approx(24.429348)
    assert stim.stimulus_name.iloc[:5].tolist() == ["gabors", "flashes", "drifting_gratings",
                                                    "natural_movie_three", "natural_movie_one"]


def _rates(session, unit_ids, windows):
    """Spikes/s of each unit summed over a list of (start, stop) windows."""
    total = sum(b - a for a, b in windows)
    out = []
    for u in unit_ids:
        st = session.spike_times[u]
        out.append(sum(np.searchsorted(st, b) - np.searchsorted(st, a) for a, b in windows) / total)
    return np.asarray(out)


def test_spike_trains_are_realistic_and_stimulus_driven_by_area(ecephys_session):
    units = ecephys_session.units
    epochs = ecephys_session.get_stimulus_epochs()
    spont = [tuple(r) for r in epochs[epochs.stimulus_name == "spontaneous"][["start_time", "stop_time"]].to_numpy()]
    rates = {}
    for name in ("drifting_gratings", "natural_movie_one"):
        rates[name] = [tuple(r) for r in epochs[epochs.stimulus_name == name][["start_time", "stop_time"]].to_numpy()]
    overall = units.firing_rate
    assert 1.0 < overall.median() < 10.0 and overall.max() < 100
    gain = {}
    for area in ("VISp", "VISam"):
        ids = units.index[units.ecephys_structure_acronym == area]
        base = _rates(ecephys_session, ids, spont)
        gain[area] = {n: np.median(_rates(ecephys_session, ids, w) - base) for n, w in rates.items()}
        assert gain[area]["drifting_gratings"] > 0.5       # visual units respond
    # areas differ in what drives them (recipe: V1 prefers gratings, AM movies)
    assert gain["VISp"]["drifting_gratings"] > gain["VISam"]["drifting_gratings"]
    assert gain["VISam"]["natural_movie_one"] > gain["VISp"]["natural_movie_one"] * 0.8
