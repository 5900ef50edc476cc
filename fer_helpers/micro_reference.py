"""Chapter 6's positive control on SynthFACS: what the pixels allow, given enough clips.

Every method of :mod:`fer_helpers.micro` lands far below the AU ceiling (a classifier on the
coded AUs), and the AU ceiling assumes the AUs are read perfectly. Whether the gap is the
methods' fault or the sample's, one network answers: **the paper's CNN trained from scratch on
apex - onset difference images** (:func:`difference`) of *other* SynthFACS people (their own
CASME II tree, another seed, so no person of the chapter's data), and tested on every clip
of the chapter's data. It is trained twice, on as many clips as a LOSO fold of the chapter
trains on and on all the reference clips; both are scored like the methods (pooled UF1, UAR,
accuracy).

It is a control, not a competitor: it reads the coded onset and apex (so do the apex probe
and the CNN stage of the paper's model) and it has data no real study has. It exists only on
SynthFACS, where more clips of the same distribution cost seconds; a real CASME II run has
no reference tree and skips it.

Measured while building it (Intel Xeon, 2 cores, bf16, November 2026; 26 SynthFACS subjects,
228 clips, 5 classes, AU ceiling UF1 98 %): trained on 150 / 400 / 950 other clips, UF1 55 /
75 / 84 %; a logistic regression on the same difference pixels stays at 57-64 %. The gain
(8, as in the chapter's difference figure) and the network were set before these runs and
not tuned on them; the chapter's epochs are the profile's.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .micro import GAIN, METHODS, FoldRecord, MethodResult, MicroData, change_images
from .micro.loso import _subjects

#: Seed of the reference tree (the chapter's tree uses :data:`fer_helpers.micro.SEED`, 0):
#: another seed draws other people.
REFERENCE_SEED = 1
#: Prefix of the reference subjects in :attr:`FoldRecord.fitted_on` (their folder names
#: repeat the chapter's, ``01``, ``02``, ..., but they are other people).
PREFIX = "reference sub"
#: The two fits of the control in a :class:`~fer_helpers.micro.SchemeRun`'s results.
FITS = ("reference_fold_size", "reference_all")
#: The stage check's key there (:func:`lstm_on_control`).
LSTM_CHECK = "reference_lstm"


def difference(key: np.ndarray, gain: float = GAIN) -> np.ndarray:
    """``(n, S, S)`` uint8: ``128 + gain * (apex - onset)`` of key frames ``(n, 5, S, S)``
    (onset, apex, offset, first, last), clipped to 0-255."""
    return change_images(key[:, 1], key[:, 0], gain)


def train_config(epochs: int, precision: str = "auto"):
    """The paper's optimiser (Adam, lr 1e-3, decay 1e-5), batch 32, no augmentation (a flip
    would move one-sided AUs), the epoch chosen on held-out reference subjects."""
    from .training import TrainConfig

    return TrainConfig(epochs=epochs, batch_size=32, augmentation=None, val_fraction=0.2,
                       precision=precision)


def epoch_pair(epochs) -> tuple[int, int]:
    """The epoch budgets of the control's two fits (as many clips as a fold, all clips) from
    one number for both or a pair (``micro_reference_epochs``)."""
    from numbers import Integral

    pair = (epochs, epochs) if isinstance(epochs, Integral) else epochs
    if (isinstance(pair, str) or not hasattr(pair, "__len__") or len(pair) != 2
            or not all(isinstance(e, Integral) and e > 0 for e in pair)):
        raise ValueError("micro_reference_epochs must be a positive int or a pair of them "
                         f"(fit on as many clips as a fold, fit on all clips), got {epochs!r}")
    return int(pair[0]), int(pair[1])


def describe(epochs) -> str:
    """The control's training in words, for the epoch budget of both fits or a pair
    (:func:`epoch_pair`)."""
    pair = epoch_pair(epochs)
    optimiser = train_config(pair[0]).describe().rsplit(", ", 1)[0]  # without the epochs
    budget = (f"{pair[0]} epochs" if pair[0] == pair[1] else
              f"{pair[0]} epochs on as many clips as a fold, {pair[1]} on all clips")
    return f"{optimiser}, {budget}, the epoch chosen on held-out reference subjects"


def subset(subjects, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` clips: whole subjects in a seeded order, the last one cut short."""
    subjects = np.asarray(subjects)
    order = np.random.default_rng(seed).permutation(sorted(set(subjects.tolist())))
    idx = np.concatenate([np.flatnonzero(subjects == s) for s in order])
    return np.sort(idx[:n])


