"""Do filters pick out FACS action units? The paper's statistic, and a ground-truth check.

Breuer & Kimmel (section 3.1): for filter ``j`` of a convolutional layer take the ``N`` images
that activate it most; with ``A[i, u] = 1`` when AU ``u`` is present in image ``i``,

    P(j, u) = (1 / N) * sum over those images of A[i, u],

and, since N is small, reject every pair with ``P(j, u) < 1``. They report "out of 50 active
neurons from a 256 filters map trained on CK+, only 7 were rejected" and about 30% of the last
layer's filters active.

SynthFACS knows where each AU acts, so an accepted pair can also be checked: does the
filter's guided-backprop mass fall inside the AU's region (:func:`localization`)?
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def p_matrix(top_index: np.ndarray, au_presence: np.ndarray, au_codes) -> pd.DataFrame:
    """P(j, u) for every filter and AU.

    Parameters
    ----------
    top_index : (F, N) int
        Each filter's top-N images (``TopImages.index``); ``-1`` = fewer firing images.
    au_presence : (n_images, K) bool
        AU presence per image, columns ``au_codes``.

    Returns
    -------
    pandas.DataFrame
        ``F x K``; rows of filters with fewer than ``N`` firing images are NaN (the paper's
        statistic needs N images).
    """
    top_index = np.asarray(top_index)
    presence = np.asarray(au_presence, bool)
    full = (top_index >= 0).all(axis=1)
    p = np.full((len(top_index), presence.shape[1]), np.nan)
    if full.any():
        p[full] = presence[top_index[full]].mean(axis=1)
    return pd.DataFrame(p, index=pd.Index(range(len(top_index)), name="filter"),
                        columns=[f"AU{c}" for c in au_codes])


def accepted_pairs(p: pd.DataFrame, threshold: float = 1.0) -> pd.DataFrame:
    """(filter, AU, P) for every pair with ``P(j, u) >= threshold`` (the paper keeps P = 1)."""
    long = p.reset_index().melt(id_vars="filter", var_name="AU", value_name="P")
    long = long[long["P"] >= threshold]
    return long.sort_values(["filter", "AU"], key=lambda c: c if c.name == "filter" else
                            c.str[2:].astype(int)).reset_index(drop=True)


def paper_counts(p: pd.DataFrame, active: np.ndarray, threshold: float = 1.0) -> dict:
    """The paper's counts, in its form.

    A filter is *active* per the census (it fires); it is *rejected* when it is active but no
    AU reaches ``P(j, u) >= threshold`` over its top-N images (filters firing on fewer than
    N images count as rejected: the statistic cannot accept them).
    """
    active = np.asarray(active, bool)
    best = p.max(axis=1).to_numpy()
    accepted = active & (np.nan_to_num(best, nan=-1.0) >= threshold)
    return {"filters": int(len(active)), "active": int(active.sum()),
            "active_share": float(active.mean()) if len(active) else 0.0,
            "accepted": int(accepted.sum()), "rejected": int(active.sum() - accepted.sum())}


def localization(pictures: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Share of each picture's absolute gradient mass inside its mask.

    Parameters
    ----------
    pictures : (n, H, W[, C]) gradients (e.g. guided backprop)
    masks : (n, H, W) bool, the AU's region on the same image

    Returns
    -------
    numpy.ndarray
        ``(n,)`` shares in [0, 1]; NaN where a picture has no mass.
    """
    g = np.abs(np.asarray(pictures, np.float64))
    if g.ndim == 4:
        g = g.sum(axis=-1)
    total = g.sum(axis=(1, 2))
    inside = (g * np.asarray(masks, bool)).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / total, np.nan)


def localization_summary(pairs: pd.DataFrame, au_codes_present, threshold: float = 0.5
                         ) -> dict:
    """Precision and AU recovery of localized pairs.

    ``pairs`` needs columns ``AU`` and ``inside`` (mean share of mass inside the AU's
    region over the filter's top-N images). A pair is *localized* when ``inside >=
    threshold``. Precision = localized / accepted pairs; AU recovery = share of the AUs in
    ``au_codes_present`` with at least one localized filter.
    """
    loc = pairs["inside"] >= threshold
    found = set(pairs.loc[loc, "AU"])
    present = [f"AU{c}" for c in au_codes_present]
    return {"accepted_pairs": int(len(pairs)), "localized_pairs": int(loc.sum()),
            "precision": float(loc.mean()) if len(pairs) else float("nan"),
            "aus": len(present), "aus_recovered": int(len(found & set(present))),
            "recovery": (len(found & set(present)) / len(present)) if present else float("nan"),
            "threshold": threshold}


