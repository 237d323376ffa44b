"""Decoding helpers: known answers on synthetic data, clear errors, run ids compared with
a plain loop, and the offline sample's image identity decodable above permutation chance
(and not with shuffled labels)."""
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.model_selection import (StratifiedGroupKFold, StratifiedKFold,
                                     permutation_test_score)
from sklearn.preprocessing import StandardScaler

from conftest import EXPERIMENTS
from course_utils.decoding import (decode, design_matrix, linear_svm, runs_between_changes,
                                   window_features)

RNG = np.random.default_rng(3)


def _blobs(n_per_class=40, n_features=6, separation=10.0):
    labels = np.repeat(["a", "b", "c"], n_per_class)
    centres = {"a": (separation, 0.0), "b": (0.0, separation), "c": (-separation, -separation)}
    X = RNG.normal(size=(labels.size, n_features))
    X[:, :2] += np.array([centres[l] for l in labels])
    return X, labels


def test_separable_classes_are_decoded_perfectly():
    X, y = _blobs()
    result = decode(X, y, n_splits=4, seed=0)
    assert list(result.scores.columns) == ["fold", "n_train", "n_test", "accuracy",
                                           "balanced_accuracy", "chance_most_frequent",
                                           "chance_uniform"]
    assert list(result.summary().index) == ["accuracy", "balanced_accuracy",
                                            "chance_most_frequent", "chance_uniform"]
    assert len(result.scores) == 4 and result.scores["n_test"].sum() == len(y)
    assert (result.scores["accuracy"] == 1.0).all()
    np.testing.assert_allclose(result.confusion.values, np.eye(3))
    assert result.labels == ["a", "b", "c"]
    np.testing.assert_allclose(result.scores["chance_most_frequent"], 1 / 3, atol=0.05)
    np.testing.assert_allclose(result.scores["chance_uniform"], 1 / 3)


def test_chance_levels_with_unequal_classes():
    """Most-frequent chance follows the class sizes; balanced accuracy of a label-blind
    guess is 1/K whatever they are (checked with scikit-learn's DummyClassifier)."""
    from sklearn.dummy import DummyClassifier
    y = np.repeat(["a", "b", "c", "d"], [70, 10, 10, 10])
    X = RNG.normal(size=(y.size, 3))
    result = decode(X, y, n_splits=5, seed=0, model=DummyClassifier(strategy="most_frequent"))
    np.testing.assert_allclose(result.scores["chance_most_frequent"], 0.7)
    np.testing.assert_allclose(result.scores["accuracy"], 0.7)
    np.testing.assert_allclose(result.scores["balanced_accuracy"], 0.25)
    np.testing.assert_allclose(result.scores["chance_uniform"], 0.25)


def test_noise_decodes_at_chance():
    X = RNG.normal(size=(300, 10))
    y = np.repeat(["a", "b", "c"], 100)
    result = decode(X, y, n_splits=5, seed=1)
    assert abs(result.scores["accuracy"].mean() - 1 / 3) < 0.1
    np.testing.assert_allclose(result.confusion.values.sum(axis=1), 1.0)


def test_scaling_lives_inside_the_pipeline():
    model = linear_svm()
    assert isinstance(model.steps[0][1], StandardScaler)
    X, y = _blobs()
    X[:, 2] *= 1e6                 # a noise feature on a huge scale: harmless once standardised
    assert decode(X, y, n_splits=4).scores["accuracy"].min() == 1.0