@dataclass
class Reference:
    """The reference clips of one class scheme: difference images, labels, subjects."""

    images: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    classes: tuple[str, ...]
    description: str

    @classmethod
    def load(cls, root, scheme: str, size: int) -> Reference:
        from .datasets import load_casme2

        ds = load_casme2(root, scheme=scheme, variant="cropped", errors="skip")
        img = difference(ds.key_frames(size, apex_fallback="middle"))
        n_subj = len(set(ds.subjects.tolist()))
        return cls(img, np.asarray(ds.labels), np.asarray(ds.subjects), tuple(ds.classes),
                   f"{n_subj} other SynthFACS (synthetic) subjects")

    def fingerprint(self) -> str:
        h = hashlib.sha256(np.ascontiguousarray(self.images).tobytes())
        h.update(np.asarray(self.labels, np.int64).tobytes())
        h.update("\x00".join(map(str, self.subjects)).encode())
        return h.hexdigest()[:16]


def fold_size(data: MicroData, folds) -> int:
    """Clips a LOSO fold of ``data`` trains its networks on (median over folds, fit + val)."""
    return int(np.median([len(f.train) for f in folds]))


def _workdir(artifacts, ref: Reference, n_clips: int, config) -> Path:
    from .crossval import code_version

    h = hashlib.sha256(json.dumps({"ref": ref.fingerprint(), "n": n_clips,
                                   "config": config.to_dict(), "code": code_version()},
                                  sort_keys=True).encode())
    h.update(inspect.getsource(inspect.getmodule(_workdir)).encode())
    return Path(artifacts) / f"micro-reference-{h.hexdigest()[:12]}"


def positive_control(data: MicroData, folds, ref: Reference, n_clips: int, config, artifacts,
                     quiet: bool = True, method: str = "reference_fold_size") -> MethodResult:
    """The difference CNN trained on ``n_clips`` reference clips, tested on all of ``data``.

    Returns a :class:`~fer_helpers.micro.MethodResult` with one record per LOSO fold of
    ``data`` (same test clips as the methods), all predicted by the one network; each
    record's ``fitted_on`` names the reference subjects (prefixed :data:`PREFIX`). The
    network is kept in ``<artifacts>/micro-reference-<key>/`` (key: the reference clips,
    ``n_clips``, the configuration and the code) and loaded, not retrained, next time.
    """
    from . import models, training
    from .datasets import subject_holdout

    if tuple(ref.classes) != tuple(data.classes):
        raise ValueError(f"the reference clips are of classes {ref.classes}, the chapter's of "
                         f"{data.classes}: load the reference with the same scheme")
    missing = sorted(set(ref.classes) - {ref.classes[i] for i in np.unique(ref.labels)})
    if missing:
        raise ValueError(f"the reference clips have no {missing}; render more reference "
                         "subjects")
    if n_clips > len(ref.labels):
        raise ValueError(f"{n_clips} clips asked, the reference has {len(ref.labels)}")
    idx = subset(ref.subjects, n_clips)
    fit, val = subject_holdout(idx, ref.subjects, config.val_fraction, config.seed)
    size = ref.images.shape[-1]
    workdir = _workdir(artifacts, ref, n_clips, config)
    res = training.fit(lambda: models.paper_cnn((size, size, 1), len(data.classes)),
                       (ref.images[fit], ref.labels[fit]), (ref.images[val], ref.labels[val]),
                       config, workdir, label=f"difference CNN, {len(idx)} clips: ",
                       quiet=quiet)
    pred = res.model.predict(training.as_input(difference(data.key)), batch_size=256,
                             verbose=0).argmax(axis=1)
    fitted = {"reference_cnn": [PREFIX + s for s in _subjects(ref.subjects, fit)],
              "reference_selection": [PREFIX + s for s in _subjects(ref.subjects, val)]}
    info = {"clips": len(idx), "best_epoch": res.best_epoch + 1,
            "val_accuracy": res.best_val_accuracy}
    recs = [FoldRecord(f.subject, f.test, pred[f.test], fitted, info) for f in folds]
    out = MethodResult(method, f"{METHODS[method]} ({len(idx)} clips)", data.classes,
                       data.labels, recs,
                       f"trained on {len(idx)} of the {len(ref.labels)} clips of "
                       f"{ref.description}; tested on {data.description}")
    out.model, out.path = res.model, workdir
    return out


