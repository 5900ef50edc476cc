"""Subject-disjoint splits: no person is ever on both sides of a split."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold


def subject_kfold(subjects, n_splits: int = 10, labels=None, seed: int = 0):
    """K folds over subjects, stratified by ``labels`` where given (scikit-learn's
    :class:`~sklearn.model_selection.StratifiedGroupKFold`).

    Returns
    -------
    list of (train_index, test_index)
        Every subject's images lie in exactly one test fold.
    """
    subjects = np.asarray(subjects)
    n_subj = len(np.unique(subjects))
    if n_subj < n_splits:
        raise ValueError(f"{n_splits} folds need at least {n_splits} subjects, got {n_subj}")
    y = np.zeros(len(subjects), int) if labels is None else np.asarray(labels)
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    folds = [(tr, te) for tr, te in cv.split(np.zeros(len(y)), y, subjects)]
    for tr, te in folds:
        assert not set(subjects[tr]) & set(subjects[te])
    return folds


def subject_holdout(index, subjects, fraction: float = 0.15, seed: int = 0):
    """Split ``index`` into (fit, validation) by subject, e.g. the training side of a fold.

    The validation subjects come from ``index`` only, so model selection never sees the
    test fold.
    """
    index = np.asarray(index)
    groups = np.asarray(subjects)[index]
    if len(np.unique(groups)) < 2:
        raise ValueError("a subject-disjoint validation split needs at least 2 subjects")
    gss = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    fit, val = next(gss.split(index, groups=groups))
    return index[fit], index[val]
