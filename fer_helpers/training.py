"""Training: the paper's optimiser, augmentation in tf.data, resumable fits, precision.

- Adam, lr 1e-3, with the paper's ``decay=1e-5`` as Keras 2 applied it:
  ``lr_t = lr / (1 + decay * iterations)`` (Keras 3's ``InverseTimeDecay`` with
  ``decay_steps=1`` is exactly that). Profiles with a small epoch budget may use a one-cycle
  schedule instead (``schedule="one-cycle"``); the book says so beside their numbers.
- Augmentation with Keras preprocessing layers inside the ``tf.data`` pipeline.
- Model selection on a validation set taken from the *training* subjects only; the test
  data never reaches :func:`fit`.
- Resume: :class:`TimedBackup` saves weights, optimiser state, the epoch and the best
  weights so far on a time budget (a killed run repeats at most ``backup_every`` seconds or
  one epoch of training, whichever is more); the per-epoch log lives beside it.
- ``mixed_bfloat16`` where the hardware runs it fast (AMX / AVX512-BF16 CPUs, Ampere+ GPUs).
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from unittest import mock

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from .io import atomic_path


# ----------------------------------------------------------------------------- precision
def bf16_supported() -> bool:
    """True where bfloat16 matrix math is native: AMX/AVX512-BF16 CPU or a GPU of compute
    capability 8.0 or more."""
    for gpu in tf.config.list_physical_devices("GPU"):
        cc = tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
        if cc and cc[0] >= 8:
            return True
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def set_precision(precision: str = "auto") -> str:
    """Set Keras' global dtype policy; returns the policy name in force.

    ``'auto'`` picks ``mixed_bfloat16`` where :func:`bf16_supported`, else ``float32``.
    """
    if precision == "auto":
        precision = "mixed_bfloat16" if bf16_supported() else "float32"
    if precision not in ("float32", "mixed_bfloat16"):
        raise ValueError(f"precision must be 'auto', 'float32' or 'mixed_bfloat16', "
                         f"got {precision!r}")
    keras.mixed_precision.set_global_policy(precision)
    return precision


# -------------------------------------------------------------------------- augmentation
@dataclass(frozen=True)
class Augmentation:
    """Random flips and affine transforms (all augmentation parameters live here).

    ``rotation`` is in degrees; ``translation``, ``zoom`` and ``shear`` are fractions of
    the image size. The paper names the transforms, not their ranges; these are mild because
    the faces are already aligned by their eyes, and because stronger ones (10 degrees, 8%,
    10%, 10%) kept the quick profile's SynthFACS folds at the majority class for twice as many
    epochs (measured November 2026).
    """

    flip: bool = True
    rotation: float = 5.0
    translation: float = 0.05
    zoom: float = 0.05
    shear: float = 0.05

    def layer(self, seed: int = 0) -> keras.Sequential:
        """The augmentation as one Keras model of preprocessing layers."""
        ops = []
        if self.flip:
            ops.append(keras.layers.RandomFlip("horizontal", seed=seed))
        if self.rotation:
            ops.append(keras.layers.RandomRotation(self.rotation / 360.0, fill_mode="nearest",
                                                   seed=seed + 1))
        if self.translation:
            ops.append(keras.layers.RandomTranslation(self.translation, self.translation,
                                                      fill_mode="nearest", seed=seed + 2))
        if self.zoom:
            ops.append(keras.layers.RandomZoom(self.zoom, fill_mode="nearest", seed=seed + 3))
        if self.shear:
            ops.append(keras.layers.RandomShear(self.shear, self.shear, fill_mode="nearest",
                                                seed=seed + 4))
        return keras.Sequential(ops, name="augmentation")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (and so the artifacts' identity)."""

    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    decay: float = 1e-5  # Keras 2 "decay": lr / (1 + decay * iterations)
    augmentation: Augmentation | None = field(default_factory=Augmentation)
    val_fraction: float = 0.15  # of the training subjects, for model selection
    seed: int = 0
    precision: str = "auto"
    schedule: str = "paper"  # "paper" (lr, Keras-2 decay) or "one-cycle" (peak_lr)
    peak_lr: float = 3e-3  # one-cycle only

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """The optimiser in words, for the tables beside the numbers."""
        if self.schedule == "paper":
            return (f"Adam, lr {self.learning_rate:g}, decay {self.decay:g} (the paper's), "
                    f"batch {self.batch_size}, {self.epochs} epochs")
        return (f"Adam, one-cycle schedule (warm-up to {self.peak_lr:g}, cosine to 0; not the "
                f"paper's), batch {self.batch_size}, {self.epochs} epochs")