def versus_control(trained: dict, control: dict) -> str:
    """One sentence per measure saying whether the trained network beats the control.

    ``trained`` and ``control`` are :func:`localization_summary` results.
    """
    lines = []
    for key, what in (("precision", "precision (localized / accepted pairs)"),
                      ("recovery", "AU recovery (AUs with a localized filter)")):
        t, c = trained[key], control[key]
        if np.isnan(t) or np.isnan(c):
            verdict = "cannot be compared (no accepted pairs on one side)"
        elif t > c:
            verdict = "the trained network is above the control"
        elif t < c:
            verdict = "the trained network is BELOW the control"
        else:
            verdict = "the trained network equals the control"
        lines.append(f"{what}: trained {t:.2f}, untrained control {c:.2f}: {verdict}")
    return "\n".join(lines)


@dataclass
class Analysis:
    """The paper's FACS-correlation analysis of one layer, with the SynthFACS check."""

    layer: str
    n: int
    census: pd.DataFrame
    p: pd.DataFrame
    pairs: pd.DataFrame  # accepted pairs + inside / area shares (NaN: AU without a region)
    counts: dict
    localization: dict
    top: object  # visualize.TopImages


def analyse(model, ds, layer: str = "conv3", n: int = 9, threshold: float = 1.0,
            inside_threshold: float = 0.5, blur: float = 1.0, batch_size: int = 64
            ) -> Analysis:
    """Run the paper's analysis on ``ds`` (a FaceDataset with AU presence and landmarks).

    For each accepted (filter, AU) pair, the guided-backprop pictures of the filter's top-N
    images are compared with the AU's region on each image (SynthFACS' region model,
    placed by the image's own 68 landmarks): ``inside`` is the mean share of gradient mass in
    the region, ``area`` the region's mean share of the image (what a picture spread
    evenly would score). AUs SynthFACS does not model get NaN.
    """
    from .synth import AU_CODES as REGION_CODES
    from .synth import au_region_masks
    from .visualize import GuidedBackprop, TopActivations, census

    if ds.au_presence is None:
        raise ValueError("the dataset has no AU labels (CK+ FACS files or SynthFACS needed)")
    labelled = ds.au_presence.any(axis=1)  # frames with FACS coding (peak frames)
    sub = ds.subset(np.flatnonzero(labelled))
    top = TopActivations(model, layer, n=n, batch_size=256)(sub.images)
    cen = census(top)
    p = p_matrix(top.index, sub.au_presence, sub.au_codes)
    pairs = accepted_pairs(p, threshold)
    counts = paper_counts(p, cen["active"].to_numpy(), threshold)
    # each filter's pictures once (one batched call for all), each image's regions once
    codes = pairs["AU"].str[2:].astype(int)
    has_region = codes.isin(REGION_CODES) & (sub.landmarks is not None)
    filters = np.unique(pairs.loc[has_region, "filter"]).astype(int)
    shape = sub.images.shape[1:3]
    pictures = {}
    if len(filters):
        gb = GuidedBackprop(model, layer, batch_size=batch_size)
        pics = gb(sub.images[top.index[filters].ravel()], np.repeat(filters, n))
        pictures = dict(zip(filters, pics.reshape(len(filters), n, *pics.shape[1:]),
                            strict=True))
    regions: dict[int, np.ndarray] = {}

    def region(i: int, code: int) -> np.ndarray:
        if i not in regions:
            regions[i] = au_region_masks(sub.landmarks[i], shape, blur)
        return regions[i][REGION_CODES.index(code)]

    inside, area = [], []
    for f, code, ok in zip(pairs["filter"], codes, has_region, strict=True):
        if not ok:
            inside.append(np.nan)
            area.append(np.nan)
            continue
        masks = np.stack([region(i, code) for i in top.index[f]])
        inside.append(float(np.nanmean(localization(pictures[f], masks))))
        area.append(float(masks.mean()))
    pairs = pairs.assign(inside=inside, area=area)
    with_region = pairs.dropna(subset=["inside"])
    present = [c for c, k in zip(sub.au_codes, sub.au_presence.any(axis=0), strict=True)
               if k and c in REGION_CODES]
    loc = localization_summary(with_region, present, inside_threshold)
    return Analysis(layer, n, cen, p, pairs, counts, loc, top)
