"""Receptive fields and direction tuning (course_utils.tuning): known answers on hand-made
spike trains, a plain loop as the counting oracle, and AllenSDK's own stimulus analyses
(``ReceptiveFieldMapping``, ``DriftingGratings``) on the sample session."""
import numpy as np
import pandas as pd
import pytest

from course_utils.tuning import (direction_tuning, presentation_counts, presentations_of,
                                 receptive_field_maps, rf_peaks, selectivity)

POSITIONS = np.arange(-40.0, 41.0, 10.0)


def _gabors(repeats=2):
    """A gabors table in the release's layout: 9 x 9 positions x 3 orientations, 0.25 s
    each, back to back, shuffled, parameters stored as objects as AllenSDK gives them."""
    rng = np.random.default_rng(1)
    grid = np.array([(y, x, o) for y in POSITIONS for x in POSITIONS for o in (0.0, 45.0, 90.0)]
                    * repeats, dtype=object)
    grid = grid[rng.permutation(len(grid))]
    start = 100.0 + 0.25 * np.arange(len(grid))
    return pd.DataFrame({"start_time": start, "stop_time": start + 0.25,
                         "stimulus_name": "gabors", "y_position": grid[:, 0],
                         "x_position": grid[:, 1], "orientation": grid[:, 2]},
                        index=pd.Index(np.arange(len(grid)) + 10, name="stimulus_presentation_id"))


def _gratings(repeats=3):
    """Drifting gratings: 8 directions x 5 temporal frequencies, 2 s on and 1 s grey, with
    blank sweeps whose parameters are the string "null" (as in the real tables)."""
    conditions = [(d, tf) for d in np.arange(0.0, 360.0, 45.0) for tf in (1.0, 2.0, 4.0, 8.0, 15.0)]
    conditions = conditions * repeats + [("null", "null")] * 5
    start = 500.0 + 3.0 * np.arange(len(conditions))
    return pd.DataFrame({"start_time": start, "stop_time": start + 2.0,
                         "stimulus_name": "drifting_gratings",
                         "orientation": [c[0] for c in conditions],
                         "temporal_frequency": [c[1] for c in conditions]})


def test_counts_match_a_plain_loop_and_honour_the_window():
    gabors = _gabors()
    rng = np.random.default_rng(0)
    trains = {5: np.sort(rng.uniform(90, 200, 400)), 9: np.sort(rng.uniform(90, 200, 50)),
              11: np.array([])}
    for window in (None, (0.0, 0.25), (0.05, 0.2)):
        counts = presentation_counts(trains, gabors, [9, 5, 11], window=window)
        assert counts.dims == ("presentation", "unit") and counts.shape == (len(gabors), 3)
        for j, unit in enumerate([9, 5, 11]):
            t = trains[unit]
            begin = gabors["start_time"].to_numpy() + (0.0 if window is None else window[0])
            end = (gabors["stop_time"].to_numpy() if window is None
                   else gabors["start_time"].to_numpy() + window[1])
            expected = [np.sum((t >= b) & (t < e)) for b, e in zip(begin, end)]
            assert counts.values[:, j].tolist() == expected
        assert np.allclose(counts["duration"], 0.25 if window != (0.05, 0.2) else 0.15)
    with pytest.raises(KeyError, match=r"no spike times for unit\(s\) \[3\]"):
        presentation_counts(trains, gabors, [5, 3])
    with pytest.raises(ValueError, match="empty window"):
        presentation_counts(trains, gabors, [5], window=(0.25, 0.0))


def test_receptive_field_of_a_unit_that_fires_at_one_position():
    gabors = _gabors()
    here = (gabors["x_position"] == 10.0) & (gabors["y_position"] == -20.0)
    trains = {1: np.sort(gabors.loc[here, "start_time"].to_numpy() + 0.1),  # 1 spike each
              2: np.array([])}                                            # silent
    maps = receptive_field_maps(presentation_counts(trains, gabors, [1, 2]), gabors)
    assert maps.dims == ("unit", "y_position", "x_position") and maps.shape == (2, 9, 9)
    assert maps["x_position"].values.tolist() == POSITIONS.tolist()
    assert maps.sel(unit=1, x_position=10.0, y_position=-20.0) == pytest.approx(4.0)  # 1/0.25 s
    assert float(maps.sel(unit=1).sum()) == pytest.approx(4.0)
    peaks = rf_peaks(maps)
    assert peaks.loc[1, ["x_position", "y_position"]].tolist() == [10.0, -20.0]
    assert peaks.loc[1, "peak_z"] > 8 and peaks.loc[2, "peak_z"] == 0.0
    # a position never shown is NaN in the map and left out of the peak, not propagated
    shown = gabors[~((gabors["x_position"] == -40.0) & (gabors["y_position"] == 40.0))]
    partial = receptive_field_maps(presentation_counts(trains, shown, [1, 2]), shown)
    assert np.isnan(partial.sel(unit=1, x_position=-40.0, y_position=40.0))
    assert rf_peaks(partial).loc[1, ["x_position", "y_position"]].tolist() == [10.0, -20.0]
    assert np.isfinite(rf_peaks(partial).loc[1, "peak_z"])