def optimizer(config: TrainConfig, steps_per_epoch: int = 1) -> keras.optimizers.Adam:
    """Adam with the configured learning-rate schedule.

    ``"paper"``: lr with Keras-2-style decay, ``lr / (1 + decay * step)``.
    ``"one-cycle"``: a linear warm-up from ``peak_lr / 25`` to ``peak_lr`` over the first 30 %
    of the steps, then a cosine decay to 0 (Keras' ``CosineDecay`` with warm-up; Smith &
    Topin 2019 without the momentum cycle). It needs ``steps_per_epoch``.
    """
    if config.schedule == "paper":
        schedule = keras.optimizers.schedules.InverseTimeDecay(
            config.learning_rate, decay_steps=1, decay_rate=config.decay)
    elif config.schedule == "one-cycle":
        total = max(1, config.epochs * steps_per_epoch)
        warm = max(1, int(0.3 * total))
        schedule = keras.optimizers.schedules.CosineDecay(
            config.peak_lr / 25, decay_steps=max(1, total - warm), alpha=0.0,
            warmup_target=config.peak_lr, warmup_steps=warm)
    else:
        raise ValueError(f"schedule must be 'paper' or 'one-cycle', got {config.schedule!r}")
    return keras.optimizers.Adam(learning_rate=schedule)


def as_input(images: np.ndarray) -> np.ndarray:
    """(n, H, W) or (n, H, W, C) uint8 -> float32 (n, H, W, C), values 0-255."""
    x = np.asarray(images, np.float32)
    return x[..., None] if x.ndim == 3 else x


