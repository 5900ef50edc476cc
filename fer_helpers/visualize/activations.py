"""Which images excite a filter most, and which filters ever fire (streamed, bounded memory)."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd

from .layers import conv_layer, first_input


def _batches(images, batch_size: int):
    if isinstance(images, np.ndarray):
        for s in range(0, len(images), batch_size):
            yield images[s:s + batch_size]
    else:  # any iterable of arrays (e.g. a generator reading files)
        yield from images


@dataclass
class TopImages:
    """Per filter, its ``n`` most activating images (best first).

    Attributes
    ----------
    index : (F, n) int, position of the image in the input stream; -1 where the filter fires
        on fewer than ``n`` images (a dead filter has no top images at all)
    value : (F, n) float, the image's maximal rectified activation
    location : (F, n, 2) int, (row, col) of that maximum in the activation map
    location_input : (F, n, 2) float, the same place in input pixels (centre of its cell)
    max_activation : (F,) float, the filter's largest activation over every image
    active_share : (F,) float, share of images on which the filter fires at all
    n_images : int
    """

    index: np.ndarray
    value: np.ndarray
    location: np.ndarray
    location_input: np.ndarray
    max_activation: np.ndarray
    active_share: np.ndarray
    n_images: int


class TopActivations:
    """Stream images through ``model`` up to ``layer`` and keep each filter's top ``n``.

    Memory stays ``O(filters x n)`` whatever the number of images: pass an array or any
    iterable of batches.
    """

    def __init__(self, model: keras.Model, layer: str, n: int = 9, batch_size: int = 256):
        conv_layer(model, layer)
        self.layer, self.n, self.batch_size = layer, n, batch_size
        # the first input: Keras 2 files often load with a list of one input
        self.feature = keras.Model(first_input(model), model.get_layer(layer).output)
        self.n_filters = int(self.feature.output.shape[-1])
        self._in_hw = tuple(first_input(model).shape[1:3])

    def __call__(self, images) -> TopImages:
        f, n = self.n_filters, self.n
        val = np.full((f, n), -np.inf, np.float32)
        idx = np.full((f, n), -1, np.int64)
        loc = np.zeros((f, n, 2), np.int64)
        peak = np.zeros(f, np.float32)
        fired = np.zeros(f, np.int64)
        seen, hw = 0, None
        for batch in _batches(images, self.batch_size):
            x = np.asarray(batch, np.float32)
            if x.ndim == 3:
                x = x[..., None]
            act = np.maximum(np.asarray(self.feature(x, training=False), np.float32), 0.0)
            b, h, w, _ = act.shape
            hw = (h, w)
            flat = act.reshape(b, h * w, f)
            best = flat.max(axis=1)  # (b, f)
            where = flat.argmax(axis=1)  # (b, f)
            peak = np.maximum(peak, best.max(axis=0))
            fired += (best > 0).sum(axis=0)
            cand_val = np.concatenate([val, best.T], axis=1)
            cand_idx = np.concatenate([idx, np.broadcast_to(np.arange(seen, seen + b), (f, b))],
                                      axis=1)
            cand_loc = np.concatenate([loc, np.stack(np.divmod(where.T, w), axis=-1)], axis=1)
            order = np.argsort(-cand_val, axis=1, kind="stable")[:, :n]
            val = np.take_along_axis(cand_val, order, axis=1)
            idx = np.take_along_axis(cand_idx, order, axis=1)
            loc = np.take_along_axis(cand_loc, order[..., None], axis=1)
            seen += b
        if hw is None:
            raise ValueError("no images were given")
        scale = np.array([self._in_hw[0] / hw[0], self._in_hw[1] / hw[1]])
        none = ~(val > 0)  # not filled, or the filter does not fire on it
        idx[none] = -1
        return TopImages(idx, np.where(none, np.nan, val), loc,
                         (loc + 0.5) * scale, peak, fired / max(seen, 1), seen)


def census(top: TopImages, threshold: float = 0.0) -> pd.DataFrame:
    """Active vs dead filters.

    A filter is *dead* when its rectified activation never exceeds ``threshold`` on any
    image and at any position (with ``threshold=0``: it never fires), else *active*.
    """
    return pd.DataFrame({"filter": np.arange(len(top.max_activation)),
                         "max activation": top.max_activation,
                         "share of images firing": top.active_share,
                         "active": top.max_activation > threshold})