def lstm_on_control(data: MicroData, folds, control: MethodResult, config,
                    quiet: bool = True) -> MethodResult:
    """The stage check: the control's own network read over the whole clip by the paper's
    LSTM stage, instead of at the coded apex.

    Every clip of ``data`` is turned into change images (each frame minus the clip's first,
    :func:`fer_helpers.micro.change_images`), passed through ``control``'s network up to
    ``fc1``, and in every LOSO fold the LSTM of ``config`` (a
    :class:`~fer_helpers.micro.MicroConfig`) is fitted on the fold's fitting subjects, its
    epoch chosen on the fold's selection subjects, exactly as in
    :func:`fer_helpers.micro.cnn_lstm`. The CNN stage is fixed (it saw only reference
    people), so the difference between this and ``control`` is what the LSTM reading the
    clip costs, given features that are known to carry the class. Folds are cached under
    the control's directory, keyed by the data, the control's weights, the LSTM's
    configuration, the folds and the code of :mod:`fer_helpers.micro`.
    """
    from .micro import layer_output, load_record, lstm_fold, save_record
    from .micro.model import _code_hash, _key, _weights_hash

    net = control.model
    fc1 = None  # the clips' fc1 sequences, computed once and only if a fold needs them
    key = _key({"data": data.fingerprint(), "control": _weights_hash(net), "code": _code_hash(),
                **config.lstm_spec(),
                "folds": [[f.subject, _subjects(data.subjects, f.val)] for f in folds]})
    cnn = control.folds[0].fitted_on
    recs, pool = [], {}  # one compiled LSTM, reused by the folds
    for k, f in enumerate(folds):
        res_path = Path(control.path) / f"lstm-{data.scheme}-{key}" / f"fold{k}" / "result.json"
        if res_path.is_file():
            recs.append(load_record(res_path))
            continue
        if fc1 is None:
            n, t, size = data.seq.shape[:3]
            seq = change_images(data.seq, data.seq[:, :1]).reshape(-1, size, size)
            fc1 = layer_output(net, seq, "relu_fc1").reshape(n, t, -1)
        y_pred, lres = lstm_fold(fc1, data, f, config, res_path.parent,
                                 f"control + LSTM fold {k}: ", quiet, pool)
        recs.append(FoldRecord(f.subject, f.test, y_pred,
                               {**cnn, "lstm": _subjects(data.subjects, f.fit),
                                "lstm_selection": _subjects(data.subjects, f.val)},
                               {**control.folds[0].info, "lstm_best_epoch": lres.best_epoch + 1}))
        save_record(res_path, recs[-1])
    return MethodResult(LSTM_CHECK, f"{METHODS[LSTM_CHECK]} ({control.folds[0].info['clips']} "
                        "clips)", data.classes, data.labels, recs,
                        f"{control.data}; the LSTM fitted in each LOSO fold")


def clips(run) -> dict[str, int] | None:
    """Training clips of each fit of the control in ``run`` ({fit: clips}), or ``None``
    when the run has no control (real CASME II, or a scheme it does not run on)."""
    if not all(k in run.results for k in FITS):
        return None
    return {k: run.results[k].folds[0].info["clips"] for k in FITS}


def by_clips(run) -> tuple[dict, dict, dict]:
    """UF1 against training clips of a :class:`~fer_helpers.micro.SchemeRun`, for
    :func:`fer_helpers.plotting.score_by_clips`: the control's two fits as a curve, each
    method (and the stage check) at a fold's clip count (what it trained on), the AU ceiling,
    the majority baseline and a uniform guess as lines. Without a control the curve is
    empty."""
    from .micro import COMPARED, uniform_guess

    sc = {name: r.scores()["uf1"] for name, r in run.results.items()}
    n = clips(run)
    curve = ({"positive control (other SynthFACS people)": [(n[k], sc[k]) for k in FITS]}
             if n else {})
    n_fold = fold_size(run.data, run.folds)
    points = {METHODS[m]: (n_fold, sc[m]) for m in (*COMPARED, LSTM_CHECK) if m in sc}
    lines = {name: sc[m] for m, name in (("au_ceiling", "AU ceiling"),
                                          ("majority", "majority class of the training subjects"))
             if m in sc}
    lines["uniform guess"] = uniform_guess(run.data.labels, len(run.data.classes))["uf1"]
    return curve, points, lines


__all__ = ["FITS", "GAIN", "LSTM_CHECK", "PREFIX", "REFERENCE_SEED", "Reference", "by_clips",
           "clips", "describe", "difference", "epoch_pair", "fold_size", "lstm_on_control",
           "positive_control", "subset", "train_config"]
