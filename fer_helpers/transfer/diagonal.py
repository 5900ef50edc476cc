"""In-domain accuracy: each source's own emotion CNNs on its own test folds, beside chance,
the majority baseline and, where the AUs are known, the AU ceiling of the same folds.

This is the diagonal the cross-dataset matrix rests on: a network far below what its own
data allows is an open problem, not a finding, and the cells of the matrix that involve it
say little. The ceiling is :func:`fer_helpers.baselines.au_ceiling` (a logistic regression on
the true AU presence and intensity of each image), trained on each fold's training side
(fit + validation, as the CNN) and tested on its test side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..baselines import FAR_BELOW, reference_lines


def in_domain_row(accuracies, labels, triples, au: np.ndarray | None = None) -> dict:
    """One source: its networks' test accuracy per fold (``accuracies``) on the folds
    ``triples`` ((fit, val, test) indices into ``labels``) beside the lines of the same folds.

    Returns means over folds: ``accuracy``, ``accuracy sd`` (NaN for one fold), ``folds``,
    ``chance``, ``majority``, ``ceiling`` (NaN without ``au``).
    """
    acc = np.asarray(accuracies, float)
    if len(acc) != len(triples):
        raise ValueError(f"{len(acc)} fold accuracies for {len(triples)} folds")
    lines = reference_lines(np.asarray(labels), triples, au)
    return {"accuracy": float(acc.mean()),
            "accuracy sd": float(acc.std(ddof=1)) if len(acc) > 1 else float("nan"),
            "folds": len(acc), "chance": float(lines["chance"].mean()),
            "majority": float(lines["majority baseline"].mean()),
            "ceiling": float(lines["AU ceiling"].mean())}


def in_domain(sources: dict) -> pd.DataFrame:
    """One row per source (:class:`~fer_helpers.transfer.sources.Source`): its own CNNs on
    its own test folds (``cv.splits`` of ``trained_on``), chance, majority, AU ceiling."""
    rows = {}
    for name, s in sources.items():
        r = in_domain_row(s.cv.accuracies, s.trained_on.labels, s.cv.splits, s.au)
        rows[name] = {**r, "protocol": ("Training / PublicTest / PrivateTest"
                                        if s.cv.protocol == "official"
                                        else f"{r['folds']}-fold, subject-disjoint"),
                      "data": s.cv.data}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("source")


def in_domain_table(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`in_domain` as text (%), "n/a" where a line is undefined."""
    def pct(v):
        return "n/a" if pd.isna(v) else f"{100 * v:.1f} %"

    def acc(r):
        sd = "" if pd.isna(r["accuracy sd"]) else f" ± {100 * r['accuracy sd']:.1f}"
        return f"{100 * r['accuracy']:.1f}{sd} %"

    return pd.DataFrame({"test accuracy (mean ± sd over folds)": [acc(r) for _, r in df.iterrows()],
                         "AU ceiling": df["ceiling"].map(pct),
                         "majority baseline": df["majority"].map(pct),
                         "chance": df["chance"].map(pct),
                         "protocol": df["protocol"], "data": df["data"]}, index=df.index)


def gap_sentences(df: pd.DataFrame, far: float = FAR_BELOW) -> list[str]:
    """One computed sentence per source of :func:`in_domain`: the gap to the AU ceiling
    (or, without AU codes, to the majority baseline), and "far below what the data
    allows" when the network is more than ``far`` below its ceiling."""
    out = []
    for name, r in df.iterrows():
        acc = f"{100 * r['accuracy']:.1f} %"
        base = (f"majority {100 * r['majority']:.1f} %, chance {100 * r['chance']:.1f} %; "
                f"{r['data']}")
        if pd.isna(r["ceiling"]):
            lead = r["accuracy"] - r["majority"]
            out.append(f"{name}: its networks reach {acc} on their own test folds, "
                       f"{100 * abs(lead):.1f} points {'above' if lead >= 0 else 'below'} the "
                       f"majority baseline; no AU codes, so no AU ceiling ({base}).")
            continue
        gap = r["ceiling"] - r["accuracy"]
        where = "below" if gap >= 0 else "above"
        s = (f"{name}: its networks reach {acc} on their own test folds, "
             f"{100 * abs(gap):.1f} points {where} the AU ceiling of the same folds "
             f"({100 * r['ceiling']:.1f} %; {base})")
        if gap > far:
            s += (": far below what the data allows: an open problem, and the cells of the "
                  "matrix that involve it say little.")
        else:
            s += "."
        out.append(s)
    return out


def in_domain_record(df: pd.DataFrame) -> dict:
    """{source: {"accuracy", "majority", "ceiling"}} for ``results.json`` (ceiling None
    when undefined)."""
    return {name: {"accuracy": float(r["accuracy"]), "majority": float(r["majority"]),
                   "ceiling": None if pd.isna(r["ceiling"]) else float(r["ceiling"])}
            for name, r in df.iterrows()}