def test_direction_tuning_and_selectivity_known_answers_and_allensdk_formulas():
    from allensdk.brain_observatory.ecephys.stimulus_analysis.stimulus_analysis import dsi, osi

    gratings = _gratings()
    direction = pd.to_numeric(gratings["orientation"], errors="coerce")
    tf = pd.to_numeric(gratings["temporal_frequency"], errors="coerce")
    starts = gratings["start_time"].to_numpy()

    def spikes_where(mask, n):
        return np.sort(np.concatenate([s + np.linspace(0.1, 1.9, n) for s in starts[mask]]))

    trains = {1: spikes_where((direction == 90) & (tf == 2), 4),              # one direction
              2: spikes_where(direction.isin([90, 270]) & (tf == 4), 4),      # both ways
              3: np.sort(np.concatenate([spikes_where(direction == d, 1 + i)  # graded
                                         for i, d in enumerate(np.arange(0, 360, 45))])),
              4: np.array([])}
    tuning = direction_tuning(presentation_counts(trains, gratings, [1, 2, 3, 4]), gratings)
    assert tuning.dims == ("unit", "orientation", "temporal_frequency")
    assert tuning.shape == (4, 8, 5)                                   # blanks left out
    assert tuning.sel(unit=1, orientation=90.0, temporal_frequency=2.0) == pytest.approx(2.0)
    table = selectivity(tuning)
    assert table.loc[1].tolist() == pytest.approx([90.0, 2.0, 1.0, 1.0])
    assert table.loc[2, ["pref_tf", "g_osi", "g_dsi"]].tolist() == pytest.approx([4.0, 1.0, 0.0])
    assert table.loc[3, "pref_direction"] == 315.0
    assert np.isnan(table.loc[4, ["g_osi", "g_dsi"]].astype(float)).all()
    for unit in (1, 2, 3):                                   # AllenSDK's own formulas
        row = tuning.sel(unit=unit, temporal_frequency=table.loc[unit, "pref_tf"])
        theta = np.deg2rad(row["orientation"].values).astype(complex)
        assert table.loc[unit, "g_osi"] == pytest.approx(osi(theta, row.values))
        assert table.loc[unit, "g_dsi"] == pytest.approx(dsi(theta, row.values))


def test_same_answers_as_allensdk_stimulus_analysis_on_the_sample(ecephys_session):
    """AllenSDK's DriftingGratings (pref_ori_dg, pref_tf_dg, g_osi_dg, g_dsi_dg) and
    ReceptiveFieldMapping (spike counts per position in 0-0.249 s, rows flipped as
    40 - y) for a few VISp units: the course's functions give the same numbers."""
    from allensdk.brain_observatory.ecephys.stimulus_analysis.drifting_gratings import (
        DriftingGratings)
    from allensdk.brain_observatory.ecephys.stimulus_analysis.receptive_field_mapping import (
        ReceptiveFieldMapping)
    from course_utils.ecephys import units_by_area

    ids = list(units_by_area(ecephys_session, ["VISp"]).index[:6])
    gratings = presentations_of(ecephys_session, "drifting_gratings")
    ours = selectivity(direction_tuning(
        presentation_counts(ecephys_session.spike_times, gratings, ids), gratings))
    # the four metrics through the methods DriftingGratings.metrics calls for them (the
    # whole .metrics also fits contrast and frequency curves: a minute for six units)
    dg = DriftingGratings(ecephys_session, filter=ids)
    pref_tf = [dg._get_pref_tf(u) for u in ids]
    assert ours["pref_direction"].tolist() == [float(dg._get_pref_ori(u)) for u in ids]
    assert ours["pref_tf"].tolist() == [float(tf) for tf in pref_tf]
    for kind in ("osi", "dsi"):
        np.testing.assert_allclose(
            ours[f"g_{kind}"], [dg._get_selectivity(u, tf, kind) for u, tf in zip(ids, pref_tf)],
            rtol=1e-9)

    gabors = presentations_of(ecephys_session, "gabors")
    counts = presentation_counts(ecephys_session.spike_times, gabors, ids, window=(0.0, 0.249))
    maps = receptive_field_maps(counts, gabors)
    repeats = (pd.to_numeric(gabors["x_position"]).to_numpy()[:, None] == POSITIONS)
    totals = (maps * 0.249 * gabors.groupby(["y_position", "x_position"]).size()
              .rename_axis(["y_position", "x_position"]).to_xarray().astype(float))
    reference = ReceptiveFieldMapping(ecephys_session, filter=ids).receptive_fields["spike_counts"]
    reference = reference.assign_coords(y_position=40.0 - reference["y_position"]).sortby(
        "y_position").sel(unit_id=ids).transpose("unit_id", "y_position", "x_position")
    assert repeats.any(axis=0).all()
    np.testing.assert_allclose(totals.values, reference.values, atol=1e-6)


def test_bad_input_is_named():
    gabors = _gabors(repeats=1)
    counts = presentation_counts({1: np.array([100.1])}, gabors, [1])
    with pytest.raises(ValueError, match="counts have 243 presentations but the table has 10"):
        receptive_field_maps(counts, gabors.iloc[:10])
    with pytest.raises(KeyError, match="no 'temporal_frequency' column"):
        direction_tuning(counts, gabors)

    class Session:
        stimulus_presentations = gabors
    with pytest.raises(ValueError, match=r"showed no 'flashes'; it showed \['gabors'\]"):
        presentations_of(Session, "flashes")
