"""Frozen convolutional features: computed once per image and model, shared by every head.

The features of a model are the output of its last convolutional block after pooling
(``pool3``, flattened: 6 x 6 x 256 = 9,216 values for a 48x48 face); the same forward pass
also gives the model's own output (its emotion probabilities, for variant (a) of the
cross-dataset matrix). :class:`FeatureCache` keeps them in memory for as long as the caller
needs them.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import keras
import numpy as np

from ..training import as_input

#: The layer whose output the heads see (the last conv block, after pooling).
FEATURE_LAYER = "flatten"


@dataclass
class Features:
    """Per-image features and the model's own outputs, for one model on one dataset."""

    x: np.ndarray  # (n, d) float16
    prob: np.ndarray  # (n, classes) float32
    seconds: float  # extraction time (0 when read from the cache)


def _at_input_size(images: np.ndarray, model: keras.Model) -> np.ndarray:
    """``images`` resized to the model's input size (e.g. 48x48 FER2013 faces through a CK+
    network trained at 96x96 under profile ``full``); unchanged when they already fit."""
    import cv2

    h, w = (int(d) for d in model.input_shape[1:3])
    if images.shape[1:3] == (h, w):
        return images
    interp = cv2.INTER_AREA if images.shape[1] > h else cv2.INTER_LINEAR
    return np.stack([cv2.resize(im, (w, h), interpolation=interp) for im in images])


def extract(model: keras.Model, images: np.ndarray, batch_size: int = 256,
            layer: str = FEATURE_LAYER) -> Features:
    """One forward pass of ``images`` through ``model``: (flattened pool3 features, output)."""
    import tensorflow as tf

    ext = keras.Model(model.inputs, [model.get_layer(layer).output, model.output])
    x = as_input(_at_input_size(images, model))
    run = tf.function(lambda b: ext(b, training=False),  # one trace, whatever the batch
                      input_signature=[tf.TensorSpec((None, *x.shape[1:]), tf.float32)])
    t = time.perf_counter()
    feats, probs = [], []
    for i in range(0, len(x), batch_size):  # a plain loop: predict() builds a tf.data per call
        f, p = run(tf.constant(x[i:i + batch_size]))
        feats.append(np.asarray(f, np.float16))
        probs.append(np.asarray(p, np.float32))
    d = int(np.prod(ext.outputs[0].shape[1:]))
    n_out = int(model.output.shape[-1])
    out = Features(np.concatenate(feats) if feats else np.zeros((0, d), np.float16),
                   np.concatenate(probs) if probs else np.zeros((0, n_out), np.float32),
                   time.perf_counter() - t)
    return out


def images_key(images: np.ndarray) -> str:
    """Hash of the pixels (which images, in which order)."""
    return hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()[:16]


class FeatureCache:
    """Features per (model key, images), computed once and held in memory on request.

    ``model_key`` must name the weights exactly (e.g. the artifacts folder of a trained
    fold, or the seed of an untrained network).
    """

    def __init__(self):
        self._memory: dict[tuple[str, str], Features] = {}
        self.images_done = 0
        self.seconds = 0.0

    def get(self, model_key: str, load_model, images: np.ndarray, keep: bool = False
            ) -> Features:
        """Features of ``images`` under the model ``load_model()`` returns (called only when
        they are not held). ``keep``: hold them in memory until :meth:`release` (for a later
        step that needs them again)."""
        mem = (model_key, images_key(images))
        if mem in self._memory:
            return self._memory[mem]
        out = extract(load_model(), images)
        self.images_done += len(images)
        self.seconds += out.seconds
        if keep:
            self._memory[mem] = out
        return out

    def release(self) -> None:
        """Forget the features held in memory."""
        self._memory.clear()

    @property
    def rate(self) -> float:
        """Images per second of the extractions this cache ran."""
        return self.images_done / self.seconds if self.seconds else float("nan")
