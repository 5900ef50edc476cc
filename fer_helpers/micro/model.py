"""The paper's CNN + LSTM under LOSO (:func:`cnn_lstm`): its configuration
(:class:`MicroConfig`), the two stages' networks, what the CNN reads and is trained on, one
fold's LSTM stage (:func:`lstm_fold`), and the cache keys of its folds."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..io import atomic_path
from .baselines import _fc1, conv_features, layer_output
from .data import MicroData, settings
from .loso import Fold, FoldRecord, MethodResult, _subjects, load_record, save_record

#: Magnification of frame differences (:func:`change_images`), and the grey level of "no
#: change".
GAIN, MID = 8.0, 128.0


def _default_cnn_config():
    from ..training import TrainConfig

    return TrainConfig(epochs=12, batch_size=32, learning_rate=3e-4, decay=0.0,
                       augmentation=None, val_fraction=0.2)


def _default_lstm_config():
    from ..training import TrainConfig

    return TrainConfig(epochs=30, batch_size=32, learning_rate=1e-3, decay=0.0,
                       augmentation=None, val_fraction=0.2)


@dataclass(frozen=True)
class MicroConfig:
    """Everything that decides a CNN + LSTM run (and so its artifacts' key).

    Attributes
    ----------
    seq_length : int
        Frames per clip the LSTM reads (the whole clip, linearly resampled). 16.
    lstm_units : int
        Width of the one LSTM layer. 64.
    recurrent_dropout, dropout : float
        Dropout on the LSTM's recurrent state (0), and on its output before the softmax
        (0.5). The paper's "recurrent dropout was used after the LSTM layer" reads either way;
        we take it as dropout after the layer. Without dropout on the recurrent state Keras
        runs its fused LSTM kernel, about twice as fast on a CPU (ten LSTM fits of the stage
        check in 12 s instead of 21-23 s). Measured on quick's stage check (Intel Xeon, bf16,
        November 2026, two seeds): UF1 30.7 / 32.4 % with ``recurrent_dropout=0.2``,
        33.4 / 34.0 % without; a difference within the seeds' spread, so the choice rests on
        the reading and the speed.
    input : {'frames', 'change'}
        What the CNN sees: the grey frames as they are (default), or (``'change'``) each
        frame as its change from the clip's first frame, ``128 + 8 * (frame - first)``
        (:func:`change_images`, the chapter's difference figure), so that a few grey levels
        of movement fill the network's range and the person's face cancels. Measured on
        quick's SynthFACS CASME II (10 subjects, 89 clips, 5 classes, Intel Xeon, bf16,
        November 2026), UF1 over three seeds with ``'top'``: frames 23.5 / 20.0 / 20.6 %,
        change 28.5 / 19.7 / 27.6 %; change with ``finetune='scratch'`` (20 epochs, the
        paper's optimiser, one seed) 26.1 % in 321 s against 83 s. On a 26-subject tree
        (228 clips, the same settings, two seeds): frames 25.0 / 27.0 %, change 34.4 /
        32.7 %. The paper trains its CNN on the frames, so they stay the default; ``'change'``
        is an ablation beside it.
    relative : bool
        The LSTM reads each frame's fc1 features minus those of the clip's first frame (the
        clip's own neutral face), so it sees the change, not the person (the paper does not
        say; our choice). Measured on quick's SynthFACS CASME II (10 subjects, 89 clips, 5
        classes, Intel Xeon, November 2026): UF1 24.5 % with it, 16.2 % without.
    finetune : {'top', 'all', 'scratch'}
        ``'top'``: ``fc1`` + the new head on frozen conv layers (features computed once);
        ``'all'``: every layer, on the key-frame images, with the book's augmentation;
        ``'scratch'``: the paper's CNN from random weights (no chapter-2 model needed).
    cnn, lstm : TrainConfig
        Training of the two stages (:func:`fer_helpers.training.fit`); ``val_fraction`` of the
        CNN's config is the share of training subjects held out for model selection.
    seed : int
    """

    seq_length: int = 16
    lstm_units: int = 64
    recurrent_dropout: float = 0.0
    dropout: float = 0.5
    input: str = "frames"
    relative: bool = True
    finetune: str = "top"
    cnn: object = field(default_factory=_default_cnn_config)
    lstm: object = field(default_factory=_default_lstm_config)
    seed: int = 0

    def __post_init__(self):
        if self.finetune not in ("top", "all", "scratch"):
            raise ValueError(f"finetune must be 'top', 'all' or 'scratch', got "
                             f"{self.finetune!r}")
        if self.input not in ("change", "frames"):
            raise ValueError(f"input must be 'change' or 'frames', got {self.input!r}")

    def lstm_spec(self) -> dict:
        """What decides the LSTM stage alone (the key of its cached folds)."""
        return {"lstm": self.lstm.to_dict(), "units": self.lstm_units,
                "recurrent_dropout": self.recurrent_dropout, "dropout": self.dropout,
                "relative": self.relative}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cnn"], d["lstm"] = self.cnn.to_dict(), self.lstm.to_dict()
        return d

    def describe(self) -> str:
        what = {"top": "chapter 2's model, fc1 + new head on the frozen conv layers, "
                       "fine-tuned",
                "all": "chapter 2's model, every layer fine-tuned",
                "scratch": "the paper's CNN trained from scratch"}[self.finetune]
        seen = ("frames" if self.input == "frames"
                else f"frames as their change from the first (x {GAIN:g})")
        return (f"CNN: {what} per fold on onset/apex/offset (clip class) + first/last "
                f"(neutral) {seen}, {self.cnn.epochs} epochs; "
                f"LSTM: {self.seq_length} frames per clip -> fc1 (512"
                f"{', minus the first frame' if self.relative else ''}) -> LSTM "
                f"{self.lstm_units} (recurrent dropout {self.recurrent_dropout:g}, dropout "
                f"{self.dropout:g}) -> softmax, {self.lstm.epochs} epochs; epochs of both "
                f"stages chosen on held-out training subjects")

    def optimisers(self) -> str:
        """Both stages' optimiser in words."""
        return "; ".join(
            f"{name}: Adam, lr {c.learning_rate:g}"
            + (f" with Keras-2 decay {c.decay:g}" if c.schedule == "paper" and c.decay
               else " constant" if c.schedule == "paper" else f" one-cycle (peak {c.peak_lr:g})")
            + f", batch {c.batch_size}, {c.epochs} epochs"
            for name, c in (("CNN", self.cnn), ("LSTM", self.lstm)))

    @classmethod
    def for_profile(cls, profile: str, precision: str = "float32") -> MicroConfig:
        s = settings(profile)
        base = cls()
        return cls(seq_length=s["micro_seq_length"], lstm_units=s["micro_lstm_units"],
                   finetune=s["micro_finetune"],
                   cnn=replace(base.cnn, epochs=s["micro_cnn_epochs"], precision=precision,
                               augmentation=None if s["micro_finetune"] == "top"
                               else _augmentation()),
                   lstm=replace(base.lstm, epochs=s["micro_lstm_epochs"], precision=precision))