def dataset(images, labels, batch_size: int, augment: Augmentation | None = None,
            shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
    """A batched ``tf.data`` pipeline; augmentation runs on batches, in parallel."""
    labels = np.asarray(labels)  # codes (n,) or multi-hot (n, k) targets
    labels = labels.astype(np.int32 if labels.ndim == 1 else np.float32)
    ds = tf.data.Dataset.from_tensor_slices((as_input(images), labels))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment is not None:
        aug = augment.layer(seed)
        ds = ds.map(lambda x, y: (aug(x, training=True), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


# ------------------------------------------------------------------------------ callbacks
class TimedBackup(keras.callbacks.Callback):
    """Resume state on a time budget, plus the best epoch's weights (kept in memory).

    At an epoch's end the model (weights and optimiser state) is saved unless the *next*
    epoch will also end within ``every`` seconds of the last save. So a killed run repeats
    at most ``every`` seconds or one epoch of training, whichever is more (epochs of steady
    length). Each save is a new pair of files, and ``latest.json`` (replaced atomically)
    names the pair in force: a kill at any moment leaves a whole backup or the one before.

    The best epoch by ``monitor`` (higher is better; a ``*loss`` is lower-is-better) is
    tracked in memory; its weights go to disk with each backup and are put into the model by
    :meth:`restore_best`. ``monitor=None`` keeps the last epoch.
    """

    def __init__(self, folder: Path, every: float = 30.0, monitor: str | None = "val_accuracy",
                 clock=time.monotonic):
        super().__init__()
        self.folder, self.every, self.monitor, self.clock = Path(folder), every, monitor, clock
        self.best, self.best_epoch, self.best_weights = -np.inf, -1, None
        self.saves: list[int] = []  # epochs saved in this process (for tests)

    # -- resume
    def load(self, build_and_compile):
        """(model, first epoch to run) from the latest backup, or a fresh model and 0."""
        latest = self.folder / "latest.json"
        if not latest.is_file():
            return build_and_compile(), 0
        info = json.loads(latest.read_text())
        model = keras.saving.load_model(self.folder / info["model"])  # optimiser state too
        self.best, self.best_epoch = info["best"], info["best_epoch"]
        if info.get("best_weights"):
            with np.load(self.folder / info["best_weights"]) as f:
                self.best_weights = [f[f"w{i}"] for i in range(len(f.files))]
        return model, info["epoch"] + 1

    # -- training
    def on_train_begin(self, logs=None):
        self._last = self.clock()
        self._epoch_t = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_t = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor) if self.monitor else epoch
        if value is not None and self.monitor and self.monitor.endswith("loss"):
            value = -value
        if value is not None and value > self.best:
            self.best, self.best_epoch = float(value), int(epoch)
            self.best_weights = [np.array(w) for w in self.model.get_weights()]
        now = self.clock()
        if (now - self._last) + (now - self._epoch_t) > self.every:
            self.save(epoch)
            self._last = now

    def save(self, epoch: int) -> None:
        """Write the backup of ``epoch``, then point ``latest.json`` at it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        model_name, best_name = f"state-{epoch}.keras", f"best-{epoch}.npz"
        with atomic_path(self.folder / model_name) as tmp:
            self.model.save(tmp)
        if self.best_weights is not None:
            with atomic_path(self.folder / best_name) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, **{f"w{i}": w for i, w in enumerate(self.best_weights)})
        info = {"epoch": int(epoch), "model": model_name,
                "best_weights": best_name if self.best_weights is not None else None,
                "best": self.best, "best_epoch": self.best_epoch}
        with atomic_path(self.folder / "latest.json") as tmp:
            tmp.write_text(json.dumps(info))
        for old in self.folder.glob("*-*.*"):
            if old.name not in (model_name, best_name):
                old.unlink(missing_ok=True)
        self.saves.append(int(epoch))

    def restore_best(self, model: keras.Model) -> None:
        """Put the best epoch's weights into ``model``."""
        if self.best_weights is not None:
            model.set_weights(self.best_weights)


class EpochLog(keras.callbacks.Callback):
    """One CSV row per epoch (the file rewritten atomically), and a progress bar.

    The bar (tqdm) shows in JupyterLab and terminals; under the book's headless runner, or
    with ``quiet``, nothing is printed: the chapter shows one table per fold instead.
    """

    def __init__(self, path: Path, label: str = "", quiet: bool = False):
        super().__init__()
        self.path, self.label, self.quiet = Path(path), label, quiet
        self.bar = None

    def on_train_begin(self, logs=None):
        from .book import headless

        if not self.quiet and not headless():
            from tqdm.auto import tqdm

            total = self.params.get("epochs")
            self.bar = tqdm(total=total, desc=self.label.rstrip(": ") or "training",
                            unit="epoch", leave=False)

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()
        if self.bar is not None and self.bar.n < epoch:
            self.bar.update(epoch - self.bar.n)  # resumed run

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()},
               "seconds": time.perf_counter() - self._t}
        old = read_log(self.path)
        log = pd.concat([old[old["epoch"] < epoch], pd.DataFrame([row])], ignore_index=True)
        with atomic_path(self.path) as tmp:
            log.to_csv(tmp, index=False)
        if self.bar is not None:
            self.bar.set_postfix(acc=f"{row.get('accuracy', np.nan):.3f}",
                                 val_acc=f"{row.get('val_accuracy', np.nan):.3f}")
            self.bar.update(1)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()


