"""Cross-validation as the paper reports it, and the FER2013 official-split protocol.

Each fold trains on some subjects and tests on others (no subject on both sides); the
epoch is chosen on a validation split of the *training* subjects. Results (per-fold JSON,
logs, ``.keras`` models) go to an artifacts folder keyed by everything that decides them,
so :func:`train_or_load` reuses a finished run and retrains when anything changed.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from . import __version__, models, training
from .datasets import FaceDataset, subject_holdout, subject_kfold
from .io import write_text
from .labels import LabelSpace


def code_version() -> str:
    """Hash of the package version and the source of the modules that decide a result."""
    h = hashlib.sha256(__version__.encode())
    for mod in (models, training):
        h.update(inspect.getsource(mod).encode())
    h.update(inspect.getsource(inspect.getmodule(code_version)).encode())
    return h.hexdigest()[:12]


def fingerprint(ds: FaceDataset) -> str:
    """Hash of a dataset's images, labels, subjects and splits."""
    h = hashlib.sha256(np.ascontiguousarray(ds.images).tobytes())
    h.update(np.asarray(ds.labels, np.int64).tobytes())
    for extra in (ds.subjects, ds.split):
        if extra is not None:
            h.update("\x00".join(map(str, extra)).encode())
    return h.hexdigest()[:16]


@dataclass
class FoldResult:
    """One fold: test accuracy, the selected epoch, predictions and learning curve."""

    fold: int
    accuracy: float
    best_epoch: int
    best_val_accuracy: float
    n_train: int
    n_val: int
    n_test: int
    y_true: np.ndarray
    y_pred: np.ndarray
    test_subjects: list
    model_path: Path
    history: pd.DataFrame = field(repr=False)


@dataclass
class CVResult:
    """All folds of one model on one dataset."""

    model: str
    data: str  # plain description of the data, e.g. "SynthFACS (synthetic), CK+ layout"
    label_space: LabelSpace
    protocol: str
    precision: str
    config: dict
    folds: list[FoldResult]
    path: Path
    splits: list = field(default_factory=list, repr=False)  # (fit, val, test) per fold

    def table(self) -> pd.DataFrame:
        """Per-fold accuracy, selected epoch and sizes."""
        return pd.DataFrame([{"fold": f.fold, "test accuracy": f.accuracy,
                              "selected epoch": f.best_epoch + 1,
                              "val accuracy (training subjects)": f.best_val_accuracy,
                              "train": f.n_train, "val": f.n_val, "test": f.n_test}
                             for f in self.folds])

    @property
    def accuracies(self) -> np.ndarray:
        return np.array([f.accuracy for f in self.folds])

    @property
    def mean(self) -> float:
        return float(self.accuracies.mean())

    @property
    def std(self) -> float:
        """Standard deviation over folds (0 for a single split)."""
        return float(self.accuracies.std(ddof=1)) if len(self.folds) > 1 else 0.0

    def summary(self) -> str:
        """'mean ± std %' as the paper reports it."""
        return f"{100 * self.mean:.2f} ± {100 * self.std:.2f}%"

    def confusion(self) -> pd.DataFrame:
        """Confusion matrix summed over folds (rows: true class, columns: predicted)."""
        y = np.concatenate([f.y_true for f in self.folds])
        p = np.concatenate([f.y_pred for f in self.folds])
        names = list(self.label_space.names)
        cm = confusion_matrix(y, p, labels=range(len(names)))
        return pd.DataFrame(cm, index=pd.Index(names, name="true"),
                            columns=pd.Index(names, name="predicted"))

    def recall(self) -> pd.Series:
        """Per-class recall over all folds (NaN for classes absent from the test sides)."""
        cm = self.confusion()
        with np.errstate(invalid="ignore", divide="ignore"):
            return pd.Series(np.diag(cm) / cm.sum(axis=1).to_numpy(), index=cm.index,
                             name="recall")

    def histories(self) -> pd.DataFrame:
        """Learning curves of all folds, long format (fold, epoch, metric columns)."""
        return pd.concat([f.history.assign(fold=f.fold) for f in self.folds], ignore_index=True)