def test_errors():
    X, y = _blobs(n_per_class=4)
    with pytest.raises(ValueError, match="only one class"):
        decode(X, np.repeat("a", len(X)))
    with pytest.raises(ValueError, match=r"too few samples in class\(es\) \{'a': 4"):
        decode(X, y, n_splits=5)
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values \(rows \[2\]"):
        decode(bad, y, n_splits=2)
    with pytest.raises(ValueError, match="12 rows but y has 11"):
        decode(X, y[:-1], n_splits=2)


def test_a_list_of_folds_gives_the_splitter_results():
    X, y = _blobs(n_per_class=30, separation=1.0)
    groups = np.arange(len(y)) // 3                    # triplets of one class each
    splitter = StratifiedGroupKFold(3, shuffle=True, random_state=0)
    folds = list(splitter.split(X, y, groups))
    by_splitter = decode(X, y, cv=splitter, groups=groups)
    by_list = decode(X, y, cv=folds)
    pd.testing.assert_frame_equal(by_splitter.scores, by_list.scores)
    for train, test in folds:                          # each triplet on one side only
        assert not set(groups[train]) & set(groups[test])
    with pytest.raises(ValueError, match="groups is used only with a splitter"):
        decode(X, y, cv=folds, groups=groups)
    with pytest.raises(ValueError, match="fold 0: some rows are in both"):
        decode(X, y, cv=[(np.arange(60), np.arange(50, 90))])
    with pytest.raises(ValueError, match="fold 1: the test rows"):
        decode(X, y, cv=[(np.arange(45), np.arange(45, 90)), (np.arange(45), np.array([90]))])
    with pytest.raises(ValueError, match="cv must be a splitter"):
        decode(X, y, cv=5)


def _runs_by_loop(flags):
    """The plain reference: a counter that steps up at every change."""
    run, runs = 0, []
    for flag in flags:
        if flag:
            run += 1
        runs.append(run)
    return runs


def test_runs_between_changes_matches_a_loop():
    assert runs_between_changes([False, True, False, False, True, True]).tolist() == \
        [0, 1, 1, 1, 2, 3]
    assert runs_between_changes([True, False]).tolist() == [1, 1]
    assert runs_between_changes(np.array([], dtype=bool)).tolist() == []
    rng = np.random.default_rng(5)
    for p in (0.02, 0.1, 0.5):
        flags = rng.random(500) < p
        runs = runs_between_changes(flags)
        assert runs.dtype == np.int64
        assert runs.tolist() == _runs_by_loop(flags)
        assert runs_between_changes(flags.astype(int)).tolist() == _runs_by_loop(flags)


def test_runs_between_changes_keeps_a_series_index():
    flags = pd.Series([False, False, True, False], index=[7, 8, 9, 11], name="is_change")
    runs = runs_between_changes(flags)
    assert runs.name == "run" and list(runs.index) == [7, 8, 9, 11]
    assert runs.tolist() == [0, 0, 1, 1]
    nullable = flags.astype("boolean")                  # pandas' nullable booleans
    assert runs_between_changes(nullable).tolist() == [0, 0, 1, 1]


def test_runs_between_changes_errors():
    with pytest.raises(ValueError, match=r"missing \(NaN\) at flash 2"):
        runs_between_changes(pd.Series([False, True, None, False], dtype="object"))
    with pytest.raises(ValueError, match=r"True/False \(or 1/0\), got 2 at flash 1"):
        runs_between_changes([0, 2, 1])
    with pytest.raises(ValueError, match="must be 1-D"):
        runs_between_changes(np.zeros((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="must hold real numbers"):
        runs_between_changes(["yes", "no"])


def test_design_matrix_aligns_rows_and_labels():
    table = pd.DataFrame({
        "cell_specimen_id": [1, 2, 1, 2, 1, 2],
        "stimulus_presentations_id": [10, 10, 11, 11, 12, 12],
        "mean_response": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        "image_name": ["im0", "im0", "im1", "im1", "im0", "im0"]}).sample(frac=1, random_state=0)
    X, y = design_matrix(table)
    assert X.shape == (3, 2) and list(X.columns) == [1, 2] and list(X.index) == [10, 11, 12]
    assert X.loc[11, 2] == 0.4 and list(y) == ["im0", "im1", "im0"]
    with pytest.raises(ValueError, match="lack some cells"):
        design_matrix(table.iloc[1:])
    with pytest.raises(ValueError, match="appear twice"):
        design_matrix(pd.concat([table, table.iloc[:1]]))
    with pytest.raises(ValueError, match="no column"):
        design_matrix(table, label="stimulus")


def test_window_features_known_sums():
    counts = xr.DataArray(np.arange(2 * 8 * 3).reshape(2, 8, 3), dims=("epoch", "time", "unit"),
                          coords={"time": np.arange(8) * 0.5 - 1.75, "unit": [7, 8, 9],
                                  "stimulus_name": ("epoch", ["flashes", "gabors"])},
                          attrs={"bin_size": 0.5})
    X, y, groups = window_features(counts, window_s=1.0, start_s=0.0)
    # bins at 0.25, 0.75 | 1.25, 1.75 -> two 1 s windows per epoch
    assert X.shape == (4, 3) and list(y) == ["flashes", "flashes", "gabors", "gabors"]
    assert X.loc[(0, 0), 7] == counts.values[0, 4, 0] + counts.values[0, 5, 0]
    assert list(groups) == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="whole number"):
        window_features(counts, window_s=0.7)


@pytest.fixture(scope="module")
def image_matrix(ophys_experiments):
    from course_utils.experiments import session_trace_array
    from course_utils.responses import stimulus_response_table
    stim = ophys_experiments[EXPERIMENTS[0]].stimulus_presentations
    flashes = stim[stim["stimulus_block_name"] == "change_detection_behavior"]
    flashes = flashes[~flashes["omitted"].astype(bool)]
    table = stimulus_response_table(session_trace_array(ophys_experiments, "dff"), flashes)
    return design_matrix(table)


def test_sample_runs_show_one_image_each(ophys_experiments):
    """Between two changes the task repeats one image (omitted flashes aside)."""
    stim = ophys_experiments[EXPERIMENTS[0]].stimulus_presentations
    flashes = stim[stim["stimulus_block_name"] == "change_detection_behavior"]
    runs = runs_between_changes(flashes["is_change"])
    shown = ~flashes["omitted"].astype(bool)
    assert runs.iloc[-1] == flashes["is_change"].sum()
    assert (flashes["image_name"][shown].groupby(runs[shown]).nunique() == 1).all()


def test_sample_images_decodable_above_permutation_chance(image_matrix):
    X, y = image_matrix
    assert X.shape == (len(y), 53) and y.nunique() == 8
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    score, permuted, p_value = permutation_test_score(
        linear_svm(), X.values, y.values, cv=cv, n_permutations=29, random_state=0)
    assert p_value < 0.05
    assert 1 / 8 + 0.2 < score < 0.95            # well above chance, below perfect
    assert permuted.mean() < 1 / 8 + 0.05


def test_sample_shuffled_labels_at_chance(image_matrix):
    X, y = image_matrix
    shuffled = y.sample(frac=1, random_state=0).to_numpy()
    result = decode(X, shuffled, n_splits=5, seed=0)
    assert abs(result.scores["balanced_accuracy"].mean() - 1 / 8) < 0.04