def read_log(path: Path) -> pd.DataFrame:
    """The per-epoch log of a run (empty if none yet)."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=["epoch"])
    return pd.read_csv(path)


# ----------------------------------------------------------------------------------- fit
#: TensorFlow's graph seed when none was set (``tf.compat.v1.random.get_seed``).
_TF_DEFAULT_SEED = 87654321
#: Held while :func:`seed_everything` has ``tf.random.set_seed`` replaced.
_SEEDING = threading.Lock()


def seed_everything(seed: int) -> None:
    """``keras.utils.set_random_seed(seed)``, except that TensorFlow's global seed is left as
    it is when it already is ``seed``: setting it, even to the value it has, makes every
    ``tf.function`` trace again (0.9 s for a small LSTM's training step, measured November
    2026), which would undo ``reuse`` in :func:`fit`. Python's, NumPy's and Keras' seeds are
    always reset, and so is everything the fits here draw (initial weights, dropout, shuffling
    with its own seed); TensorFlow random ops without a seed of their own then continue their
    sequence instead of restarting it."""
    current = tf.compat.v1.random.get_seed(0)[0]
    if current != seed or seed == _TF_DEFAULT_SEED:  # the default means "no seed set"
        keras.utils.set_random_seed(seed)
        return
    with _SEEDING, mock.patch.object(tf.random, "set_seed", lambda _: None):
        keras.utils.set_random_seed(seed)


def _reused(pool: dict, fresh: keras.Model, signature) -> keras.Model | None:
    """The pooled compiled model with ``fresh``'s variables and a new optimiser state, or
    ``None`` when the pool is empty or holds another architecture or configuration."""
    kept = pool.get("model")

    def layout(m):  # every layer's configuration but its (auto-numbered) name
        return ([(type(layer).__name__, layer.trainable,
                  {k: v for k, v in layer.get_config().items() if k != "name"})
                 for layer in m.layers],
                [(tuple(v.shape), str(v.dtype), v.trainable) for v in m.variables])

    if kept is None or pool["signature"] != signature or layout(kept) != layout(fresh):
        return None
    for dst, src in zip(kept.variables, fresh.variables, strict=True):
        dst.assign(src)
    for v, init in zip(kept.optimizer.variables, pool["optimizer"], strict=True):
        v.assign(init)
    return kept


@dataclass
class FitResult:
    """A finished fit: the selected model and how it got there."""

    model: keras.Model
    history: pd.DataFrame  # one row per epoch: loss, accuracy, val_loss, val_accuracy, ...
    best_epoch: int  # 0-based epoch whose weights ``model`` holds
    best_val_accuracy: float  # validation accuracy at that epoch (NaN when the last is kept)
    precision: str


def fit(build_model, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
        config: TrainConfig, workdir, label: str = "", quiet: bool = False,
        extra_callbacks=(), loss: str = "sparse_categorical_crossentropy",
        select: str = "val", backup_every: float = 30.0, reuse: dict | None = None
        ) -> FitResult:
    """Train ``build_model()`` on ``train``, select the epoch on ``val``; resumable.

    Parameters
    ----------
    build_model : callable
        Returns a fresh, uncompiled Keras model (called after the precision is set).
    train, val : (images, labels)
        ``val`` must come from the training side (e.g. :func:`subject_holdout`); it picks
        the epoch whose weights are returned.
    workdir : path
        Holds ``log.csv``, ``best.keras`` and the backup. Re-running with the same
        ``workdir`` after a crash resumes from the last backup; a finished run
        (``done.json``) is loaded, not retrained.
    loss : str
        ``"sparse_categorical_crossentropy"`` (emotion codes; "accuracy" is the share of
        right classes) or ``"binary_crossentropy"`` (multi-hot labels, e.g. AU presence;
        "accuracy" is the mean per-output accuracy).
    select : {"val", "last"}
        Keep the epoch with the best validation accuracy (multi-hot: the best mean
        per-output ROC AUC, since per-output accuracy is dominated by the absent outputs and
        the validation loss bottoms out epochs before the detectors stop improving), or the last
        epoch (for a control trained to fit its training set, where validation means
        nothing).
    backup_every : float
        Seconds of training a kill may cost at most (or one epoch, if longer).
    reuse : dict, optional
        Kept by the caller across fits of one architecture (the folds of a cross-validation).
        The first fit leaves its compiled model there; a later fit with the same
        configuration copies the variables of a freshly built ``build_model()`` into that
        model and puts its optimiser back to the initial state, so it trains exactly as a
        new model would (same weights to the last bit; tested) without building and tracing
        the training step again, which costs small models more than their training (about
        2 s of a 4 s LSTM fit, November 2026). The returned ``model`` is then that shared
        model: use it before the next fit that reuses it. Every fit sharing a pool must build
        the same architecture with the same layer settings (checked: another one replaces
        the pooled model). Tested equal to a new model for Adam with the ``"paper"``
        schedule; a fit that raises empties the pool.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    precision = set_precision(config.precision)
    done, best_path, log_path = workdir / "done.json", workdir / "best.keras", workdir / "log.csv"
    if done.is_file():
        info = json.loads(done.read_text())
        return FitResult(keras.saving.load_model(best_path), read_log(log_path),
                         info["best_epoch"], info["best_val_accuracy"], info["precision"])
    if select not in ("val", "last"):
        raise ValueError(f"select must be 'val' or 'last', got {select!r}")
    seed_everything(config.seed)
    steps = -(-len(train[1]) // config.batch_size)

    multi = loss == "binary_crossentropy"
    # "accuracy" alone would resolve to categorical accuracy for multi-hot targets; the
    # epoch of a multi-label detector is chosen on its mean per-output ROC AUC
    metrics = ([keras.metrics.BinaryAccuracy(name="accuracy"),
                keras.metrics.AUC(multi_label=True, name="auc")] if multi else ["accuracy"])

    def build_and_compile():
        m = build_model()
        # the optimiser depends on the steps per epoch only through a one-cycle schedule
        signature = (config, steps if config.schedule == "one-cycle" else None, loss)
        if reuse is not None:
            kept = _reused(reuse, m, signature)
            if kept is not None:
                return kept
        m.compile(optimizer=optimizer(config, steps), loss=loss, metrics=metrics)
        if reuse is not None:
            m.optimizer.build(m.trainable_variables)
            reuse.clear()
            reuse.update(model=m, signature=signature,
                         optimizer=[np.array(v) for v in m.optimizer.variables])
        return m

    monitor = ("val_auc" if multi else "val_accuracy") if select == "val" else None
    backup = TimedBackup(workdir / "backup", backup_every, monitor=monitor)
    model, initial_epoch = backup.load(build_and_compile)
    train_ds = dataset(*train, config.batch_size, config.augmentation, shuffle=True,
                       seed=config.seed + initial_epoch)
    val_ds = dataset(*val, 256)
    callbacks = [EpochLog(log_path, label, quiet), *extra_callbacks,
                 backup]  # last, so the log is on disk before the epoch counts as saved
    if initial_epoch < config.epochs:
        try:
            model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, verbose=0,
                      shuffle=False, callbacks=callbacks, initial_epoch=initial_epoch)
        except BaseException:
            if reuse is not None:  # a fit cut short leaves Keras state behind: start anew
                reuse.clear()
            raise
    backup.restore_best(model)
    with atomic_path(best_path) as tmp:
        model.save(tmp)
    log = read_log(log_path)
    at_best = log.loc[log["epoch"] == backup.best_epoch, "val_accuracy"]
    info = {"best_epoch": backup.best_epoch,
            "best_val_accuracy": float(at_best.iloc[0]) if select == "val" and len(at_best)
            else float("nan"),
            "precision": precision, "epochs": config.epochs, "select": select}
    with atomic_path(done) as tmp:
        tmp.write_text(json.dumps(info))
    shutil.rmtree(workdir / "backup", ignore_errors=True)
    return FitResult(model, log[log["epoch"] < config.epochs].reset_index(drop=True),
                     info["best_epoch"], info["best_val_accuracy"], precision)
