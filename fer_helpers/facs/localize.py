"""Is a filter's picture where the action unit is? Exact masks, against the right chance.

The mask of AU ``u`` on a face is the set of pixels that change when ``u`` is removed from
that very face (:attr:`fer_helpers.synth.CounterfactualSet.masks`), not a region model
drawn around landmarks. A unit of a deep layer only sees its receptive field, so its
guided-backpropagation picture lies inside that window whatever the network learned. The
chance line is therefore the mask's share of **the unit's receptive-field window**: the
share of the picture a unit that looks anywhere in its window would put inside the mask.
``lift = inside - chance``.

References
----------
Springenberg, J. T., Dosovitskiy, A., Brox, T. & Riedmiller, M. (2015). Striving for
Simplicity: The All Convolutional Net. ICLR workshop (guided backpropagation).
Adebayo, J. et al. (2018). Sanity Checks for Saliency Maps. NeurIPS (why the control matters).
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

from ..visualize.layers import first_input


def receptive_field(model: keras.Model, layer: str) -> tuple[int, int, float]:
    """(size, stride, centre of unit 0) in input pixels, for square conv/pool stacks.

    The usual recurrence over the layers up to ``layer``: each layer with kernel ``k``,
    stride ``s`` and 'same' or 'valid' padding grows the field by ``(k - 1) * jump`` and
    multiplies the jump by ``s``. Layers without a kernel (ReLU, dropout, scaling) change
    nothing.
    """
    size, jump, start = 1, 1, 0.0
    for lay in model.layers:
        k = s = None
        if isinstance(lay, keras.layers.Conv2D):
            k, s, pad = lay.kernel_size[0], lay.strides[0], lay.padding
        elif isinstance(lay, keras.layers.MaxPooling2D | keras.layers.AveragePooling2D):
            k, s, pad = lay.pool_size[0], lay.strides[0], lay.padding
        if k is not None:
            offset = (k - 1) / 2 - ((k - 1) // 2 if pad == "same" else 0)
            start += offset * jump
            size += (k - 1) * jump
            jump *= s
        if lay.name == layer:
            return size, jump, start
    raise ValueError(f"no layer {layer!r} in model {model.name!r}")


def window_share(masks: np.ndarray, units: np.ndarray, field: tuple[int, int, float]
                 ) -> np.ndarray:
    """Share of each mask inside its unit's receptive-field window (clipped to the image).

    ``units``: ``(n, 2)`` (row, col) of the unit in the layer's map.
    """
    size, jump, start = field
    h, w = masks.shape[1:3]
    out = np.empty(len(masks))
    for i, (r, c) in enumerate(units):
        cy, cx = start + r * jump, start + c * jump
        r0, r1 = int(max(0, np.ceil(cy - (size - 1) / 2))), int(min(h, cy + (size - 1) / 2 + 1))
        c0, c1 = int(max(0, np.ceil(cx - (size - 1) / 2))), int(min(w, cx + (size - 1) / 2 + 1))
        out[i] = masks[i, r0:r1, c0:c1].mean()
    return out


def exact_localization(model: keras.Model, cset, pairs: pd.DataFrame, layer: str = "conv3",
                       n: int = 9, batch_size: int = 64) -> pd.DataFrame:
    """Inside share vs receptive-field chance for ``(filter, AU)`` pairs on held-out faces.

    For each pair, the ``n`` held-out faces showing the AU that excite the filter most:
    the guided-backpropagation picture of the filter (at its strongest unit) on the full
    face, the share of its absolute mass inside the AU's exact mask on that face, and the
    mask's share of the unit's receptive-field window.

    Returns
    -------
    pandas.DataFrame
        ``pairs`` plus ``inside``, ``chance`` and ``lift`` (means over the faces; NaN where
        the AU was not ablated or the filter never fires on its faces).
    """
    from ..training import as_input
    from ..visualize import GuidedBackprop

    feature = keras.Model(first_input(model), model.get_layer(layer).output)
    maps = np.concatenate([np.asarray(feature(as_input(cset.images[s:s + 256]),
                                              training=False), np.float32)
                           for s in range(0, len(cset.images), 256)])
    code_col = {f"AU{c}": i for i, c in enumerate(cset.au_codes)}
    jobs = []  # (pair row, removal rows k)
    for row, (f, a) in enumerate(zip(pairs["filter"].astype(int), pairs["AU"], strict=True)):
        ks = np.flatnonzero(cset.au == code_col.get(a, -1))
        if not len(ks):
            continue
        peak = maps[cset.scene[ks], :, :, f].max(axis=(1, 2))
        ks = ks[np.argsort(-peak, kind="stable")][:n]
        ks = ks[maps[cset.scene[ks], :, :, f].max(axis=(1, 2)) > 0]
        if len(ks):
            jobs.append((row, f, ks))
    inside = np.full(len(pairs), np.nan)
    chance = np.full(len(pairs), np.nan)
    if jobs:
        ks = np.concatenate([k for *_, k in jobs])
        filters = np.concatenate([np.full(len(k), f) for _, f, k in jobs])
        scenes = cset.scene[ks]
        pics = GuidedBackprop(model, layer, batch_size=batch_size)(cset.images[scenes], filters)
        g = np.abs(pics.astype(np.float64))
        g = g.sum(axis=-1) if g.ndim == 4 else g
        masks = cset.masks[ks]
        total = g.sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, (g * masks).sum(axis=(1, 2)) / total, np.nan)
        flat = maps[scenes, :, :, filters].reshape(len(ks), -1)
        units = np.stack(np.unravel_index(flat.argmax(axis=1), maps.shape[1:3]), axis=1)
        ch = window_share(masks, units, receptive_field(model, layer))
        at = 0
        for row, _, k in jobs:
            inside[row] = np.nanmean(share[at:at + len(k)])
            chance[row] = ch[at:at + len(k)].mean()
            at += len(k)
    return pairs.assign(inside=inside, chance=chance, lift=inside - chance)
