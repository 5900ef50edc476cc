"""Counterfactual AU ablation: does taking an action unit off a face lower a filter?

P(j, u) counts co-occurrences in a filter's top images; it cannot tell a filter that
detects AU ``u`` from one that fires on whatever comes with ``u``. SynthFACS can render the
same face without ``u`` (:func:`fer_helpers.synth.counterfactual_set`), so the question
can be asked directly: for filter ``j``, the *effect* of AU ``u`` is the mean drop of the
filter's response when ``u`` is removed, over the held-out faces that show ``u``, in units
of the filter's spread (its standard deviation over those faces):

    effect(j, u) = mean_s [a_j(face_s) - a_j(face_s without u)] / sd_s[a_j(face_s)]

where ``a_j`` is the filter's largest rectified activation over the image (the response
the paper's top-N statistic ranks by). A filter is *selective* for ``u`` when its effect is
at least ``min_effect`` and exceeds its effect for every other AU by ``margin``.

References
----------
Breuer, R. & Kimmel, R. (2017). A Deep Learning Perspective on the Origin of Facial
Expressions. arXiv:1705.01842, section 3.1 (the P(j, u) statistic this complements).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd

from ..visualize.layers import first_input


def responses(model: keras.Model, layer: str, images: np.ndarray,
              batch_size: int = 256) -> np.ndarray:
    """``(n, filters)``: each filter's largest rectified activation on each image.

    The feature model is built once per call; the caller's model is not changed.
    """
    from ..training import as_input

    feature = keras.Model(first_input(model), model.get_layer(layer).output)
    out = []
    for s in range(0, len(images), batch_size):
        maps = np.asarray(feature(as_input(images[s:s + batch_size]), training=False),
                          np.float32)
        out.append(np.maximum(maps.max(axis=(1, 2)), 0.0))
    return np.concatenate(out) if out else np.zeros((0, int(feature.output.shape[-1])))


@dataclass
class Ablation:
    """Effects of removing each AU on each filter of one layer.

    Attributes
    ----------
    effect : DataFrame (filters x AUs), NaN for silent filters and AUs without scenes
    scenes : Series, held-out faces showing each AU
    selective : DataFrame, one row per selective filter: ``filter``, ``AU``, ``effect``,
        ``runner_up`` (its next largest effect), ``runner_up_AU``
    min_effect, margin : the selectivity rule
    """

    effect: pd.DataFrame
    scenes: pd.Series
    selective: pd.DataFrame
    min_effect: float
    margin: float

    @property
    def coverage(self) -> list[str]:
        """AUs with at least one selective filter."""
        return sorted(set(self.selective["AU"]), key=lambda a: int(a[2:]))

    def causal(self, pairs: pd.DataFrame, threshold: float = 0.5) -> pd.Series:
        """For ``(filter, AU)`` pairs (e.g. the paper's accepted ones): is removing the AU
        lowering the filter by at least ``threshold`` spreads? NaN where the AU was not
        ablated (no held-out face shows it)."""
        eff = self.effect.to_numpy()
        cols = {a: i for i, a in enumerate(self.effect.columns)}
        vals = np.array([eff[int(f), cols[a]] if a in cols else np.nan
                         for f, a in zip(pairs["filter"], pairs["AU"], strict=True)], float)
        return pd.Series(np.where(np.isnan(vals), np.nan, vals >= threshold), index=pairs.index)

    def summary(self) -> dict:
        """Selective filters, AU coverage and the number of AUs tested."""
        tested = [a for a, n in self.scenes.items() if n > 0]
        return {"selective_filters": int(len(self.selective)),
                "au_coverage": int(len(self.coverage)), "aus_tested": len(tested)}


def selective_mask(effect: pd.DataFrame, min_effect: float = 1.0, margin: float = 0.5
                   ) -> pd.DataFrame:
    """True where a filter (row) is selective for that AU (column): its largest effect is
    at least ``min_effect`` and exceeds its next largest by at least ``margin`` (NaN effects
    count as absent). At most one True per row."""
    vals = effect.to_numpy(float)
    mask = np.zeros(vals.shape, bool)
    if vals.shape[1] >= 2:
        finite = np.where(np.isnan(vals), -np.inf, vals)
        order = np.argsort(-finite, axis=1)
        top = np.take_along_axis(finite, order[:, :1], axis=1)[:, 0]
        runner = np.take_along_axis(finite, order[:, 1:2], axis=1)[:, 0]
        with np.errstate(invalid="ignore"):  # -inf - -inf: a filter with no effects
            ok = (top >= min_effect) & (top - runner >= margin)
        mask[np.flatnonzero(ok), order[ok, 0]] = True
    return pd.DataFrame(mask, index=effect.index, columns=effect.columns)


def ablation(model: keras.Model, cset, layer: str = "conv3", min_effect: float = 1.0,
             margin: float = 0.5, min_scenes: int = 5, batch_size: int = 256) -> Ablation:
    """Effect of removing each AU on every filter of ``layer``.

    Parameters
    ----------
    model : keras.Model
        Any model with ``layer``; it is read, never changed.
    cset : fer_helpers.synth.CounterfactualSet
        Held-out faces and their one-AU-removed renders, at the model's input size.
    min_effect, margin : float
        Selective: effect >= ``min_effect`` spreads, and >= ``margin`` spreads above the
        filter's effect for any other AU.
    min_scenes : int
        AUs shown by fewer held-out faces are not scored (NaN).
    """
    full = responses(model, layer, cset.images, batch_size)
    less = responses(model, layer, cset.removed, batch_size)
    spread = full.std(axis=0)
    drop = full[cset.scene] - less  # (m, F)
    codes = [f"AU{c}" for c in cset.au_codes]
    counts = np.bincount(cset.au, minlength=len(codes))
    effect = np.full((full.shape[1], len(codes)), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        for a in np.flatnonzero(counts >= min_scenes):
            effect[:, a] = drop[cset.au == a].mean(axis=0) / spread
    effect[spread <= 0] = np.nan  # a filter that never varies has no spread to measure in
    eff = pd.DataFrame(effect, index=pd.Index(range(len(effect)), name="filter"),
                       columns=codes)
    rows = []
    if len(codes) >= 2:
        finite = np.where(np.isnan(effect), -np.inf, effect)
        second = np.argsort(-finite, axis=1)[:, 1]
        for f, a in zip(*np.nonzero(selective_mask(eff, min_effect, margin).to_numpy()),
                        strict=True):
            rows.append({"filter": int(f), "AU": codes[a], "effect": float(effect[f, a]),
                         "runner_up": float(finite[f, second[f]]),
                         "runner_up_AU": codes[second[f]]})
    sel = pd.DataFrame(rows, columns=["filter", "AU", "effect", "runner_up", "runner_up_AU"])
    return Ablation(eff, pd.Series(counts, index=codes, name="scenes"), sel, min_effect,
                    margin)
