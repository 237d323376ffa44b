"""Decoding stimuli from population activity with scikit-learn, done carefully.

Design matrices are built without any scaling: standardisation belongs inside the
cross-validated ``Pipeline``, so that it is fitted on training rows only and nothing of
the test rows leaks into it.

A toy stimulus-response table: 40 presentations of two images, three cells, and cell
11 responds to image "a" only.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> table = pd.DataFrame({"stimulus_presentations_id": np.repeat(np.arange(40), 3),
...                       "cell_specimen_id": np.tile([11, 12, 13], 40),
...                       "image_name": np.repeat(["a", "b"] * 20, 3)})
>>> tuned = (table["image_name"] == "a") & (table["cell_specimen_id"] == 11)
>>> table["mean_response"] = rng.normal(0, 0.2, len(table)) + tuned   # dF/F
>>> X, y = design_matrix(table)                   # X: (presentation, cell), y: image
>>> X.shape
(40, 3)
>>> result = decode(X, y, n_splits=5, seed=0)
>>> result.summary()                              # mean over the five folds
accuracy                1.0
balanced_accuracy       1.0
chance_most_frequent    0.5
chance_uniform          0.5
dtype: float64

Three chance levels, because "chance" depends on the score and on the guess. With K
classes: guessing uniformly at random is right 1/K of the time (``chance_uniform``);
always answering the training rows' most frequent class is right as often as that class
occurs among the test rows (``chance_most_frequent``: above 1/K when the classes are
unequal, but below it in a fold whose test rows hold little of that class, as grouped
folds can); and any guess that ignores the data has a *balanced* accuracy of at most
1/K, whatever the class sizes. So compare ``accuracy`` with ``chance_most_frequent`` and
``balanced_accuracy`` with ``chance_uniform``. A label-permutation test measures the
chance level of the exact pipeline.

Flashes of a change-detection session come in runs of one image between two changes;
:func:`runs_between_changes` numbers them, for grouped cross-validation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from . import _checks


def linear_svm(seed: int = 0, class_weight=None) -> Pipeline:
    """Standardise each feature (fitted on the training rows), then a linear SVM."""
    return make_pipeline(StandardScaler(),
                         LinearSVC(C=1.0, dual=False, class_weight=class_weight,
                                   random_state=seed, max_iter=5000))


def design_matrix(table: pd.DataFrame, value: str = "mean_response",
                  label: str = "image_name", row: str = "stimulus_presentations_id",
                  column: str = "cell_specimen_id") -> tuple[pd.DataFrame, pd.Series]:
    """Presentations x cells features and their labels from a stimulus-response table.

    Returns ``X`` (DataFrame, one row per ``row`` id, one column per ``column`` id,
    values ``value``) and ``y`` (Series of ``label``, same index as ``X``). Raises
    ``ValueError`` when a (row, column) pair repeats, a row lacks a cell, or a row has
    more than one label.
    """
    missing = [c for c in (value, label, row, column) if c not in table.columns]
    if missing:
        raise ValueError(f"the table has no column(s) {missing}; expected a stimulus-"
                         "response table (course_utils.responses.stimulus_response_table)")
    if table.duplicated([row, column]).any():
        raise ValueError(f"some ({row}, {column}) pairs appear twice; one value per pair "
                         "is needed")
    X = table.pivot(index=row, columns=column, values=value)
    if X.isna().any().any():
        bad = X.index[X.isna().any(axis=1)][:5].tolist()
        raise ValueError(f"rows {bad} lack some cells' values (NaN); drop those "
                         "presentations (e.g. windows that run past the recording)")
    labels = table.groupby(row)[label].nunique()
    if (labels > 1).any():
        raise ValueError(f"some {row} carry more than one {label!r}")
    y = table.drop_duplicates(row).set_index(row)[label].reindex(X.index)
    X.columns.name = column
    return X, y


def window_features(counts: xr.DataArray, window_s: float = 1.0, start_s: float = 0.0,
                    label: str = "stimulus_name") -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Spike counts summed in consecutive windows, as rows for a decoder.

    ``counts``: (epoch, time, unit) from :func:`course_utils.ecephys.epoch_spike_counts`.
    Bins with centres at or after ``start_s`` are grouped into windows of ``window_s``
    seconds (a whole number of bins; a last partial window is dropped).

    Returns ``X`` (rows = (epoch, window), columns = unit ids, spike counts), ``y`` (the
    epoch's ``label``) and ``groups`` (the epoch number), so that cross-validation can
    keep windows of one epoch together.
    """
    bin_size = float(counts.attrs["bin_size"])
    per_window = int(round(window_s / bin_size))
    if per_window < 1 or abs(per_window * bin_size - window_s) > 1e-6:
        raise ValueError(f"window_s={window_s} is not a whole number of {bin_size} s bins")
    after = counts.sel(time=slice(start_s, None))
    n_windows = after.sizes["time"] // per_window
    if n_windows == 0:
        raise ValueError("no complete window after start_s")
    after = after.isel(time=slice(0, n_windows * per_window))
    summed = after.coarsen(time=per_window).sum()               # (epoch, window, unit)
    n_epochs = summed.sizes["epoch"]
    values = summed.transpose("epoch", "time", "unit").values.reshape(n_epochs * n_windows, -1)
    index = pd.MultiIndex.from_product([range(n_epochs), range(n_windows)],
                                       names=["epoch", "window"])
    X = pd.DataFrame(values, index=index, columns=pd.Index(counts["unit"].values, name="unit"))
    y = pd.Series(np.repeat(counts[label].values, n_windows), index=index, name=label)
    groups = pd.Series(np.repeat(np.arange(n_epochs), n_windows), index=index, name="epoch")
    return X, y, groups


