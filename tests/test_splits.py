import numpy as np
import pytest

from fer_helpers.datasets import subject_holdout, subject_kfold


def _subjects(n_subjects=23, seed=0):
    rng = np.random.default_rng(seed)
    subjects = np.repeat([f"S{i:03d}" for i in range(n_subjects)], rng.integers(2, 9, n_subjects))
    labels = rng.integers(0, 8, len(subjects))
    return subjects, labels


@pytest.mark.parametrize("k", [3, 10])
def test_subject_kfold_is_subject_disjoint_and_covers_everything(k):
    subjects, labels = _subjects()
    folds = subject_kfold(subjects, k, labels, seed=1)
    assert len(folds) == k
    seen = np.concatenate([te for _, te in folds])
    assert sorted(seen.tolist()) == list(range(len(subjects)))  # each image tested once
    for tr, te in folds:
        assert not set(subjects[tr]) & set(subjects[te])
        assert len(tr) + len(te) == len(subjects)
    # each subject's images all fall in one test fold
    for s in np.unique(subjects):
        assert sum(bool(np.isin(np.flatnonzero(subjects == s), te).any()) for _, te in folds) == 1


def test_kfold_needs_enough_subjects():
    with pytest.raises(ValueError, match="10 folds need at least 10 subjects"):
        subject_kfold(np.array(["a", "b", "c"] * 4), 10)


def test_holdout_stays_inside_the_training_side():
    subjects, labels = _subjects()
    tr, te = subject_kfold(subjects, 5, labels)[0]
    fit, val = subject_holdout(tr, subjects, 0.2, seed=0)
    assert set(fit) | set(val) == set(tr) and not set(fit) & set(val)
    assert not set(subjects[val]) & set(subjects[fit])
    assert not set(val) & set(te)
