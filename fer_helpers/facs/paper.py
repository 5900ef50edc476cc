"""Do filters pick out FACS action units? The paper's statistic, and a ground-truth check.

Breuer & Kimmel (section 3.1): for filter ``j`` of a convolutional layer take the ``N`` images
that activate it most; with ``A[i, u] = 1`` when AU ``u`` is present in image ``i``,

    P(j, u) = (1 / N) * sum over those images of A[i, u],

and, since N is small, reject every pair with ``P(j, u) < 1``. They report "out of 50 active
neurons from a 256 filters map trained on CK+, only 7 were rejected" and about 30% of the last
layer's filters active.

P(j, u) = 1 over N images is weak evidence on its own: a CK+ sequence gives three near-copies
of its peak, and AU sets co-occur. So the images are one frame per sequence
(:func:`one_frame_per_sequence`), and the number of accepted pairs stands beside a null in
which AU sets are shuffled over the sequences (:func:`shuffle_null`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


def accepted_count(top_index: np.ndarray, au_presence: np.ndarray,
                   threshold: float = 1.0) -> int:
    """Number of (filter, AU) pairs with ``P(j, u) >= threshold`` (filters with N images)."""
    top_index = np.asarray(top_index)
    full = (top_index >= 0).all(axis=1)
    if not full.any():
        return 0
    p = np.asarray(au_presence, bool)[top_index[full]].mean(axis=1)
    return int((p >= threshold).sum())


def one_frame_per_sequence(paths, au_presence) -> np.ndarray:
    """Indices of one coded frame per sequence (the last coded one, the peak in CK+).

    A CK+ sequence's peak frames are near copies with one FACS coding: counted three times,
    a filter's "top 9" images are three faces. The sequence is the folder of the frame.
    """
    coded = np.flatnonzero(np.asarray(au_presence, bool).any(axis=1))
    last: dict[str, int] = {}
    for i in coded:
        last[str(Path(str(paths[i])).parent)] = int(i)  # paths sorted: the last frame wins
    return np.array(sorted(last.values()), int)


def shuffle_null(top_index: np.ndarray, au_presence: np.ndarray, n_perm: int = 200,
                 seed: int = 0, threshold: float = 1.0) -> dict:
    """Accepted pairs under a null where AU sets are shuffled over the images.

    Each image's whole AU set moves to another image (so co-occurrences such as AU6 with
    AU12 are kept, and each filter's top images stay the same): how many pairs would pass
    ``P(j, u) >= threshold`` if the AUs had nothing to do with what the filter sees?
    Pass one image per sequence (:func:`one_frame_per_sequence`) for a sequence-level
    shuffle.

    Returns
    -------
    dict
        ``observed``, ``null_mean``, ``null_p95`` (95th percentile), ``p_value`` (share of
        shuffles with at least the observed count, with the +1 correction) and ``n_perm``.
    """
    presence = np.asarray(au_presence, bool)
    observed = accepted_count(top_index, presence, threshold)
    rng = np.random.default_rng(seed)
    null = np.array([accepted_count(top_index, presence[rng.permutation(len(presence))],
                                    threshold) for _ in range(n_perm)])
    return {"observed": observed, "null_mean": float(null.mean()),
            "null_p95": float(np.percentile(null, 95)),
            "p_value": float((1 + (null >= observed).sum()) / (1 + n_perm)), "n_perm": n_perm}


@dataclass
class Analysis:
    """The paper's FACS-correlation analysis of one layer, beside its shuffle null."""

    layer: str
    n: int
    census: pd.DataFrame
    p: pd.DataFrame
    pairs: pd.DataFrame  # accepted (filter, AU, P) pairs
    counts: dict
    null: dict  # shuffle_null of the accepted-pair count
    top: object  # visualize.TopImages
    images: np.ndarray  # rows of ``ds`` analysed (one frame per sequence)


def analyse(model, ds, layer: str = "conv3", n: int = 9, threshold: float = 1.0,
            n_perm: int = 200, seed: int = 0) -> Analysis:
    """The paper's analysis on ``ds`` (a FaceDataset with AU codes), one frame per sequence.

    Works on real CK+ (its FACS files) as on SynthFACS: the top-``n`` images of every filter
    of ``layer``, P(j, u), the paper's counts, and the accepted-pair count beside a
    sequence-level AU-shuffle null (:func:`shuffle_null`).
    """
    from ..visualize import TopActivations, census

    if ds.au_presence is None:
        raise ValueError("the dataset has no AU labels (CK+ FACS files or SynthFACS needed)")
    rows = one_frame_per_sequence(ds.paths, ds.au_presence)
    top = TopActivations(model, layer, n=n, batch_size=256)(ds.images[rows])
    cen = census(top)
    presence = ds.au_presence[rows]
    p = p_matrix(top.index, presence, ds.au_codes)
    return Analysis(layer, n, cen, p, accepted_pairs(p, threshold),
                    paper_counts(p, cen["active"].to_numpy(), threshold),
                    shuffle_null(top.index, presence, n_perm, seed, threshold), top, rows)
