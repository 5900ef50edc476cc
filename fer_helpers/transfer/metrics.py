"""AU metrics: presence (accuracy beside the all-absent baseline, F1, ROC AUC) and intensity
(rounded accuracy, MSE, MAE, ICC(3,1), Pearson r beside the all-zero baseline).

References
----------
Shrout, P. E. & Fleiss, J. L. (1979). Intraclass correlations: uses in assessing rater
reliability. Psychological Bulletin 86(2), 420-428 (ICC(3,1), their Table 4 example).
Jeni, L. A., Cohn, J. F. & De la Torre, F. (2013). Facing imbalanced data: recommendations
for the use of performance metrics. ACII (why AU accuracy needs its baseline).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, roc_auc_score


def icc31(ratings) -> float:
    """ICC(3,1): two-way mixed, consistency, single rater (Shrout & Fleiss 1979).

    ``ratings`` is (n targets, k raters), e.g. the columns (truth, prediction). With the
    between-targets mean square ``MSR`` (df n-1) and the residual mean square ``MSE``
    (df (n-1)(k-1)): ``(MSR - MSE) / (MSR + (k - 1) MSE)``. NaN when undefined (fewer than
    two targets, or no variance at all).
    """
    x = np.asarray(ratings, float)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"ratings must be (n targets, k >= 2 raters), got shape {x.shape}")
    n, k = x.shape
    if n < 2:
        return float("nan")
    grand = x.mean()
    ss_rows = k * ((x.mean(1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(0) - grand) ** 2).sum()
    ss_err = ((x - grand) ** 2).sum() - ss_rows - ss_cols
    msr, mse = ss_rows / (n - 1), ss_err / ((n - 1) * (k - 1))
    den = msr + (k - 1) * mse
    return float((msr - mse) / den) if den > 0 else float("nan")


def presence_metrics(y_true, prob, codes, threshold: float = 0.5) -> tuple[dict, pd.DataFrame]:
    """Presence of each AU (columns of ``y_true``, numbered ``codes``) from probabilities.

    Returns the summary (``accuracy``: the paper's mean per-AU accuracy; ``all_absent
    accuracy``; ``mean F1``; ``mean ROC AUC`` over the AUs where it is defined and ``AUC
    undefined``, the number of AUs whose test side has one class only) and the per-AU table.
    F1 of an AU that is neither present nor predicted is NaN (left out of the mean).
    """
    y = np.asarray(y_true).astype(int)
    p = np.asarray(prob, float)
    pred = (p >= threshold).astype(int)
    rows = []
    for j, c in enumerate(codes):
        both = len(np.unique(y[:, j])) == 2
        rows.append({"AU": f"AU{c}", "incidence": y[:, j].mean(),
                     "accuracy": (pred[:, j] == y[:, j]).mean(),
                     "all-absent accuracy": 1 - y[:, j].mean(),
                     "F1": f1_score(y[:, j], pred[:, j], zero_division=np.nan),
                     "ROC AUC": roc_auc_score(y[:, j], p[:, j]) if both else np.nan})
    per_au = pd.DataFrame(rows).set_index("AU")
    summary = {"accuracy": float((pred == y).mean()),
               "all_absent accuracy": float((y == 0).mean()),
               "mean F1": float(per_au["F1"].mean()),
               "mean ROC AUC": float(per_au["ROC AUC"].mean()),
               "AUC undefined": int(per_au["ROC AUC"].isna().sum())}
    return summary, per_au


def intensity_metrics(y_true, pred, codes) -> tuple[dict, pd.DataFrame]:
    """Intensity 0-5 per AU; NaN truths (present, intensity not coded) are left out.

    ``pred`` is clipped to 0-5. Pooled over all (image, AU) entries: ``accuracy`` of the
    rounded prediction, ``MSE`` (the paper's), ``MAE``; per AU, then averaged over the AUs
    where defined: ``ICC(3,1)`` of (truth, prediction) and ``Pearson r``. The same for the
    all-zero prediction (its ICC is 0 by construction, its r undefined).
    """
    y = np.asarray(y_true, float)
    p = np.clip(np.asarray(pred, float), 0, 5)
    ok = np.isfinite(y)
    rows = []
    for j, c in enumerate(codes):
        m = ok[:, j]
        yt, yp = y[m, j], p[m, j]
        varied = len(yt) > 1 and yt.std() > 0
        rows.append({"AU": f"AU{c}", "n": int(m.sum()),
                     "accuracy": float((np.rint(yp) == yt).mean()) if m.any() else np.nan,
                     "MSE": float(((yp - yt) ** 2).mean()) if m.any() else np.nan,
                     "ICC(3,1)": icc31(np.c_[yt, yp]) if varied else np.nan,
                     "Pearson r": float(np.corrcoef(yt, yp)[0, 1])
                     if varied and yp.std() > 0 else np.nan})
    per_au = pd.DataFrame(rows).set_index("AU")
    yt, yp = y[ok], p[ok]
    summary = {"accuracy": float((np.rint(yp) == yt).mean()),
               "MSE": float(((yp - yt) ** 2).mean()), "MAE": float(np.abs(yp - yt).mean()),
               "ICC(3,1)": float(per_au["ICC(3,1)"].mean()),
               "Pearson r": float(per_au["Pearson r"].mean()),
               "all_zero accuracy": float((yt == 0).mean()),
               "all_zero MSE": float((yt ** 2).mean()), "all_zero MAE": float(np.abs(yt).mean())}
    return summary, per_au
