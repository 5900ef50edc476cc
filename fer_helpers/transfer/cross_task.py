"""Cross-task: AU presence and intensity from frozen conv features, with the controls.

Four feature sets, on the CK+ (layout) folds, per fold and seed, the same networks chapter 4
studies (same artifacts): ``trained`` (chapter 2's emotion CNN), ``untrained`` (random
weights, chapter 4's seeds), ``shuffled`` (trained on shuffled labels) and ``au_trained``
(trained end to end on AU presence: the reference). On each, the three heads of
:class:`~fer_helpers.transfer.heads.AUHeadSet` are trained on the fold's training subjects and
scored on its test subjects; their weight decay is chosen per head on a subject-disjoint
validation split of the training subjects (recorded per run as ``weight decay <head>``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..facs.study import NETWORKS, mean_sd, network_specs  # noqa: F401  (mean_sd: re-exported)
from .features import FeatureCache
from .heads import AUHeadSet, HeadConfig, Heads, head_model
from .metrics import intensity_metrics, presence_metrics

LABELS = {"trained": "emotion-trained (frozen)", "untrained": "untrained (random weights)",
          "shuffled": "shuffled labels (frozen)", "au_trained": "AU-trained (reference)"}
#: Names in ``results.json``.
RESULT_NAMES = {"trained": "emotion_frozen", "untrained": "untrained_frozen",
                "shuffled": "shuffled_frozen", "au_trained": "au_trained"}


def networks(ck, config, artifacts, n_folds: int, seeds=(0,), data: str = ""):
    """(kind, fold, seed, cache key, loader) of every network on the CK+ dataset ``ck``
    (chapter 2's): chapter 4's networks, trained or loaded by
    :func:`fer_helpers.facs.study.network_specs`."""
    for sp in network_specs(ck, config, artifacts, n_folds, seeds, NETWORKS, data=data):
        yield sp.kind, sp.fold, sp.seed, sp.key, sp.load


def au_targets(ds) -> tuple[np.ndarray, np.ndarray]:
    """(presence 0/1, intensity 0-5 with NaN where present but not coded) per image and AU."""
    if ds.au_presence is None:
        raise ValueError(f"{ds.name}: no AU codes (the cross-task part needs CK+ FACS files "
                         "or SynthFACS)")
    pres = ds.au_presence.astype(np.float32)
    inten = np.where(ds.au_presence, ds.au_intensity, 0.0).astype(np.float32)
    return pres, inten


def au_heads(ck_source, nets, cache: FeatureCache, config: HeadConfig | None = None,
             l1: float = 1e-3, l2: float = 1e-3, export: dict | None = None,
             export_key=("trained", 0, 0)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """AU heads on every network of ``nets`` (from :func:`networks`).

    Returns one row per (network, fold, seed) with the presence (all-at-once and per-AU
    detectors) and intensity summaries, and the per-AU table (long: network, fold, seed, AU,
    F1, ROC AUC, per-AU detectors' F1, intensity ICC).

    ``export``: a dict that receives, for the network ``export_key`` (kind, fold, seed),
    its all-at-once presence head and its intensity head (clipped to 0-5) as plain Keras
    models on the raw flattened features (:func:`~.heads.head_model`: the heads as trained
    here, nothing refitted), with the ``key`` of its network, ``au_codes``, the chosen
    ``weight_decay`` and the ``row`` of its test figures.
    """
    config = config or HeadConfig()
    dom = ck_source.domain
    ds = dom.ds
    pres, inten = au_targets(ds)
    codes = ds.au_codes
    spec = AUHeadSet(len(codes), l1, l2)
    heads = None
    rows, per_au = [], []
    for kind, k, seed, key, load in nets:
        feats = cache.get(key, load, ds.images)
        if heads is None:
            heads = Heads(feats.x.shape[1], spec.specs, config)
        train, test = dom.splits[k]
        # weight decay per head chosen on a subject-disjoint split of the training side
        sel = heads.fit_selected(feats.x, {"presence": pres, "per_au": pres,
                                           "intensity": inten}, train, ds.subjects, seed=seed)
        if export is not None and (kind, k, seed) == tuple(export_key):
            export.update(presence=head_model(heads, "presence"),
                          intensity=head_model(heads, "intensity", clip=(0.0, 5.0)), key=key,
                          au_codes=tuple(codes), weight_decay=dict(sel.chosen))
        out = heads.predict(feats.x[test])
        p_all, t_all = presence_metrics(pres[test], out["presence"], codes)
        p_one, t_one = presence_metrics(pres[test], out["per_au"], codes)
        i_sum, i_tab = intensity_metrics(inten[test], out["intensity"], codes)
        rows.append({"network": kind, "fold": k, "seed": seed,
                     **{f"presence {m}": v for m, v in p_all.items()},
                     **{f"per-AU detectors {m}": v for m, v in p_one.items()
                        if not m.startswith("all_absent")},
                     **{f"intensity {m}": v for m, v in i_sum.items()},
                     "train images": len(train), "test images": len(test),
                     **{f"weight decay {n}": v for n, v in sel.chosen.items()}})
        if export is not None and export.get("key") == key and "row" not in export:
            export["row"] = rows[-1]
        per_au.append(pd.DataFrame({"network": kind, "fold": k, "seed": seed,
                                    "AU": t_all.index, "incidence": t_all["incidence"].to_numpy(),
                                    "F1": t_all["F1"].to_numpy(),
                                    "ROC AUC": t_all["ROC AUC"].to_numpy(),
                                    "per-AU detector F1": t_one["F1"].to_numpy(),
                                    "intensity ICC(3,1)": i_tab["ICC(3,1)"].to_numpy()}))
    return pd.DataFrame(rows), pd.concat(per_au, ignore_index=True)


_PERCENT = ("accuracy", "F1", "AUC")


def table(rows: pd.DataFrame, columns) -> pd.DataFrame:
    """Measures (rows) x networks (columns), "mean ± sd" text over folds x seeds."""
    st = mean_sd(rows, columns)
    runs = int(st["runs"][columns[0]].max())

    def cell(c, n):
        m, s = st["mean"].loc[n, c], st["sd"].loc[n, c]
        s = 0.0 if pd.isna(s) else s
        if pd.isna(m):
            return "n/a"
        if any(w in c for w in _PERCENT) and "undefined" not in c:
            return f"{100 * m:.1f} ± {100 * s:.1f} %"
        return f"{m:.3f} ± {s:.3f}"

    return pd.DataFrame({LABELS[n]: [cell(c, n) for c in columns] for n in st.index},
                        index=pd.Index(columns, name=f"mean ± sd over {runs} runs each"))


def verdict(rows: pd.DataFrame, measure: str, source: str) -> list[str]:
    """Sentences computed from mean ± sd over folds x seeds, comparing the emotion-trained
    features with the untrained and shuffled-label controls and the AU-trained reference.

    "better" / "WORSE" when the two intervals mean ± sd do not overlap (for MSE and MAE lower
    is better), else "not distinguishable from".
    """
    st = mean_sd(rows, [measure])
    m, sd = st["mean"][measure], st["sd"][measure].fillna(0.0)
    pct = any(w in measure for w in _PERCENT)
    lower = any(w in measure for w in ("MSE", "MAE"))

    def fmt(n):
        return f"{100 * m[n]:.1f} ± {100 * sd[n]:.1f} %" if pct else f"{m[n]:.3f} ± {sd[n]:.3f}"

    def rel(a, b):
        hi, lo = (b, a) if lower else (a, b)
        if m[hi] - sd[hi] > m[lo] + sd[lo]:
            return "better than"
        if m[lo] - sd[lo] > m[hi] + sd[hi]:
            return "WORSE than"
        return "not distinguishable from"

    out = []
    for ctrl in ("untrained", "shuffled"):
        if ctrl in m.index and "trained" in m.index:
            out.append(f"{measure}: emotion-trained features {fmt('trained')}, "
                       f"{rel('trained', ctrl)} the {LABELS[ctrl]} control ({fmt(ctrl)}).")
    if "au_trained" in m.index and "trained" in m.index:
        share = m["trained"] / m["au_trained"] if pct and m["au_trained"] > 0 else np.nan
        out.append(f"{measure}: emotion-trained features are {rel('trained', 'au_trained')} "
                   f"the AU-trained reference ({fmt('au_trained')})"
                   + (f", {share:.0%} of it" if np.isfinite(share) else "") + f" ({source}).")
    return out


def record(rows: pd.DataFrame) -> dict:
    """The AU numbers ``results.json`` keeps, per feature set (means over folds x seeds)."""
    st = mean_sd(rows, ["presence accuracy", "presence all_absent accuracy",
                        "presence mean F1", "intensity MSE", "intensity ICC(3,1)",
                        "intensity all_zero MSE"])["mean"]
    pres = {RESULT_NAMES[n]: {"accuracy": st.loc[n, "presence accuracy"],
                              "all_absent_accuracy": st.loc[n, "presence all_absent accuracy"],
                              "mean_f1": st.loc[n, "presence mean F1"]} for n in st.index}
    inten = {RESULT_NAMES[n]: {"mse": st.loc[n, "intensity MSE"],
                               "icc": st.loc[n, "intensity ICC(3,1)"],
                               "all_zero_mse": st.loc[n, "intensity all_zero MSE"]}
             for n in st.index}
    return {"au_presence": pres, "au_intensity": inten}
