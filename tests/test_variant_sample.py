"""The helper API on a *built* sample whose imaging plane groups differ in frame count.

Real mesoscope sessions can lose a sync tick at the end, which gives the last imaging
plane group one frame fewer than the others. This builds a short variant of the sample
(recipe ``sync_ticks_missing = 1``, 7,000 frames per plane; the Neuropixels part is left
out), opens it through AllenSDK's cache like the real data, and checks every helper that
puts planes together against plain NumPy on each plane's own clock.

Cost: about 40 s (build, six plane loads twice).
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from allensdk.brain_observatory.behavior.behavior_project_cache import (
    VisualBehaviorOphysProjectCache)

from course_utils import experiments as ex
from course_utils.alignment import event_triggered_responses, resample_traces
from course_utils.config import RECIPE_PATH
from course_utils.responses import stimulus_response_table
from course_utils.sample import build
from course_utils.tidy import tidy_traces

from conftest import EXPERIMENTS, OPHYS_SESSION

N_FRAMES = 7000
SHORT_GROUP = 2          # sync_ticks_missing = 1: the last group loses its last frame
CHANGES = {"n_frames": N_FRAMES, "sync_ticks_missing": 1, "n_flashes": 300,
           "gray_after_behavior_s": 20.0, "movie_repeats": 1,
           # smaller images and field of view: the helpers do not depend on their size
           "field_of_view_px": 128, "template_shape": [120, 192]}


def _variant_recipe(path):
    text = RECIPE_PATH.read_text()
    for key, value in CHANGES.items():
        text, n = re.subn(rf"(?m)^{key} = [^#\n]*", f"{key} = {value}  ", text)
        assert n == 1, f"recipe key {key} not found once"
    path.write_text(text)
    return path


def _no_ecephys(directory, recipe, metadata_dir):
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="module")
def variant(tmp_path_factory):
    root = tmp_path_factory.mktemp("variant")
    recipe = _variant_recipe(root / "recipe.toml")
    with pytest.MonkeyPatch.context() as mp:
        # the build's workers look the function up by name in this module, patched here
        # before the pool starts (fork): so they skip the Neuropixels part too
        mp.setattr(build, "_build_ecephys", _no_ecephys)
        build.build_sample(root / "sample", recipe_path=recipe, progress=False)
    # the call open_ophys_cache makes (it would first rebuild a sample of the main recipe)
    cache = VisualBehaviorOphysProjectCache.from_local_cache(
        cache_dir=root / "sample" / build.OPHYS_DIR)
    with warnings.catch_warnings(), pytest.MonkeyPatch.context() as mp:
        warnings.simplefilter("ignore")
        planes = ex.load_session_experiments(cache, OPHYS_SESSION)
        # load_session_traces loads each plane again (5 s each): hand it the planes
        # just loaded, so the rest of it (ids, cell tables, stacking) runs as written
        mp.setattr(ex, "load_experiments", lambda _, ids: {i: planes[i] for i in ids})
        traces = ex.load_session_traces(cache, OPHYS_SESSION)
    return cache, planes, traces


def _groups(planes):
    return {i: e.metadata["imaging_plane_group"] for i, e in planes.items()}


def test_variant_planes_differ_by_one_frame_and_interleave(variant):
    _, planes, traces = variant
    groups = _groups(planes)
    assert sorted(planes) == EXPERIMENTS
    for exp_id, exp in planes.items():
        expected = N_FRAMES - (groups[exp_id] == SHORT_GROUP)
        assert exp.ophys_timestamps.size == expected
        assert exp.dff_traces.dff.iloc[0].size == expected
    clocks = ex.plane_clocks(traces)
    assert clocks.loc[EXPERIMENTS, "n_frames"].tolist() == [
        N_FRAMES - (groups[i] == SHORT_GROUP) for i in EXPERIMENTS]
    firsts = clocks.groupby("imaging_plane_group")["first_frame_s"].first()
    np.testing.assert_allclose(np.diff(firsts), 0.09322 / 3, atol=1e-5)


def test_session_traces_hold_each_planes_own_values_and_clock(variant):
    _, planes, traces = variant
    assert traces.sizes["frame"] == N_FRAMES
    for exp_id, exp in planes.items():
        t = exp.ophys_timestamps
        for cell_id, dff in exp.dff_traces.dff.items():
            row = traces.sel(cell=cell_id)
            assert int(row["n_frames"]) == t.size
            np.testing.assert_array_equal(row["timestamps"].values[:t.size], t)
            np.testing.assert_allclose(row["dff"].values[:t.size], dff, rtol=1e-6)
            assert np.isnan(row["dff"].values[t.size:]).all()
    # session_trace_array from loaded planes gives the same array
    same = ex.session_trace_array(planes)
    np.testing.assert_array_equal(same["timestamps"].values, traces["timestamps"].values)


def test_tidy_table_rows_carry_their_planes_timestamps(variant):
    _, planes, traces = variant
    table = tidy_traces(traces)
    n_cells = {i: e.dff_traces.shape[0] for i, e in planes.items()}
    assert len(table) == sum(n_cells[i] * e.ophys_timestamps.size for i, e in planes.items())
    for exp_id, exp in planes.items():
        rows = table[table["ophys_experiment_id"] == exp_id]
        cell = rows["cell_specimen_id"].iloc[0]
        np.testing.assert_array_equal(rows.loc[rows["cell_specimen_id"] == cell,
                                               "timestamps"].to_numpy(), exp.ophys_timestamps)


def test_event_alignment_response_table_and_resampling_match_np_interp(variant):
    _, planes, traces = variant
    first = next(iter(planes.values()))
    flashes = first.stimulus_presentations
    flashes = flashes[flashes["image_name"].str.startswith("im", na=False)].iloc[:40]
    assert len(flashes) == 40
    r = event_triggered_responses(traces["dff"], flashes["start_time"], -0.5, 1.0,
                                  sampling_rate=30.0)
    table = stimulus_response_table(traces["dff"], flashes, sampling_rate=30.0)
    grid = r["time"].values
    on_grid = resample_traces(traces["dff"], 10.0, start=320.0, stop=500.0)
    resample_grid = on_grid["time"].values
    for exp_id, exp in planes.items():
        t = exp.ophys_timestamps
        for cell_id, dff in list(exp.dff_traces.dff.items())[:2]:
            absolute = flashes["start_time"].to_numpy()[:, None] + grid[None, :]
            oracle = np.interp(absolute, t, dff)
            np.testing.assert_allclose(r.sel(cell=cell_id).values, oracle, atol=1e-6)
            rows = table[table["cell_specimen_id"] == cell_id]
            expected = np.interp(flashes["start_time"].to_numpy()[:, None]
                                 + np.arange(0, 0.5 + 1e-9, 1 / 30)[None, :], t, dff).mean(1)
            np.testing.assert_allclose(rows["mean_response"].to_numpy(), expected, atol=1e-5)
            np.testing.assert_allclose(on_grid.sel(cell=cell_id).values,
                                       np.interp(resample_grid, t, dff), atol=1e-6)
    # Between the short planes' last frame and the others' last frames, the short
    # planes' cells have no value (not a neighbour's) and the others' have theirs.
    last = {i: e.ophys_timestamps[-1] for i, e in planes.items()}
    last_short, last_long = min(last.values()), max(last.values())
    assert 0 < last_long - last_short < 0.1
    between = resample_traces(traces["dff"], 1000.0, start=last_short + 0.001,
                              stop=last_long - 0.001)
    n = traces["n_frames"].sel(cell=between["cell"]).values
    grid = between["time"].values
    for exp_id, exp in planes.items():
        cells = list(exp.dff_traces.index)
        values = between.sel(cell=cells).values
        if exp.ophys_timestamps.size == N_FRAMES - 1:
            assert np.isnan(values).all()
        else:
            inside = grid <= last[exp_id]
            assert inside.any() and not np.isnan(values[:, inside]).any()
            np.testing.assert_allclose(
                values[0, inside], np.interp(grid[inside], exp.ophys_timestamps,
                                             exp.dff_traces.dff.iloc[0]), atol=1e-6)
    assert set(n) == {N_FRAMES, N_FRAMES - 1}
    # events in the last second: aligned on each plane's own last frames
    late = pd.Series([last_short - 0.6, last_short - 0.2], name="start_time")
    r = event_triggered_responses(traces["dff"], late, -0.3, 0.15, sampling_rate=30.0)
    for exp_id, exp in planes.items():
        cell, dff = next(iter(exp.dff_traces.dff.items()))
        expected = np.interp(late.to_numpy()[:, None] + r["time"].values[None, :],
                             exp.ophys_timestamps, dff)
        np.testing.assert_allclose(r.sel(cell=cell).values, expected, atol=1e-6)