def runs_between_changes(is_change) -> np.ndarray | pd.Series:
    """Number each image flash of a change-detection session by its run of repeats.

    The task shows one image again and again until it changes. A *run* is the stretch
    of flashes from one change up to the next: it starts at a change flash, and the
    flashes before the first change form the first run. Flashes of one run show the same
    image a few seconds apart, so their responses are alike beyond the image (slow drifts
    of the signal, the calcium indicator's decay carried over from the flash before).
    Cross-validation that keeps each run in one fold (``StratifiedGroupKFold`` with these
    ids as ``groups``) never tests on a near-copy of a training flash.

    Parameters
    ----------
    is_change : (n_flashes,) bool or 0/1, array-like or Series
        One value per flash, in presentation order: the ``is_change`` column of the
        change-detection block of ``stimulus_presentations``. Omitted flashes may stay
        in (they are never changes); other stimulus blocks must be left out first.

    Returns
    -------
    (n_flashes,) int64 run ids: the number of changes up to and including each flash
    (0, 0, ..., 1, 1, ..., 2, ...; the ids start at 1 when the first flash is a change).
    A Series on ``is_change``'s index, named ``"run"``, when ``is_change`` is a Series.

    Examples
    --------
    >>> runs_between_changes([False, False, True, False, False, True, False]).tolist()
    [0, 0, 1, 1, 1, 2, 2]
    """
    index = is_change.index if isinstance(is_change, pd.Series) else None
    if index is not None:
        is_change = is_change.to_numpy(dtype=float, na_value=np.nan)
    flags = _checks.float_array(is_change, "is_change", 1)
    if not np.isfinite(flags).all():
        first = int(np.flatnonzero(~np.isfinite(flags))[0])
        raise ValueError(f"is_change is missing (NaN) at flash {first}: keep only the "
                         "change-detection block's flashes, e.g. stimulus[stimulus["
                         "'stimulus_block_name'] == 'change_detection_behavior']")
    bad = ~np.isin(flags, (0.0, 1.0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"is_change must be True/False (or 1/0), got {flags[first]:g} at "
                         f"flash {first}")
    runs = np.cumsum(flags.astype(bool), dtype=np.int64)
    return runs if index is None else pd.Series(runs, index=index, name="run")


@dataclass
class DecodingResult:
    """Per-fold scores and the pooled confusion matrix of :func:`decode`."""
    scores: pd.DataFrame        # fold, n_train, n_test, accuracy, balanced_accuracy,
                                # chance_most_frequent, chance_uniform
    confusion: pd.DataFrame     # true label x predicted label, rows sum to 1
    labels: list

    def summary(self) -> pd.Series:
        """Mean over folds, rounded for printing: ``accuracy``, ``balanced_accuracy``
        and their chance levels ``chance_most_frequent`` and ``chance_uniform`` (1/K)."""
        return self.scores[["accuracy", "balanced_accuracy", "chance_most_frequent",
                            "chance_uniform"]].mean().round(3)


def _check(X, y, n_splits: int) -> tuple[np.ndarray, np.ndarray]:
    Xa = np.asarray(X, dtype=float)
    ya = np.asarray(y)
    if Xa.ndim != 2:
        raise ValueError(f"X must be 2-D (samples x features), got shape {Xa.shape}")
    if len(ya) != len(Xa):
        raise ValueError(f"X has {len(Xa)} rows but y has {len(ya)} labels")
    if not np.isfinite(Xa).all():
        rows = np.flatnonzero(~np.isfinite(Xa).all(axis=1))[:5].tolist()
        raise ValueError(f"X contains NaN or infinite values (rows {rows} ...); drop or "
                         "fill them before decoding")
    classes, n_per_class = np.unique(ya, return_counts=True)
    if classes.size < 2:
        raise ValueError(f"only one class ({classes.tolist()}) in y: nothing to decode")
    if n_per_class.min() < n_splits:
        few = {str(c): int(n) for c, n in zip(classes, n_per_class) if n < n_splits}
        raise ValueError(f"too few samples in class(es) {few} for {n_splits}-fold "
                         "cross-validation: each class needs at least n_splits samples")
    return Xa, ya


def _splits(cv, Xa: np.ndarray, ya: np.ndarray, groups) -> list:
    """The (train, test) index pairs of a splitter, or of a list of them, checked."""
    if hasattr(cv, "split"):
        return list(cv.split(Xa, ya, groups))
    if groups is not None:
        raise ValueError("groups is used only with a splitter (e.g. StratifiedGroupKFold); "
                         "a list of (train, test) pairs already says which rows go together")
    try:
        pairs = [(np.asarray(train), np.asarray(test)) for train, test in cv]
    except (TypeError, ValueError):
        raise ValueError("cv must be a splitter (with a split method) or a list of "
                         f"(train, test) index arrays, got {type(cv).__name__}") from None
    for fold, (train, test) in enumerate(pairs):
        for name, rows in (("train", train), ("test", test)):
            if rows.ndim != 1 or rows.size == 0 or rows.dtype.kind not in "iu" or \
                    rows.min() < 0 or rows.max() >= len(ya):
                raise ValueError(f"fold {fold}: the {name} rows must be a non-empty 1-D "
                                 f"array of row numbers 0..{len(ya) - 1}")
        if np.intersect1d(train, test).size:
            raise ValueError(f"fold {fold}: some rows are in both train and test")
    return pairs


def decode(X, y, n_splits: int = 5, seed: int = 0, model=None, cv=None,
           groups=None) -> DecodingResult:
    """Cross-validated decoding of ``y`` from ``X``.

    Parameters
    ----------
    X : (n_samples, n_features) features, e.g. from :func:`design_matrix`.
    y : (n_samples,) labels.
    n_splits, seed : stratified k-fold, shuffled with ``seed`` (ignored if ``cv`` given).
    model : a scikit-learn estimator; default :func:`linear_svm`. Cloned for each fold.
    cv, groups : another splitter (e.g. ``StratifiedGroupKFold``) and its groups; or, as
        ``cv`` alone, a list of (train, test) row-number arrays, such as
        ``list(StratifiedGroupKFold(5).split(X, y, groups))`` made once and reused.

    Returns
    -------
    DecodingResult with ``scores``, one row per fold: ``fold``, ``n_train``, ``n_test``,
    ``accuracy``, ``balanced_accuracy`` (the mean of the per-class recalls) and two
    chance levels: ``chance_most_frequent``, the accuracy of always answering the
    training rows' most frequent class (the chance to compare ``accuracy`` with), and
    ``chance_uniform``, 1/K for the K classes among the test rows (the chance of
    ``balanced_accuracy`` for any guess that ignores ``X``, whatever the class sizes; also
    the accuracy of guessing uniformly at random). ``confusion``: rows true label,
    columns predicted, each row sums to 1.
    """
    Xa, ya = _check(X, y, n_splits if cv is None else 2)
    model = linear_svm(seed) if model is None else model
    cv = StratifiedKFold(n_splits, shuffle=True, random_state=seed) if cv is None else cv
    labels = sorted(np.unique(ya).tolist())
    rows, pooled = [], np.zeros((len(labels), len(labels)))
    for fold, (train, test) in enumerate(_splits(cv, Xa, ya, groups)):
        fitted = clone(model).fit(Xa[train], ya[train])
        predicted = fitted.predict(Xa[test])
        dummy = DummyClassifier(strategy="most_frequent").fit(Xa[train], ya[train])
        rows.append({"fold": fold, "n_train": len(train), "n_test": len(test),
                     "accuracy": accuracy_score(ya[test], predicted),
                     "balanced_accuracy": balanced_accuracy_score(ya[test], predicted),
                     "chance_most_frequent": accuracy_score(ya[test],
                                                            dummy.predict(Xa[test])),
                     "chance_uniform": 1 / np.unique(ya[test]).size})
        pooled += confusion_matrix(ya[test], predicted, labels=labels)
    with np.errstate(invalid="ignore"):
        normalised = pooled / pooled.sum(axis=1, keepdims=True)
    confusion = pd.DataFrame(normalised, index=pd.Index(labels, name="true"),
                             columns=pd.Index(labels, name="predicted"))
    return DecodingResult(pd.DataFrame(rows), confusion, labels)
