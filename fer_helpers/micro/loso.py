"""Leave-one-subject-out: the folds, what a method's run records (per fold, pooled, over
several chapter-2 models), the pooled scores, and a fold's record as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import write_text

#: Each method's name in the tables and the verdict, by its key in the results.
METHODS = {"cnn_lstm": "CNN + LSTM (the paper's model)", "lbp_top": "LBP-TOP + linear SVM",
           "apex_cnn": "apex frame, chapter-2 CNN, linear probe",
           "au_ceiling": "AU ceiling (classifier on the coded AUs)",
           "majority": "majority class of the training subjects",
           "reference_fold_size": "positive control: apex - onset CNN, other SynthFACS people, "
                                  "as many clips as a fold",
           "reference_all": "positive control: apex - onset CNN, other SynthFACS people, "
                            "all their clips",
           "reference_lstm": "stage check: the control's network (as many clips as a fold) "
                             "read over the whole clip by the paper's LSTM"}
#: The methods compared with the ceiling and the positive control (the rest are references).
COMPARED = ("cnn_lstm", "lbp_top", "apex_cnn")


def scores(y_true, y_pred) -> dict:
    """Accuracy, UF1 and UAR of pooled predictions.

    UF1 is the mean over classes of ``2TP / (2TP + FP + FN)``, UAR the mean per-class recall;
    both average over the classes present among ``y_true`` (a class never true has no recall).
    """
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    present = np.unique(y_true)
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "uf1": float(f1_score(y_true, y_pred, labels=present, average="macro")),
            "uar": float(recall_score(y_true, y_pred, labels=present, average="macro"))}


def uniform_guess(y_true, n_classes: int) -> dict:
    """Scores of guessing each of ``n_classes`` classes with equal probability, from the
    expected confusion matrix: accuracy and UAR ``1 / n_classes``; UF1 the mean over the
    classes present of ``2 p / (n_classes * p + 1)`` (F1 of a class of share ``p``: precision
    ``p``, recall ``1 / n_classes``)."""
    y = np.asarray(y_true)
    share = np.array([np.mean(y == c) for c in np.unique(y)])
    return {"accuracy": 1 / n_classes, "uf1": float(np.mean(2 * share / (n_classes * share + 1))),
            "uar": 1 / n_classes}


def confusion(y_true, y_pred, classes) -> pd.DataFrame:
    """Confusion matrix of pooled predictions (rows true, columns predicted)."""
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(y_true, y_pred, labels=range(len(classes)))
    return pd.DataFrame(cm, index=pd.Index(classes, name="true"),
                        columns=pd.Index(classes, name="predicted"))


@dataclass
class Fold:
    """One leave-one-subject-out fold: the test subject and the index sets."""

    subject: str
    fit: np.ndarray  # training subjects the models are fitted on
    val: np.ndarray  # training subjects held out for model selection
    test: np.ndarray  # the test subject's clips

    @property
    def train(self) -> np.ndarray:
        """fit + val: everything on the training side."""
        return np.sort(np.concatenate([self.fit, self.val]))


def loso_folds(subjects, val_fraction: float = 0.2, seed: int = 0) -> list[Fold]:
    """One fold per subject; validation subjects drawn from each fold's training subjects."""
    from ..datasets import subject_holdout

    subjects = np.asarray(subjects)
    out = []
    for s in sorted(set(subjects.tolist())):
        test = np.flatnonzero(subjects == s)
        train = np.flatnonzero(subjects != s)
        fit, val = subject_holdout(train, subjects, val_fraction, seed)
        out.append(Fold(s, np.sort(fit), np.sort(val), test))
    return out


@dataclass
class FoldRecord:
    """What one fold of one method did: its predictions and who it was fitted on."""

    subject: str
    test_index: np.ndarray
    y_pred: np.ndarray
    fitted_on: dict  # stage -> sorted subjects whose clips that stage was fitted / selected on
    info: dict = field(default_factory=dict)  # epochs, seconds, ...


@dataclass
class MethodResult:
    """One method under LOSO: pooled predictions (clip order) and the per-fold records."""

    method: str
    description: str
    classes: tuple[str, ...]
    y_true: np.ndarray
    folds: list[FoldRecord]
    data: str

    @property
    def y_pred(self) -> np.ndarray:
        out = np.full(len(self.y_true), -1)
        for f in self.folds:
            out[f.test_index] = f.y_pred
        if (out < 0).any():
            raise ValueError(f"{self.method}: {int((out < 0).sum())} clips never tested")
        return out

    def scores(self) -> dict:
        return scores(self.y_true, self.y_pred)

    def confusion(self) -> pd.DataFrame:
        return confusion(self.y_true, self.y_pred, self.classes)

    def per_fold(self) -> pd.DataFrame:
        return pd.DataFrame([{"test subject": f.subject, "clips": len(f.test_index),
                              "accuracy": float(np.mean(self.y_true[f.test_index] == f.y_pred)),
                              **f.info} for f in self.folds])


class Repeated:
    """One method run from several chapter-2 models (same folds, same clips): scores are
    means over the runs, :meth:`spread` their standard deviation and values; the per-fold
    records and the confusion matrix cover every run."""

    def __init__(self, runs: list[MethodResult], sources: list[str]):
        if len(runs) != len(sources) or not runs:
            raise ValueError(f"{len(runs)} runs for {len(sources)} sources")
        self.runs, self.sources = runs, list(sources)
        first = runs[0]
        self.method, self.classes, self.y_true = first.method, first.classes, first.y_true
        self.data = first.data
        self.description = (f"{first.description}; run from each of {len(runs)} chapter-2 "
                            "models")
        self.folds = [f for r in runs for f in r.folds]

    def scores(self) -> dict:
        each = [r.scores() for r in self.runs]
        return {k: float(np.mean([e[k] for e in each])) for k in each[0]}

    def spread(self) -> dict:
        """``uf1_sd`` (sample sd, ``ddof=1``; 0 for one run), ``uf1_runs``, ``runs``."""
        u = [r.scores()["uf1"] for r in self.runs]
        return {"uf1_sd": float(np.std(u, ddof=1)) if len(u) > 1 else 0.0,
                "uf1_runs": u, "runs": len(u)}

    def confusion(self) -> pd.DataFrame:
        return sum(r.confusion() for r in self.runs)

    def per_fold(self) -> pd.DataFrame:
        return pd.concat([r.per_fold().assign(**{"chapter-2 model": s})
                          for r, s in zip(self.runs, self.sources, strict=True)],
                         ignore_index=True)


def _spread(r) -> dict | None:
    """:meth:`Repeated.spread` of a result run from more than one model, else ``None``."""
    return r.spread() if isinstance(r, Repeated) and len(r.runs) > 1 else None


def _subjects(subjects, idx) -> list[str]:
    return sorted(set(np.asarray(subjects)[idx].tolist()))


def save_record(path, rec: FoldRecord) -> None:
    """A fold's record as JSON (atomically)."""
    write_text(path, json.dumps({"subject": rec.subject, "test_index": rec.test_index.tolist(),
                                 "y_pred": np.asarray(rec.y_pred).tolist(),
                                 "fitted_on": rec.fitted_on, "info": rec.info},
                                allow_nan=True))


def load_record(path) -> FoldRecord:
    """A fold's record written by :func:`save_record`."""
    r = json.loads(Path(path).read_text())
    return FoldRecord(r["subject"], np.array(r["test_index"]), np.array(r["y_pred"]),
                      r["fitted_on"], r["info"])
