"""Score a table of :func:`fer_helpers.apply.apply` against a video's per-frame truth.

The truth is the CSV :func:`fer_helpers.synth.video.write_video` writes beside a SynthFACS
video (one row per frame and face: ``frame``, ``face``, ``emotion``, ``roll``, the face box,
``AUxx_r`` / ``AUxx_c``), or any table with at least ``frame`` and ``emotion``.

Each truth face is matched to the detection of the same frame whose box centre is nearest its
own (within one face width); with one face per frame and no truth box, to the frame's
detection. A truth face without a match counts as *not found*, and as a wrong emotion.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def match_truth(df: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """One row per truth face: the truth's columns (suffix ``_true``) beside the matched
    detection's (suffix ``_pred``; NaN where none), ``frame`` and ``found`` (0/1)."""
    truth = truth.reset_index(drop=True)
    det = df[df["success"] == 1].reset_index(drop=True)
    pairs = truth[["frame"]].assign(_t=np.arange(len(truth))).merge(
        det[["frame"]].assign(_d=np.arange(len(det))), on="frame")
    if {"face_x", "face_y", "face_w", "face_h"} <= set(truth.columns) and len(pairs):
        t, d = truth.loc[pairs["_t"]], det.loc[pairs["_d"]]

        def centre(tab, a, s):
            return tab[a].to_numpy() + tab[s].to_numpy() / 2

        dist = np.hypot(centre(t, "face_x", "face_w") - centre(d, "face_x", "face_w"),
                        centre(t, "face_y", "face_h") - centre(d, "face_y", "face_h"))
        pairs = pairs.assign(_dist=dist)[dist <= t["face_w"].to_numpy()]
    else:
        pairs = pairs.assign(_dist=0.0)
    best = pairs.sort_values(["_t", "_dist"]).drop_duplicates("_t")
    pred = det.loc[best["_d"]].add_suffix("_pred").assign(_t=best["_t"].to_numpy())
    out = truth.add_suffix("_true").assign(frame=truth["frame"], _t=np.arange(len(truth)))
    out = out.merge(pred, on="_t", how="left").copy()
    out["found"] = out["frame_pred"].notna().astype(int)
    return out.drop(columns=["_t", "frame_true", "frame_pred"])


def f1(y_true, y_pred) -> float:
    """2TP / (2TP + FP + FN); NaN when the truth and the prediction are both all negative."""
    from sklearn.metrics import f1_score

    return float(f1_score(np.asarray(y_true, bool), np.asarray(y_pred, bool),
                          zero_division=np.nan))


def score_against_truth(df: pd.DataFrame, truth: pd.DataFrame, labels=None) -> dict:
    """Per-frame accuracy, baselines, AU F1 and alignment of ``df`` against ``truth``.

    Parameters
    ----------
    df : DataFrame from :func:`~fer_helpers.apply.apply`
    truth : DataFrame (see the module docstring)
    labels : sequence of str, optional
        The emotions the model can answer (a bundle's ``labels``); default: the emotions
        that occur in the truth. Chance is ``1 / len(labels)``.

    Returns
    -------
    dict
        ``frames``, ``faces`` (truth rows), ``faces_found`` (share matched),
        ``emotion_accuracy`` (all truth faces; a missed face is wrong),
        ``emotion_accuracy_found`` (found faces only), ``majority`` (share of the truth's most
        frequent emotion, ``majority_emotion``), ``chance`` (1 / number of labels),
        ``outside_labels`` (truth faces whose emotion the model cannot answer),
        ``per_emotion`` ({emotion: accuracy}), ``au_f1`` ({"AUxx": F1 on found faces}, only
        AUs with presence in both tables and at least one true frame), ``au_support``,
        ``au_mean_f1`` (None without AU outputs), ``align_within_3`` (share of found faces
        whose aligned roll is within 3 degrees of the true eye line) and
        ``align_median_error`` (degrees), both None without a ``roll`` truth.
    """
    m = match_truth(df, truth)
    found = m[m["found"] == 1]
    true_emo = m["emotion_true"].astype(str)
    pred_emo = m["emotion_pred"]
    correct = (pred_emo == true_emo) & (m["found"] == 1)
    counts = true_emo.value_counts()
    labels = list(labels) if labels is not None else sorted(counts.index)
    out = {"frames": int(truth["frame"].nunique()), "faces": len(m),
           "faces_found": float(m["found"].mean()) if len(m) else float("nan"),
           "emotion_accuracy": float(correct.mean()) if len(m) else float("nan"),
           "emotion_accuracy_found": float(correct[m["found"] == 1].mean())
           if len(found) else float("nan"),
           "majority": float(counts.iloc[0] / len(m)) if len(m) else float("nan"),
           "majority_emotion": str(counts.index[0]) if len(m) else None,
           "chance": 1.0 / len(labels) if labels else float("nan"),
           "outside_labels": int((~true_emo.isin(labels)).sum()),
           "per_emotion": {str(e): float(correct[true_emo == e].mean()) for e in counts.index}}
    au_f1, support = {}, {}
    for c in sorted(x[:-2] for x in df.columns if x.startswith("AU") and x.endswith("_c")):
        t, p = f"{c}_c_true", f"{c}_c_pred"
        if t in found.columns and p in found.columns and found[t].sum() > 0:
            au_f1[c] = f1(found[t], found[p] >= 0.5)
            support[c] = int(found[t].sum())
    out["au_f1"], out["au_support"] = au_f1, support
    out["au_mean_f1"] = float(np.mean(list(au_f1.values()))) if au_f1 else None
    if {"roll_true", "pose_Rz_pred"} <= set(m.columns) and len(found):
        err = np.abs((np.degrees(found["pose_Rz_pred"]) - found["roll_true"] + 180) % 360
                     - 180)
        out["align_within_3"] = float((err <= 3.0).mean())
        out["align_median_error"] = float(np.median(err))
    else:
        out["align_within_3"] = out["align_median_error"] = None
    return out


__all__ = ["f1", "match_truth", "score_against_truth"]