#: What a network is trained to predict (see :func:`train_or_load`).
TARGETS = ("emotion", "shuffled", "au")


def _targets(ds: FaceDataset, target: str, fit_idx, val_idx, seed: int):
    """(fit labels, val labels) for ``target``."""
    if target == "au":
        if ds.au_presence is None:
            raise ValueError("target 'au' needs AU codes (CK+ FACS files or SynthFACS)")
        y = ds.au_presence.astype(np.float32)
        return y[fit_idx], y[val_idx]
    if target == "emotion":
        return ds.labels[fit_idx], ds.labels[val_idx]
    # shuffled: labels permuted over groups of images that share one (a sequence's peak
    # frames, its neutral frame), so near-identical frames keep a common, random label
    rng = np.random.default_rng([seed, 17])
    out = []
    for idx in (fit_idx, val_idx):
        seq = [f"{Path(str(p)).parent}|{y}" for p, y in zip(ds.paths[idx], ds.labels[idx],
                                                             strict=True)]
        _, first, inverse = np.unique(seq, return_index=True, return_inverse=True)
        out.append(rng.permutation(ds.labels[idx][first])[inverse])
    return out[0], out[1]


def _run_fold(ds, fold, fit_idx, val_idx, test_idx, model_name, config, workdir, quiet,
              target="emotion"):
    shape = ds.images.shape[1:] if ds.images.ndim == 4 else (*ds.images.shape[1:], 1)
    y_fit, y_val = _targets(ds, target, fit_idx, val_idx, config.seed)
    au = target == "au"
    n_out = y_fit.shape[1] if au else len(ds.label_space)
    res = training.fit(lambda: models.build(model_name, shape, n_out,
                                            "sigmoid" if au else "softmax"),
                       (ds.images[fit_idx], y_fit), (ds.images[val_idx], y_val), config,
                       workdir, label=f"{model_name} fold {fold}: ", quiet=quiet,
                       loss="binary_crossentropy" if au else "sparse_categorical_crossentropy",
                       select="last" if target == "shuffled" else "val")
    prob = res.model.predict(training.as_input(ds.images[test_idx]), batch_size=256, verbose=0)
    if au:  # mean per-AU accuracy (the paper's AU metric); no emotion prediction
        y_true, y_pred = ds.au_presence[test_idx].astype(int), (prob >= 0.5).astype(int)
    else:
        y_true, y_pred = ds.labels[test_idx], prob.argmax(axis=1)
    accuracy = float((y_pred == y_true).mean())
    subjects = sorted(set(ds.subjects[test_idx])) if ds.subjects is not None else []
    out = FoldResult(fold, accuracy, res.best_epoch,
                     res.best_val_accuracy, len(fit_idx), len(val_idx), len(test_idx),
                     y_true, y_pred, subjects, workdir / "best.keras", res.history)
    write_text(workdir / "result.json", json.dumps({
        "fold": fold, "accuracy": out.accuracy, "best_epoch": out.best_epoch,
        "best_val_accuracy": out.best_val_accuracy, "n_train": out.n_train,
        "n_val": out.n_val, "n_test": out.n_test, "y_true": y_true.tolist(),
        "y_pred": y_pred.tolist(), "test_subjects": subjects, "precision": res.precision},
        allow_nan=True))
    return out, res.precision


def _load_fold(workdir: Path) -> tuple[FoldResult, str]:
    r = json.loads((workdir / "result.json").read_text())
    return FoldResult(r["fold"], r["accuracy"], r["best_epoch"], r["best_val_accuracy"],
                      r["n_train"], r["n_val"], r["n_test"], np.array(r["y_true"]),
                      np.array(r["y_pred"]), r["test_subjects"], workdir / "best.keras",
                      training.read_log(workdir / "log.csv")), r["precision"]


def labelled(ds: FaceDataset) -> FaceDataset:
    """The rows with an emotion label (what :func:`train_or_load` trains and tests on)."""
    keep = np.flatnonzero(ds.labels >= 0)
    return ds if len(keep) == len(ds) else ds.subset(keep)


