"""course_utils.reuse: results stored with joblib.Memory are read back identical, and
are recomputed when the NWB files, the course's code or the arguments change."""
import os
from pathlib import Path

import numpy as np
import pytest

from course_utils import ecephys, reuse


@pytest.fixture
def results(tmp_path, monkeypatch):
    folder = tmp_path / "results"
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(folder))
    return folder


@pytest.fixture
def data(tmp_path):
    """A folder with two fake NWB files, as a cache folder holds them."""
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    for i in (11, 12):
        (folder / "sub" / f"behavior_ophys_experiment_{i}.nwb").write_bytes(b"x" * i)
    return folder


def counted(calls):
    def compute(origin, x):
        calls.append(x)
        return np.arange(x)
    return compute


def test_stored_result_is_reused_until_a_file_changes(results, data):
    calls = []
    compute = counted(calls)
    origin = reuse.data_origin(data, [11, 12])
    assert origin["complete"] and [f[1] for f in origin["files"]] == [11, 12]
    first = reuse._remember(compute, [], origin, 5)
    again = reuse._remember(compute, [], reuse.data_origin(data, [11, 12]), 5)
    np.testing.assert_array_equal(first, np.arange(5))
    np.testing.assert_array_equal(again, first)
    assert calls == [5]                                  # the second came from disk
    reuse._remember(compute, [], reuse.data_origin(data, [11, 12]), 6)   # other argument
    assert calls == [5, 6]
    # a rewritten file (new size and time) is new data: computed again
    path = data / "sub" / "behavior_ophys_experiment_12.nwb"
    path.write_bytes(b"y" * 40)
    os.utime(path, ns=(1, 1))
    reuse._remember(compute, [], reuse.data_origin(data, [11, 12]), 5)
    assert calls == [5, 6, 5]


def test_code_change_recomputes(results, data, monkeypatch):
    calls = []
    compute = counted(calls)
    reuse._remember(compute, [], reuse.data_origin(data, [11]), 3)
    monkeypatch.setattr(reuse, "_code_digest", lambda: "edited")
    reuse._remember(compute, [], reuse.data_origin(data, [11]), 3)
    assert calls == [3, 3]


def test_missing_file_is_computed_but_not_stored(results, data):
    calls = []
    compute = counted(calls)
    origin = reuse.data_origin(data, [11, 99])            # 99 not downloaded yet
    assert not origin["complete"]
    reuse._remember(compute, [], origin, 4)
    reuse._remember(compute, [], reuse.data_origin(data, [11, 99]), 4)
    assert calls == [4, 4]
    assert not results.exists()


def test_unwritable_results_folder_still_computes(tmp_path, data, monkeypatch):
    """A folder it cannot create (here under a file: refused even to root) costs the
    storing, not the result."""
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path / "a_file" / "results"))
    calls = []
    for _ in range(2):
        with pytest.warns(UserWarning, match="computed but not stored.*COURSE_RESULTS_DIR"):
            out = reuse._remember(counted(calls), [], reuse.data_origin(data, [11]), 2)
        np.testing.assert_array_equal(out, [0, 1])
    assert calls == [2, 2]


def test_results_dir_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_RESULTS_DIR", "")
    with pytest.raises(ValueError, match="set but empty"):
        reuse.results_dir()
    (tmp_path / "f").write_text("")
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path / "f"))
    with pytest.raises(ValueError, match="is a file, not a folder"):
        reuse.results_dir()


def test_spike_counts_on_the_sample_are_stored_and_read_back(
        results, ecephys_cache, ecephys_session, monkeypatch):
    """Notebook 04 stores the counts from the session it holds; notebook 05 reads them
    back without loading the session. They equal epoch_spike_counts'."""
    expected = ecephys.epoch_spike_counts(ecephys_session, pre=10.0, post=90.0,
                                          bin_size=0.1)
    # a session opened another way is counted but not stored under the default key
    reuse.session_spike_counts(ecephys_cache, 756029989, 10, 90, 0.1,
                               session=ecephys_session)
    assert not results.exists()
    # the fixture's session was opened as load_ecephys_session does (default filters)
    monkeypatch.setitem(ecephys._LOADED_IDS, ecephys_session, 756029989)
    kept = reuse.session_spike_counts(ecephys_cache, 756029989, 10, 90, 0.1,
                                      session=ecephys_session)
    assert kept.identical(expected)

    def no_loading(*args, **kwargs):
        raise AssertionError("the session was loaded again")
    monkeypatch.setattr(reuse, "load_ecephys_session", no_loading)
    back = reuse.session_spike_counts(ecephys_cache, 756029989, 10.0, 90.0, 0.1)
    assert back.identical(expected)
    with pytest.raises(AssertionError, match="loaded again"):      # other bins: computed
        reuse.session_spike_counts(ecephys_cache, 756029989, 10.0, 90.0, 0.2)
    origin = reuse.data_origin(Path(ecephys_cache.manifest_path).parent, [756029989])
    assert [f[0] for f in origin["files"]] == [
        "session_756029989/session_756029989.nwb"]


def test_stimulus_presentations_are_stored_and_read_back(
        results, ophys_cache, ophys_experiments, monkeypatch):
    experiment = ophys_experiments[854759894]
    expected = experiment.stimulus_presentations
    kept = reuse.stimulus_presentations(ophys_cache, 854759894, experiment=experiment)
    monkeypatch.setattr(type(ophys_cache), "get_behavior_ophys_experiment",
                        lambda *a: pytest.fail("the experiment was loaded again"))
    back = reuse.stimulus_presentations(ophys_cache, 854759894)
    assert kept.equals(expected) and back.equals(expected)
    assert list(back.dtypes) == list(expected.dtypes)


def test_a_session_or_experiment_of_another_id_is_refused(
        results, ecephys_cache, ecephys_session, ophys_cache, ophys_experiments):
    """The stored result is filed under the id: a mismatched object would file wrong
    data under it, so it is refused before any work."""
    with pytest.raises(ValueError, match="not 754312389"):
        reuse.session_spike_counts(ecephys_cache, 754312389, session=ecephys_session)
    with pytest.raises(ValueError, match="is experiment 854759894, not 854759890"):
        reuse.stimulus_presentations(ophys_cache, 854759890,
                                     experiment=ophys_experiments[854759894])
    from course_utils.experiments import load_session_traces
    with pytest.raises(ValueError, match=r"loaded\[854759890\] is experiment 854759894"):
        load_session_traces(ophys_cache, 854060305,
                            loaded={854759890: ophys_experiments[854759894]})
    assert not results.exists()


def test_library_versions_are_part_of_the_key(results, data, monkeypatch):
    calls = []
    compute = counted(calls)
    reuse._remember(compute, [], reuse.data_origin(data, [11]), 3)
    monkeypatch.setattr(reuse, "_libraries", lambda: {"allensdk": "99"})
    reuse._remember(compute, [], reuse.data_origin(data, [11]), 3)
    assert calls == [3, 3]


def test_session_id_of_an_object_without_weak_references():
    from types import SimpleNamespace
    assert ecephys.session_id_of(SimpleNamespace(ecephys_session_id=5)) == 5
    assert not ecephys.loaded_with_defaults(SimpleNamespace())
