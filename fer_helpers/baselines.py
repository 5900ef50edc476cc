"""The lines every accuracy stands beside: chance, the majority class, and the AU ceiling.

- **Chance**: one over the number of classes the test sides contain.
- **Majority baseline**: predict the training side's most frequent class for every test
  image (computed per fold, from the training side only).
- **AU ceiling**: a logistic regression on the FACS codes of each image (presence and
  intensity per AU), trained and tested on the very same subject-disjoint folds as the CNN.
  It says how much of the emotion the action units determine. On SynthFACS the emotion is
  built from the AUs, so the ceiling is near 100 %; on real CK+ it is computed the same way
  from the real FACS files. A CNN far below it has not learned what the data allows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

#: A model more than this far below its AU ceiling (accuracy or UF1, 0-1) is called far
#: below it: a problem to fix, not a finding (chapters 5 and 6).
FAR_BELOW = 0.10


def au_features(au_presence: np.ndarray, au_intensity: np.ndarray | None) -> np.ndarray:
    """One row per image: AU presence (0/1) then intensity (0-5; "present, not coded" = 0).

    Uncoded frames (e.g. CK+'s neutral first frames) have no AU present, so all zeros.
    """
    pres = np.asarray(au_presence, float)
    if au_intensity is None:
        return pres
    inten = np.nan_to_num(np.asarray(au_intensity, float), nan=0.0)
    return np.hstack([pres, inten])


def majority(y_train: np.ndarray, y_test: np.ndarray) -> float:
    """Accuracy of always predicting the training side's most frequent class."""
    values, counts = np.unique(np.asarray(y_train), return_counts=True)
    return float((np.asarray(y_test) == values[counts.argmax()]).mean())


def chance(y_test: np.ndarray) -> float:
    """One over the number of classes present among the test labels."""
    return 1.0 / len(np.unique(np.asarray(y_test)))


def au_ceiling(features: np.ndarray, labels: np.ndarray, train_idx, test_idx,
               seed: int = 0) -> float:
    """Test accuracy of a logistic regression on ``features`` (e.g. :func:`au_features`)."""
    clf = make_pipeline(StandardScaler(),
                        LogisticRegression(C=10.0, max_iter=2000, random_state=seed))
    clf.fit(features[train_idx], labels[train_idx])
    return float((clf.predict(features[test_idx]) == labels[test_idx]).mean())


def reference_lines(labels: np.ndarray, triples, features: np.ndarray | None = None
                    ) -> pd.DataFrame:
    """Chance, majority baseline and (with ``features``) the AU ceiling, per fold.

    Parameters
    ----------
    labels : (n,) int
    triples : list of (fit, val, test) index arrays
        The folds the CNN was trained on (:func:`fer_helpers.crossval.splits`); the
        baselines train on fit + val, as the CNN's training side, and test on test.
    features : (n, d) array, optional
        AU features per image; without them the ceiling is NaN (no FACS codes).

    Returns
    -------
    pandas.DataFrame
        One row per fold: ``chance``, ``majority baseline``, ``AU ceiling``.
    """
    labels = np.asarray(labels)
    rows = []
    for fit_idx, val_idx, test_idx in triples:
        train_idx = np.concatenate([fit_idx, val_idx])
        rows.append({"chance": chance(labels[test_idx]),
                     "majority baseline": majority(labels[train_idx], labels[test_idx]),
                     "AU ceiling": (au_ceiling(features, labels, train_idx, test_idx)
                                    if features is not None else np.nan)})
    return pd.DataFrame(rows).rename_axis("fold")


def for_cv(ds, cv, features: np.ndarray | None = None) -> pd.DataFrame:
    """:func:`reference_lines` on the folds of a cross-validation run ``cv`` of ``ds``.

    ``features`` default: the dataset's own AU codes (:func:`au_features`), when it has them.
    """
    from .crossval import labelled

    ds = labelled(ds)
    if features is None and ds.au_presence is not None:
        features = au_features(ds.au_presence, ds.au_intensity)
    return reference_lines(ds.labels, cv.splits, features)


def synthfacs_fer_features(ds, truth_csv) -> np.ndarray | None:
    """AU features of a SynthFACS FER2013 file's rows, from its ground truth CSV (None if
    the file is missing: real FER2013 has no AU codes)."""
    from pathlib import Path

    truth_csv = Path(truth_csv)
    if not truth_csv.is_file():
        return None
    truth = pd.read_csv(truth_csv).set_index("row")
    rows = [int(str(p).rsplit("#", 1)[1]) - 1 for p in ds.paths]  # paths carry 1-based rows
    inten = truth.loc[rows, [c for c in truth.columns if c.startswith("AU")]].to_numpy(float)
    return au_features(inten > 0, inten)


def format_table(results: dict, lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-fold test accuracy of each run in ``results`` (name -> CVResult) beside the
    reference lines, as percentages, with a last row "mean ± sd"."""
    cols = {name: r.accuracies for name, r in results.items()}
    if lines is not None:
        cols.update({c: lines[c].to_numpy() for c in lines.columns})
    n = max(len(v) for v in cols.values())
    table = {}
    for name, v in cols.items():
        v = np.asarray(v, float)
        cells = [f"{x:.1%}" if np.isfinite(x) else "n/a" for x in v] + [""] * (n - len(v))
        sd = f" ± {100 * v.std(ddof=1):.1f}" if len(v) > 1 and np.isfinite(v).all() else ""
        mean = f"{100 * v.mean():.1f}{sd} %" if np.isfinite(v).all() else "n/a"
        table[name] = [*cells, mean]
    return pd.DataFrame(table, index=pd.Index([*(f"fold {k}" for k in range(n)), "mean ± sd"],
                                               name=""))