def splits(ds: FaceDataset, protocol: str, n_folds: int, config: training.TrainConfig,
           split_seed: int = 0):
    """(fit, val, test) index triples of a protocol.

    ``'subject-kfold'``: subject-disjoint folds (stratified by label); validation subjects
    drawn from each fold's training side. ``'official'``: FER2013's Usage splits (fit on
    Training, select on PublicTest, test on PrivateTest). The folds depend on ``split_seed``
    only, so runs with different ``config.seed`` (weights, shuffling) share their folds.
    """
    if protocol == "official":
        if ds.split is None:
            raise ValueError("protocol 'official' needs a dataset with Usage splits (FER2013)")
        idx = {u: np.flatnonzero(ds.split == u) for u in ("Training", "PublicTest",
                                                          "PrivateTest")}
        return [(idx["Training"], idx["PublicTest"], idx["PrivateTest"])]
    if protocol != "subject-kfold":
        raise ValueError(f"unknown protocol {protocol!r}")
    if ds.subjects is None:
        raise ValueError("subject-disjoint folds need subject ids (this dataset has none)")
    out = []
    for train_idx, test_idx in subject_kfold(ds.subjects, n_folds, ds.labels, split_seed):
        fit_idx, val_idx = subject_holdout(train_idx, ds.subjects, config.val_fraction,
                                           split_seed)
        out.append((fit_idx, val_idx, test_idx))
    return out


def train_or_load(ds: FaceDataset, model_name: str, config: training.TrainConfig,
                  artifacts, protocol: str = "subject-kfold", n_folds: int = 10,
                  data: str = "", max_folds: int | None = None, quiet: bool = False,
                  target: str = "emotion", split_seed: int = 0) -> CVResult:
    """Cross-validate ``model_name`` on ``ds``, or load the finished run with the same key.

    The key covers the model, the config, the target, the protocol and folds, the data
    fingerprint and :func:`code_version`. An unfinished run resumes fold by fold (and inside
    a fold, from its last backup). ``max_folds`` runs only the first folds of the
    ``n_folds``-fold split.

    ``target``: ``"emotion"`` (the labels); ``"shuffled"`` (the labels permuted over each
    fold's training side, the last epoch kept: a network that can only memorise); ``"au"``
    (AU presence, one sigmoid per AU: the positive control of chapter 4; its fold
    "accuracy" is the mean per-AU accuracy).
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    ds = labelled(ds)
    key_src = {"model": model_name, "config": config.to_dict(), "protocol": protocol,
               "n_folds": n_folds, "max_folds": max_folds, "data": fingerprint(ds),
               "code": code_version(),
               **({"target": target} if target != "emotion" else {}),
               **({"split_seed": split_seed} if split_seed else {})}
    key = hashlib.sha256(json.dumps(key_src, sort_keys=True).encode()).hexdigest()[:12]
    kind = model_name if target == "emotion" else f"{model_name}-{target}"
    path = Path(artifacts) / f"{kind}-{protocol}-{key}"
    folds, precision = [], None
    triples = splits(ds, protocol, n_folds, config, split_seed)
    for k, (fit_idx, val_idx, test_idx) in enumerate(triples):
        if max_folds is not None and k >= max_folds:
            break
        workdir = path / f"fold{k}"
        if (workdir / "result.json").is_file():
            fold, precision = _load_fold(workdir)
            folds.append(fold)
            if not quiet:
                print(f"{kind} fold {k}: loaded ({folds[-1].accuracy:.3f})")
            continue
        fold, precision = _run_fold(ds, k, fit_idx, val_idx, test_idx, model_name, config,
                                    workdir, quiet, target)
        folds.append(fold)
    write_text(path / "summary.json", json.dumps({**key_src, "key": key,
                                                  "precision": precision, "data_name": data,
                                                  "accuracies": [f.accuracy for f in folds]},
                                                 indent=1))
    return CVResult(model_name, data, ds.label_space, protocol, precision, config.to_dict(),
                    folds, path, triples[:len(folds)])