def _augmentation():
    from ..training import Augmentation

    return Augmentation()


def _code_hash() -> str:
    """Hash of :func:`fer_helpers.crossval.code_version` and of every module of this package
    (by file name): editing any of them invalidates the cached folds."""
    from .. import crossval

    h = hashlib.sha256(crossval.code_version().encode())
    for path in sorted(Path(__file__).parent.glob("*.py"), key=lambda p: p.name):
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def _weights_hash(model) -> str:
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()[:12]


def _key(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def _top_model(source, n_out: int):
    import keras
    from keras import layers

    fc1 = source.get_layer("fc1")
    inp = keras.Input((fc1.kernel.shape[0],), name="conv_features")
    x = layers.Dense(fc1.units, name="fc1")(inp)
    x = layers.ReLU(name="relu_fc1")(x)
    x = layers.Dropout(0.5, name="dropout_fc")(x)
    out = layers.Dense(n_out, activation="softmax", dtype="float32", name="micro_output")(x)
    model = keras.Model(inp, out, name="micro_cnn_top")
    model.get_layer("fc1").set_weights(fc1.get_weights())
    return model


def _full_model(source, n_out: int, input_shape):
    import keras
    from keras import layers

    from .. import models

    if source is None:
        return models.paper_cnn(input_shape, n_out)
    clone = keras.models.clone_model(source)
    clone.set_weights(source.get_weights())
    x = clone.get_layer("relu_fc1").output
    x = layers.Dropout(0.5, name="dropout_micro")(x)
    out = layers.Dense(n_out, activation="softmax", dtype="float32", name="micro_output")(x)
    return keras.Model(clone.input, out, name="micro_cnn")


def _lstm_model(fit_x: np.ndarray, length: int, width: int, n_classes: int,
                config: MicroConfig):
    import keras
    from keras import layers

    from ..models import FeatureStandardization

    inp = keras.Input((length * width,), name="fc1_sequence")
    x = layers.Reshape((length, width), name="frames")(inp)
    standardize = FeatureStandardization(name="standardize", dtype="float32")
    x = standardize(x)
    x = layers.LSTM(config.lstm_units, recurrent_dropout=config.recurrent_dropout,
                    name="lstm")(x)
    x = layers.Dropout(config.dropout, name="dropout_lstm")(x)
    out = layers.Dense(n_classes, activation="softmax", dtype="float32", name="output")(x)
    frames = fit_x.reshape(-1, width)  # the fold's fitting clips only
    standardize.set_statistics(frames.mean(axis=0), frames.var(axis=0))
    return keras.Model(inp, out, name="micro_lstm")


def change_images(frames: np.ndarray, base: np.ndarray, gain: float = GAIN) -> np.ndarray:
    """``128 + gain * (frames - base)``, clipped to 0-255, as uint8: grey frames as their
    change from ``base`` (broadcast against ``frames``), mid-grey where nothing moved."""
    d = np.asarray(frames, np.float32) - np.asarray(base, np.float32)
    return np.clip(MID + gain * d, 0, 255).astype(np.uint8)


def cnn_inputs(data: MicroData, what: str = "frames") -> tuple[np.ndarray, np.ndarray]:
    """The key frames ``(n, 5, S, S)`` and sequences ``(n, T, S, S)`` the CNN stage reads:
    as they are (``'frames'``) or as their change from the clip's first frame (``'change'``,
    :func:`change_images`; key frame 3 and sequence frame 0 are both that first frame)."""
    if what == "frames":
        return data.key, data.seq
    if what != "change":
        raise ValueError(f"what must be 'change' or 'frames', got {what!r}")
    return (change_images(data.key, data.key[:, 3:4]),
            change_images(data.seq, data.seq[:, :1]))


def _key_frame_targets(labels: np.ndarray, neutral: int) -> np.ndarray:
    """(n, 5) targets of the key frames: onset, apex, offset -> clip class; first, last ->
    ``neutral``."""
    y = np.repeat(np.asarray(labels)[:, None], 5, axis=1)
    y[:, 3:] = neutral
    return y


def lstm_fold(fc1_seq: np.ndarray, data: MicroData, fold: Fold, config: MicroConfig,
              workdir, label: str = "micro LSTM: ", quiet: bool = True,
              reuse: dict | None = None):
    """The paper's LSTM stage in one fold: fitted on ``fold.fit``, its epoch chosen on
    ``fold.val``, predicting ``fold.test`` from ``(n, T, W)`` fc1 sequences (minus the first
    frame's with ``config.relative``). ``reuse``: a dict kept across the folds, to train one
    compiled model instead of tracing a new one per fold (:func:`fer_helpers.training.fit`).
    Returns ``(y_pred, FitResult)``."""
    from .. import training

    n, t, w = fc1_seq.shape
    flat = (fc1_seq - fc1_seq[:, :1] if config.relative else fc1_seq).reshape(n, t * w)
    f = fold
    res = training.fit(lambda x=flat[f.fit]: _lstm_model(x, t, w, len(data.classes), config),
                       (flat[f.fit], data.labels[f.fit]), (flat[f.val], data.labels[f.val]),
                       config.lstm, workdir, label=label, quiet=quiet, reuse=reuse)
    prob = np.asarray(res.model(flat[f.test], training=False))  # no predict(): no tracing
    return prob.argmax(axis=1), res


def cnn_lstm(data: MicroData, folds: list[Fold], source, config: MicroConfig, artifacts,
             quiet: bool = True, keep_models: bool = False) -> MethodResult:
    """The paper's CNN + LSTM under LOSO, or its cached folds (:mod:`fer_helpers.micro`).

    Each fold's record keeps, besides the predictions and who each stage was fitted on, both
    stages' chosen epochs and selection accuracies, and the CNN stage's share of right apex
    frames of the selection clips and of those it calls neutral (``cnn_apex_accuracy``,
    ``cnn_apex_neutral``, of ``cnn_apex_clips``).

    Parameters
    ----------
    source : keras.Model or None
        Chapter 2's emotion model to start from; ``None`` only with
        ``finetune='scratch'``.
    artifacts : path
        Runs go to ``<artifacts>/micro-<scheme>-<key>/fold<k>-sub<subject>/``: the CNN stage's
        log, the fold's fc1 sequences (``features.npz``), and per LSTM configuration
        ``lstm-<key>/`` (its fit and ``result.json``). The key covers the data, the source
        weights, the configuration and the code; a finished fold is loaded, not retrained.
    keep_models : bool
        Keep each fold's fine-tuned CNN (``cnn/best.keras``, 19 MB at 48x48) after its
        features are cached.
    """
    from .. import training

    if source is None and config.finetune != "scratch":
        raise ValueError(f"finetune={config.finetune!r} needs a source model (chapter 2's "
                         "CNN); finetune='scratch' trains without one")
    key_in, seq_in = cnn_inputs(data, config.input)
    n_classes = len(data.classes)
    size = data.key.shape[-1]
    own = source if config.finetune != "scratch" else None  # scratch never reads it
    cnn_key = _key({"data": data.fingerprint(), "source": _weights_hash(own) if own
                    else None, "finetune": config.finetune, "input": config.input,
                    "cnn": config.cnn.to_dict(),
                    "seq_length": config.seq_length, "seed": config.seed,
                    "folds": [[f.subject, _subjects(data.subjects, f.val)] for f in folds],
                    "code": _code_hash()})
    lstm_key = _key(config.lstm_spec())
    root = Path(artifacts) / f"micro-{data.scheme}-{cnn_key}"
    conv: dict = {}
    pools: dict = {"cnn": {}, "lstm": {}}  # one compiled model per stage, reused by the folds

    def conv_arrays():  # frozen conv features, computed once and only if a fold needs them
        if not conv:
            n, t = data.seq.shape[:2]
            conv["key"] = conv_features(source, key_in.reshape(-1, size, size)).reshape(
                n, 5, -1)
            conv["seq"] = conv_features(source, seq_in.reshape(-1, size, size)).reshape(
                n, t, -1)
        return conv

    recs = []
    for k, f in enumerate(folds):
        fold_dir = root / f"fold{k}-sub{f.subject}"
        res_path = fold_dir / f"lstm-{lstm_key}" / "result.json"
        if res_path.is_file():
            recs.append(load_record(res_path))
            if not quiet:
                print(f"fold {k} (sub{f.subject}): loaded")
            continue
        t0 = time.perf_counter()
        feat_path = fold_dir / "features.npz"
        info = {}
        if feat_path.is_file():
            with np.load(feat_path) as z:
                fc1_seq = z["fc1"]
                info.update(json.loads(str(z["info"])))
        else:
            y_key = _key_frame_targets(data.labels, n_classes)
            if config.finetune == "top":
                c = conv_arrays()
                x_fit, x_val = (c["key"][f.fit].reshape(-1, c["key"].shape[-1]),
                                c["key"][f.val].reshape(-1, c["key"].shape[-1]))

                def build():
                    return _top_model(source, n_classes + 1)
            else:
                x_fit = key_in[f.fit].reshape(-1, size, size)
                x_val = key_in[f.val].reshape(-1, size, size)

                def build():
                    return _full_model(None if config.finetune == "scratch" else source,
                                       n_classes + 1, (size, size, 1))
            res = training.fit(build, (x_fit, y_key[f.fit].ravel()),
                               (x_val, y_key[f.val].ravel()), config.cnn, fold_dir / "cnn",
                               label=f"micro CNN fold {k}: ", quiet=quiet,
                               reuse=pools["cnn"])
            if config.finetune == "top":
                fc1_seq = _fc1(res.model, conv_arrays()["seq"])
            else:
                n, t = data.seq.shape[:2]
                fc1_seq = layer_output(res.model, seq_in.reshape(-1, size, size),
                                       "relu_fc1").reshape(n, t, -1)
            apex = (conv_arrays()["key"][f.val][:, 1] if config.finetune == "top"
                    else training.as_input(key_in[f.val][:, 1]))
            apex_pred = np.asarray(res.model(apex, training=False)).argmax(axis=1)
            info.update({"cnn_best_epoch": res.best_epoch + 1,
                         "cnn_val_accuracy": res.best_val_accuracy,
                         "cnn_apex_accuracy": float(np.mean(apex_pred == data.labels[f.val])),
                         "cnn_apex_neutral": float(np.mean(apex_pred == n_classes)),
                         "cnn_apex_clips": len(f.val),
                         "cnn_fit": _subjects(data.subjects, f.fit),
                         "cnn_val": _subjects(data.subjects, f.val)})
            with atomic_path(feat_path) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, fc1=fc1_seq, info=json.dumps(info))
            if not keep_models:
                (fold_dir / "cnn" / "best.keras").unlink(missing_ok=True)
                (fold_dir / "cnn" / "done.json").unlink(missing_ok=True)
        y_pred, lres = lstm_fold(fc1_seq, data, f, config, res_path.parent,
                                 f"micro LSTM fold {k}: ", quiet, pools["lstm"])
        fitted_on = {"cnn": info["cnn_fit"], "cnn_selection": info["cnn_val"],
                     "lstm": _subjects(data.subjects, f.fit),
                     "lstm_selection": _subjects(data.subjects, f.val)}
        info = {**{k: info[k] for k in ("cnn_best_epoch", "cnn_val_accuracy",
                                         "cnn_apex_accuracy", "cnn_apex_neutral",
                                         "cnn_apex_clips")},
                "lstm_best_epoch": lres.best_epoch + 1,
                "lstm_val_accuracy": lres.best_val_accuracy,
                "seconds": round(time.perf_counter() - t0, 2)}
        recs.append(FoldRecord(f.subject, f.test, y_pred, fitted_on, info))
        save_record(res_path, recs[-1])
        if not quiet:
            print(f"fold {k} (sub{f.subject}): {np.mean(y_pred == data.labels[f.test]):.2f} "
                  f"in {info['seconds']:.1f} s")
    out = MethodResult("cnn_lstm", config.describe(), data.classes, data.labels, recs,
                       data.description)
    out.path = root
    out.conv = conv  # the frozen conv features of the CNN's inputs, if computed
    return out
