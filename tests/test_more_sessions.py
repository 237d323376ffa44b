"""The Neuropixels sessions the offline sample builds on demand
(course_utils.sample.more_sessions): opened by the same AllenSDK calls as 756029989, real
in shape (the real schema's session entries), six visual areas, the brain_observatory_1.1
epoch sequence, stimulus-driven spikes that differ from session to session, built
deterministically and atomically, and checked like the rest of the sample."""
import json
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from conftest import ECEPHYS_SESSION
from course_utils.ecephys import load_ecephys_session, units_by_area
from course_utils.metadata import VISUAL_AREAS
from course_utils.sample.build import MARKER, foreign_files
from course_utils.sample.generate import ecephys_tables, load_recipe
from course_utils.sample.more_sessions import (SESSION_RECORD, _one_session,
                                               checked_session_ids, more_session_ids,
                                               session_inputs, session_problems)
from course_utils.tools.check import check_more_sessions
from schema_check import frame_differences, load_schema

SESSION = 754312389            # the smallest of the seven (174 units)
WALKTHROUGH_EIGHT = {719161530, 750332458, 750749662, 754312389, 755434585, 791319847,
                     797828357, 756029989}


@pytest.fixture(scope="module")
def more_session(ecephys_cache):
    """Session 754312389 through load_ecephys_session, which builds it if it is missing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_ecephys_session(ecephys_cache, SESSION)


def test_the_seven_are_the_walkthroughs_other_sessions(ecephys_cache):
    ids = more_session_ids()
    assert len(ids) == 7 and set(ids) | {ECEPHYS_SESSION} == WALKTHROUGH_EIGHT
    table = ecephys_cache.get_session_table()
    assert (table.loc[list(ids), "session_type"] == "brain_observatory_1.1").all()
    for session_id in ids:                       # each records all six visual areas
        assert set(VISUAL_AREAS) <= set(table.loc[session_id, "ecephys_structure_acronyms"])


@pytest.mark.parametrize("name", ["session.units", "session.probes", "session.channels",
                                  "session.stimulus_presentations"])
def test_a_built_session_has_the_real_schema(name, more_session):
    entry = load_schema("visual_coding_neuropixels")[name]
    obj = {"session.units": more_session.units, "session.probes": more_session.probes,
           "session.channels": more_session.channels,
           "session.stimulus_presentations": more_session.stimulus_presentations}[name]
    assert frame_differences(obj, entry) == []


def test_units_are_the_six_areas_and_pass_the_default_filters(ecephys_cache, more_session,
                                                             sample_path):
    import h5py

    units = more_session.units
    assert set(units["ecephys_structure_acronym"]) == set(VISUAL_AREAS)
    # the file holds only units that pass the default filters: the filtered table has all
    nwb = (sample_path / "visual_coding_neuropixels" / f"session_{SESSION}"
           / f"session_{SESSION}.nwb")
    with h5py.File(nwb, "r") as f:
        assert len(f["units/id"]) == len(units) == 174
    # the session's units are the project table's (same ids, channels and areas)
    project = ecephys_cache.get_units()
    assert set(units.index) <= set(project.index)
    pd.testing.assert_series_equal(
        units["ecephys_structure_acronym"],
        project.loc[units.index, "ecephys_structure_acronym"], check_names=False)
    assert len(units_by_area(more_session)) == len(units)


def test_epochs_are_the_walkthrough_sequence_shifted(more_session, ecephys_session):
    mine = more_session.get_stimulus_epochs().reset_index(drop=True)
    ref = ecephys_session.get_stimulus_epochs().reset_index(drop=True)
    assert mine["stimulus_name"].tolist() == ref["stimulus_name"].tolist()
    stim = mine["stimulus_name"] != "spontaneous"
    shift = (mine["start_time"] - ref["start_time"])[stim]
    assert np.ptp(shift) < 1e-5 and 0 < abs(shift.iloc[0]) <= 20.0
    np.testing.assert_allclose(mine["duration"][stim], ref["duration"][stim], atol=1e-5)
    counts = more_session.stimulus_presentations["stimulus_name"].value_counts()
    assert counts.to_dict() == ecephys_session.stimulus_presentations[
        "stimulus_name"].value_counts().to_dict()
    assert more_session.invalid_times.empty


def test_spikes_are_stimulus_driven(more_session, sample_path):
    epochs = more_session.get_stimulus_epochs()
    trains = more_session.spike_times
    assert set(trains) == set(more_session.units.index)

    def rate(rows):
        seconds = (rows["stop_time"] - rows["start_time"]).sum()
        spikes = sum(int((np.searchsorted(t, rows["stop_time"]) -
                          np.searchsorted(t, rows["start_time"])).sum())
                     for t in trains.values())
        return spikes / seconds / len(trains)

    driven = rate(epochs[epochs["stimulus_name"] == "drifting_gratings"])
    quiet = rate(epochs[epochs["stimulus_name"] == "spontaneous"])
    assert driven > 1.2 * quiet > 0          # (756029989: about 1.3x too)
    record = json.loads((sample_path / "visual_coding_neuropixels" / f"session_{SESSION}"
                         / SESSION_RECORD).read_text())
    assert sum(t.size for t in trains.values()) == record["spikes"]


def test_generation_is_deterministic_and_independent_of_the_others():
    recipe = load_recipe()
    anatomy = ecephys_tables(recipe)[1:]
    whole = session_inputs(recipe, SESSION, anatomy)
    alone = session_inputs(recipe, SESSION, _one_session(anatomy, SESSION))
    other = session_inputs(recipe, 719161530, anatomy)
    assert whole["spike_times"].keys() == alone["spike_times"].keys()
    for unit, train in whole["spike_times"].items():
        np.testing.assert_array_equal(train, alone["spike_times"][unit])
    pd.testing.assert_frame_equal(whole["presentations"], alone["presentations"])
    # another session: other units and trains, other presentation order, other shift
    assert not set(other["spike_times"]) & set(whole["spike_times"])
    first = next(iter(whole["spike_times"].values()))
    assert not any(np.array_equal(first, t) for t in other["spike_times"].values())
    assert not other["presentations"]["start_time"].equals(whole["presentations"]["start_time"])


def test_the_built_session_is_recorded_and_not_foreign(more_session, sample_path):
    record = json.loads((sample_path / "visual_coding_neuropixels" / f"session_{SESSION}"
                         / SESSION_RECORD).read_text())
    marker = json.loads((sample_path / MARKER).read_text())
    assert record["sample_sha256"] == marker["source_sha256"]
    assert record["units"] == 174 and list(record["inventory"]) == [f"session_{SESSION}.nwb"]
    assert session_problems(SESSION, sample_path, hashes=True) == []
    assert not [f for f in foreign_files(sample_path) if f"session_{SESSION}" in f]


def _copy_with_session(sample_path, tmp_path):
    """A sample folder in tmp_path holding the marker and the built session only."""
    root = tmp_path / "sample"
    folder = root / "visual_coding_neuropixels" / f"session_{SESSION}"
    folder.parent.mkdir(parents=True)
    shutil.copy(sample_path / MARKER, root / MARKER)
    shutil.copytree(sample_path / "visual_coding_neuropixels" / f"session_{SESSION}", folder)
    return root, folder / f"session_{SESSION}.nwb"


def test_damage_is_seen_and_named(more_session, sample_path, tmp_path):
    root, nwb = _copy_with_session(sample_path, tmp_path)
    assert session_problems(SESSION, root, hashes=True) == []
    with open(nwb, "r+b") as f:                      # same size, one byte changed
        f.seek(nwb.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert session_problems(SESSION, root) == []     # sizes only: cheap, misses it
    assert "hash differs" in session_problems(SESSION, root, hashes=True)[0]
    check = check_more_sessions(root)
    assert not check.ok and f"--more-sessions {SESSION}" in check.fix
    with open(nwb, "r+b") as f:
        f.truncate(1000)
    assert "1,000 bytes, built with" in session_problems(SESSION, root)[0]
    nwb.unlink()
    assert session_problems(SESSION, root)[0].endswith("missing")
    assert session_problems(719161530, tmp_path / "nowhere") == ["session_719161530: not built"]


def test_ids_are_checked_before_any_work():
    assert checked_session_ids("all") == list(more_session_ids())
    assert checked_session_ids(["754312389", 754312389]) == [754312389]
    with pytest.raises(ValueError, match="not one the offline sample builds on demand"):
        checked_session_ids([ECEPHYS_SESSION])
    with pytest.raises(ValueError, match="is not a number"):
        checked_session_ids(["VISp"])
    done = subprocess.run([sys.executable, "-m", "course_utils", "build-sample",
                           "--more-sessions", "123"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "session 123 is not one the offline sample builds on demand" in done.stderr
    assert "building" not in done.stderr + done.stdout     # refused before any build
