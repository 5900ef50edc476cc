"""The exported model bundle: one ``.keras`` model and a JSON card, in one folder.

A bundle folder holds ``model.keras`` (inputs: aligned faces, raw 0-255 pixels; outputs
``emotion`` (softmax over the card's ``labels``) and, when the AU heads are given,
``au_presence`` (sigmoid per AU) and ``au_intensity`` (0-5 per AU)) and ``card.json``::

    {"format": "fer_helpers.bundle", "format_version": 1,
     "labels": [...], "label_space": "ckplus", "au_codes": [1, 2, ...] or [],
     "input_shape": [48, 48, 1], "input_scale": "0-255",
     "crop": {"size": 48, "eye_distance": 0.36, "eye_y": 0.4,
              "rule": "eyes level, midpoint at (0.5, eye_y), eye_distance of the width apart"},
     "training_data": "SynthFACS (synthetic)", "profile": "quick",
     "test": {...}, "versions": {...}, "created": "..."}

It is written to a temporary folder beside the target and renamed into place
(:func:`fer_helpers.io.atomic_path`), and read back with ``safe_mode=True``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..faces import Crop
from ..io import atomic_path
from ..labels import CKPLUS, FER2013, canonical
from .loader import ModelLoadError, first_input, load_model

FORMAT = "fer_helpers.bundle"
FORMAT_VERSION = 1
MODEL_FILE = "model.keras"
CARD_FILE = "card.json"


class BundleError(ValueError):
    """A bundle folder or card is missing or unusable (the message names the path)."""


def default_dir() -> Path:
    """Where ``make book`` leaves the bundle: ``<artifacts>/bundle``."""
    from ..book import artifacts_dir, repo_root

    try:
        repo_root()
        return artifacts_dir() / "bundle"
    except FileNotFoundError:
        return Path(__file__).resolve().parents[2] / "artifacts" / "bundle"


def _output(model, name: str | None = None):
    out = model.output
    if isinstance(out, dict):
        return out[name] if name in out else next(iter(out.values()))
    if isinstance(out, list | tuple):
        return out[0]
    return out


def build_bundle_model(emotion_model, au_presence=None, au_intensity=None,
                       feature_layer: str | None = None):
    """One Keras model with an ``emotion`` output and optional AU outputs.

    ``au_presence`` / ``au_intensity`` are Keras models or layers applied to the output of
    ``feature_layer`` of ``emotion_model`` (e.g. ``"flatten"`` or ``"fc1"``), or to the
    image input when ``feature_layer`` is None (heads that are whole models of their own).
    """
    import keras

    inp = first_input(emotion_model)
    outputs = {"emotion": keras.layers.Identity(name="emotion", dtype="float32")(
        _output(emotion_model))}
    if au_presence is not None or au_intensity is not None:
        feat = inp if feature_layer is None else emotion_model.get_layer(feature_layer).output
        for name, head in (("au_presence", au_presence), ("au_intensity", au_intensity)):
            if head is not None:
                y = head(feat)
                if isinstance(y, dict | list | tuple):
                    y = next(iter(y.values())) if isinstance(y, dict) else y[0]
                outputs[name] = keras.layers.Identity(name=name, dtype="float32")(y)
    return keras.Model(inp, outputs, name="fer_bundle")


def export_bundle(folder, emotion_model, au_presence=None, au_intensity=None, au_codes=None,
                  feature_layer: str | None = None, labels=None, crop: Crop | None = None,
                  training_data: str = "", profile: str = "", test: dict | None = None,
                  card_extra: dict | None = None) -> Path:
    """Write a bundle (``model.keras`` + ``card.json``) to ``folder``, atomically.

    Parameters
    ----------
    folder : path
        Target folder (replaced whole if it exists).
    emotion_model : keras.Model
        Aligned face -> emotion probabilities (the book's models take raw 0-255 pixels).
    au_presence, au_intensity : keras.Model or layer, optional
        AU heads over ``feature_layer`` (see :func:`build_bundle_model`); without them the
        bundle, and the tables of :func:`fer_helpers.apply.apply`, have no AU columns.
    au_codes : sequence of int
        The AU of each head unit, in order (required with a head).
    labels : sequence of str, optional
        Emotion names of the outputs (default: CK+'s 8 or FER2013's 7 classes by size).
    crop : Crop, optional
        The alignment the model was trained on (default: :class:`~fer_helpers.faces.Crop`
        of the model's input size).
    training_data, profile, test, card_extra
        Written to the card (``test``: the test figures the model reached).
    """
    import keras

    from ..book import versions

    model = build_bundle_model(emotion_model, au_presence, au_intensity, feature_layer)
    shape = [int(d) for d in first_input(model).shape[1:]]
    n_out = int(model.output["emotion"].shape[-1])
    labels = _default_labels(n_out, None) if labels is None else [canonical(x) for x in labels]
    if len(labels) != n_out:
        raise ValueError(f"{len(labels)} labels for {n_out} emotion outputs")
    heads = [k for k in ("au_presence", "au_intensity") if k in model.output]
    codes = [int(c) for c in (au_codes or [])]
    for k in heads:
        if int(model.output[k].shape[-1]) != len(codes):
            raise ValueError(f"head {k} has {model.output[k].shape[-1]} units but "
                             f"{len(codes)} au_codes were given")
    crop = crop or Crop(size=shape[0])
    card = {"format": FORMAT, "format_version": FORMAT_VERSION, "labels": labels,
            "label_space": next((s.name for s in (CKPLUS, FER2013) if list(s.names) == labels),
                                "custom"),
            "au_codes": codes, "outputs": ["emotion", *heads], "input_shape": shape,
            "input_scale": "0-255",
            "crop": {"size": crop.size, "eye_distance": crop.eye_distance,
                     "eye_y": crop.eye_y,
                     "rule": "eyes level, their midpoint at (0.5, eye_y) of the crop, "
                             "eye_distance of the crop width apart"},
            "training_data": training_data, "profile": profile, "test": test or {},
            "versions": versions(), "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **(card_extra or {})}
    folder = Path(folder)
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        keras.saving.save_model(model, tmp / MODEL_FILE)
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=1, default=str))
    return folder


def _default_labels(n: int, path) -> list[str]:
    if n == len(CKPLUS):
        return list(CKPLUS.names)
    if n == len(FER2013):
        return list(FER2013.names)
    raise BundleError(f"{path or 'the model'} has {n} outputs: pass labels=[...] (emotion "
                      f"names in output order)")


@dataclass
class Bundle:
    """A loaded model with what :func:`fer_helpers.apply.apply` needs to run it."""

    model: object  # keras.Model
    labels: list[str]
    input_shape: tuple[int, int, int]
    crop: Crop
    au_codes: list[int] = field(default_factory=list)
    input_scale: str = "0-255"
    card: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def has_aus(self) -> bool:
        return bool(self.au_codes)

    def predict(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs for a batch of aligned crops ``(n, H, W[, C])`` uint8."""
        from ..training import as_input

        x = as_input(crops)
        if self.input_scale == "0-1":
            x = x / 255.0
        elif self.input_scale == "-1-1":
            x = x / 127.5 - 1.0
        out = self.model.predict_on_batch(x)
        if not isinstance(out, dict):
            out = {"emotion": out[0] if isinstance(out, list | tuple) else out}
        return {k: np.asarray(v, np.float64) for k, v in out.items()}


def load_bundle(folder) -> Bundle:
    """Load a bundle folder written by :func:`export_bundle` (``safe_mode=True``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"model folder {folder} does not exist")
    card_path = folder / CARD_FILE
    if not card_path.is_file():
        raise BundleError(f"{folder} has no {CARD_FILE}: not a bundle written by "
                          f"fer_helpers.apply.export_bundle (pass a .keras/.h5 model file "
                          f"instead, or re-export the bundle)")
    try:
        card = json.loads(card_path.read_text())
    except (OSError, ValueError) as e:
        raise BundleError(f"cannot read the bundle card {card_path}: {e}") from e
    if card.get("format") != FORMAT or card.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{card_path} is format {card.get('format')!r} version "
                          f"{card.get('format_version')!r}; this fer_helpers reads {FORMAT!r} "
                          f"version {FORMAT_VERSION}: re-export the bundle (make book)")
    try:
        model = load_model(folder / MODEL_FILE, safe_mode=True)
    except ModelLoadError as e:
        raise BundleError(str(e)) from e
    c = card["crop"]
    return Bundle(model, list(card["labels"]), tuple(card["input_shape"]),
                  Crop(int(c["size"]), float(c["eye_distance"]), float(c["eye_y"])),
                  [int(a) for a in card.get("au_codes", [])], card.get("input_scale", "0-255"),
                  card, folder)


def from_model_file(path, labels=None, input_scale: str = "0-255") -> Bundle:
    """A :class:`Bundle` around a model file of your own (``.keras`` or Keras 2 ``.h5``).

    Its first input decides the crop size and channels; its first output is the emotion
    (``labels`` in output order; default CK+'s 8 or FER2013's 7 classes by size);
    ``input_scale`` is how it expects pixels (``"0-255"``, ``"0-1"`` or ``"-1-1"``).
    """
    if input_scale not in ("0-255", "0-1", "-1-1"):
        raise ValueError(f"input_scale must be '0-255', '0-1' or '-1-1', got {input_scale!r}")
    model = load_model(path)
    shape = tuple(int(d) if d else 0 for d in first_input(model).shape[1:])
    if len(shape) == 2:
        shape = (*shape, 1)
    if len(shape) != 3 or not shape[0] or shape[0] != shape[1]:
        raise BundleError(f"{path}: expected a square image input (H, W, C), got {shape}")
    n_out = int(_output(model).shape[-1])
    labels = _default_labels(n_out, path) if labels is None else [canonical(x) for x in labels]
    if len(labels) != n_out:
        raise BundleError(f"{path} has {n_out} outputs but {len(labels)} labels were given")
    return Bundle(model, labels, shape, Crop(size=shape[0]), [], input_scale,
                  {"format": "model file", "path": str(path)}, Path(path))


def open_model(model=None, labels=None, input_scale: str = "0-255") -> Bundle:
    """A bundle folder, a model file, a loaded :class:`Bundle`, or the default bundle."""
    if isinstance(model, Bundle):
        return model
    if model is None:
        path = default_dir()
        if not (path / CARD_FILE).is_file():
            raise BundleError(f"no model bundle at {path}: run `make book` (it exports one), "
                              f"or pass --model DIR (a bundle) or a .keras/.h5 file")
        return load_bundle(path)
    path = Path(model)
    if path.is_dir():
        return load_bundle(path)
    if not path.exists():
        raise BundleError(f"model {path} does not exist")
    return from_model_file(path, labels, input_scale)
