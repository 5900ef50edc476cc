"""Training: the paper's optimiser, augmentation in tf.data, resumable fits, precision.

- Adam, lr 1e-3, with the paper's ``decay=1e-5`` as Keras 2 applied it:
  ``lr_t = lr / (1 + decay * iterations)`` (Keras 3's ``InverseTimeDecay`` with
  ``decay_steps=1`` is exactly that).
- Augmentation with Keras preprocessing layers inside the ``tf.data`` pipeline.
- Model selection on a validation set taken from the *training* subjects only; the test
  data never reaches :func:`fit`.
- Resume: Keras' ``BackupAndRestore`` restores weights, optimiser and epoch after a killed
  run; the per-epoch log and the best checkpoint live beside it, written atomically.
- ``mixed_bfloat16`` where the hardware runs it fast (AMX / AVX512-BF16 CPUs, Ampere+ GPUs).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

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
    augmentation: Augmentation = field(default_factory=Augmentation)
    val_fraction: float = 0.15  # of the training subjects, for model selection
    seed: int = 0
    precision: str = "auto"

    def to_dict(self) -> dict:
        return asdict(self)


def optimizer(config: TrainConfig) -> keras.optimizers.Adam:
    """Adam with the paper's learning rate and Keras-2-style decay."""
    schedule = keras.optimizers.schedules.InverseTimeDecay(
        config.learning_rate, decay_steps=1, decay_rate=config.decay)
    return keras.optimizers.Adam(learning_rate=schedule)


def as_input(images: np.ndarray) -> np.ndarray:
    """(n, H, W) or (n, H, W, C) uint8 -> float32 (n, H, W, C), values 0-255."""
    x = np.asarray(images, np.float32)
    return x[..., None] if x.ndim == 3 else x


def dataset(images, labels, batch_size: int, augment: Augmentation | None = None,
            shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
    """A batched ``tf.data`` pipeline; augmentation runs on batches, in parallel."""
    ds = tf.data.Dataset.from_tensor_slices((as_input(images), np.asarray(labels, np.int32)))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment is not None:
        aug = augment.layer(seed)
        ds = ds.map(lambda x, y: (aug(x, training=True), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


# ------------------------------------------------------------------------------ callbacks
class BestCheckpoint(keras.callbacks.Callback):
    """Keep the weights of the best epoch by validation accuracy, saved atomically.

    Unlike ``ModelCheckpoint`` it never leaves a half-written file, and it starts from the
    best value already logged, so a resumed run does not forget the earlier best epoch.
    Only weights are written per epoch (no optimizer state: a third of the bytes); the
    full ``.keras`` model is written once, by :func:`fit`, at the end.
    """

    def __init__(self, path: Path, best: float = -np.inf, best_epoch: int = -1):
        super().__init__()
        self.path, self.best, self.best_epoch = Path(path), best, best_epoch

    def on_epoch_end(self, epoch, logs=None):
        acc = (logs or {}).get("val_accuracy")
        if acc is not None and acc > self.best:
            self.best, self.best_epoch = float(acc), int(epoch)
            with atomic_path(self.path) as tmp:  # tmp keeps the .weights.h5 suffix Keras needs
                self.model.save_weights(tmp)


class EpochLog(keras.callbacks.Callback):
    """Append one CSV row per epoch (atomically rewriting the file) and print a short line."""

    def __init__(self, path: Path, label: str = "", quiet: bool = False):
        super().__init__()
        self.path, self.label, self.quiet = Path(path), label, quiet

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()},
               "seconds": time.perf_counter() - self._t}
        old = read_log(self.path)
        log = pd.concat([old[old["epoch"] < epoch], pd.DataFrame([row])], ignore_index=True)
        with atomic_path(self.path) as tmp:
            log.to_csv(tmp, index=False)
        if not self.quiet:
            print(f"{self.label}epoch {epoch + 1}: loss {row.get('loss', np.nan):.3f} "
                  f"acc {row.get('accuracy', np.nan):.3f} "
                  f"val_acc {row.get('val_accuracy', np.nan):.3f} ({row['seconds']:.1f} s)",
                  flush=True)


def read_log(path: Path) -> pd.DataFrame:
    """The per-epoch log of a run (empty if none yet)."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=["epoch"])
    return pd.read_csv(path)


# ----------------------------------------------------------------------------------- fit
@dataclass
class FitResult:
    """A finished fit: the selected model and how it got there."""

    model: keras.Model
    history: pd.DataFrame  # one row per epoch: loss, accuracy, val_loss, val_accuracy, ...
    best_epoch: int  # 0-based epoch whose weights ``model`` holds
    best_val_accuracy: float
    precision: str


def fit(build_model, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
        config: TrainConfig, workdir, label: str = "", quiet: bool = False,
        extra_callbacks=()) -> FitResult:
    """Train ``build_model()`` on ``train``, select the epoch on ``val``; resumable.

    Parameters
    ----------
    build_model : callable
        Returns a fresh, uncompiled Keras model (called after the precision is set).
    train, val : (images, labels)
        ``val`` must come from the training side (e.g. :func:`subject_holdout`); it picks
        the epoch whose weights are returned.
    workdir : path
        Holds ``log.csv``, ``best.keras`` and Keras' backup. Re-running with the same
        ``workdir`` after a crash resumes at the next epoch; a finished run
        (``done.json``) is loaded, not retrained.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    precision = set_precision(config.precision)
    done, best_path, log_path = workdir / "done.json", workdir / "best.keras", workdir / "log.csv"
    best_weights = workdir / "best.weights.h5"
    if done.is_file():
        info = json.loads(done.read_text())
        return FitResult(keras.saving.load_model(best_path), read_log(log_path),
                         info["best_epoch"], info["best_val_accuracy"], info["precision"])
    keras.utils.set_random_seed(config.seed)
    model = build_model()
    model.compile(optimizer=optimizer(config), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    log = read_log(log_path)
    best = BestCheckpoint(best_weights)
    if len(log) and "val_accuracy" in log:
        i = int(log["val_accuracy"].idxmax())
        best.best, best.best_epoch = float(log.loc[i, "val_accuracy"]), int(log.loc[i, "epoch"])
    train_ds = dataset(*train, config.batch_size, config.augmentation, shuffle=True,
                       seed=config.seed)
    val_ds = dataset(*val, config.batch_size)
    callbacks = [EpochLog(log_path, label, quiet), best, *extra_callbacks,
                 # last, so everything above is on disk before the epoch counts as done
                 keras.callbacks.BackupAndRestore(str(workdir / "backup"),
                                                  double_checkpoint=True)]
    model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, verbose=0, shuffle=False,
              callbacks=callbacks)
    model.load_weights(best_weights)
    with atomic_path(best_path) as tmp:
        model.save(tmp)
    info = {"best_epoch": best.best_epoch, "best_val_accuracy": best.best,
            "precision": precision, "epochs": config.epochs}
    with atomic_path(done) as tmp:
        tmp.write_text(json.dumps(info))
    return FitResult(keras.saving.load_model(best_path), read_log(log_path), best.best_epoch,
                     best.best, precision)
