"""The baselines measured beside the CNN + LSTM on the same LOSO folds: the majority class,
the AU ceiling, LBP-TOP + linear SVM and the apex frame through chapter 2's CNN (a linear
probe); with the helpers that read a Keras model up to a layer."""

from __future__ import annotations

import numpy as np

from .. import lbptop
from .data import MicroData
from .loso import METHODS, Fold, FoldRecord, MethodResult, _subjects

#: Inverse regularisation of the apex probe's logistic regression (:func:`apex_cnn`).
PROBE_C = 1.0


def _per_fold(data: MicroData, folds: list[Fold], x: np.ndarray, make, method: str,
              description: str, stage: str) -> MethodResult:
    """``make()`` (a scikit-learn estimator) fitted per fold on the rows of ``x`` of all its
    training subjects and tested on its test subject; ``stage`` names the fit in each
    fold's ``fitted_on``. A fold whose training side has one class predicts that class."""
    recs = []
    for f in folds:
        y = data.labels[f.train]
        pred = (np.full(len(f.test), y[0]) if len(np.unique(y)) < 2 else
                make().fit(x[f.train], y).predict(x[f.test]))
        recs.append(FoldRecord(f.subject, f.test, pred,
                               {stage: _subjects(data.subjects, f.train)}))
    return MethodResult(method, description, data.classes, data.labels, recs,
                        data.description)


def majority(data: MicroData, folds: list[Fold]) -> MethodResult:
    """Always the training side's most frequent class, per fold."""
    from sklearn.dummy import DummyClassifier

    return _per_fold(data, folds, np.zeros((len(data), 1)),
                     lambda: DummyClassifier(strategy="most_frequent"), "majority",
                     "majority class of the training subjects", "majority")


def au_ceiling(data: MicroData, folds: list[Fold]) -> MethodResult:
    """The ceiling the coding allows: a logistic regression on each clip's coded AUs (one
    column per AU and side), fitted per fold on the training subjects. On SynthFACS the class
    follows from the AUs, so this is what a method reading the faces could reach; on real
    CASME II it says how far the coded AUs alone determine the estimated emotion."""
    from sklearn.linear_model import LogisticRegression

    names = sorted({str(a) for c in data.clips for a in c.aus})
    col = {n: i for i, n in enumerate(names)}
    x = np.zeros((len(data.clips), max(len(names), 1)), np.float32)
    for i, c in enumerate(data.clips):
        for a in c.aus:
            x[i, col[str(a)]] = 1.0
    return _per_fold(data, folds, x, lambda: LogisticRegression(C=10.0, max_iter=5000),
                     "au_ceiling", METHODS["au_ceiling"], "au_ceiling")


def lbp_top(data: MicroData, folds: list[Fold], settings: lbptop.LBPTop | None = None
            ) -> MethodResult:
    """LBP-TOP + linear SVM, one SVM per fold fitted on all its training subjects."""
    settings = settings or lbptop.LBPTop()
    return _per_fold(data, folds, lbptop.features(data.lbp, settings),
                     lambda: lbptop.svm(settings), "lbp_top", settings.describe(), "svm")


# ------------------------------------------------------------------------ the CNN parts
def layer_output(model, images: np.ndarray, layer: str, batch_size: int = 256
                 ) -> np.ndarray:
    """``(n, ...)`` float32: ``images`` (n, S, S) through ``model`` up to ``layer``."""
    import keras

    from ..training import as_input

    sub = keras.Model(model.input, model.get_layer(layer).output)
    return np.asarray(sub.predict(as_input(images), batch_size=batch_size, verbose=0),
                      np.float32)


def conv_features(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``(n, d)`` float32: ``images`` (n, S, S) through ``model`` up to ``flatten``."""
    return layer_output(model, images, "flatten", batch_size)


def _fc1(model, conv: np.ndarray) -> np.ndarray:
    """ReLU(fc1) of flattened conv features, in float32 numpy (exact, no Keras call)."""
    w, b = model.get_layer("fc1").get_weights()
    return np.maximum(conv @ w + b, 0).astype(np.float32)


def apex_cnn(data: MicroData, folds: list[Fold], source, conv_apex: np.ndarray | None = None,
             C: float = PROBE_C) -> MethodResult:
    """The apex frame through chapter 2's CNN alone: a **linear probe**.

    The chapter-2 model is frozen; its ``fc1`` features (512, after ReLU) of each clip's apex
    frame feed a standardised logistic regression (C = 1, no model selection) fitted per fold
    on all training subjects.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    conv = conv_features(source, data.key[:, 1]) if conv_apex is None else conv_apex
    return _per_fold(data, folds, _fc1(source, conv),
                     lambda: make_pipeline(StandardScaler(),
                                           LogisticRegression(C=C, max_iter=3000)),
                     "apex_cnn", "apex frame -> chapter-2 CNN fc1 (frozen) -> logistic "
                     "regression (linear probe)", "probe")
