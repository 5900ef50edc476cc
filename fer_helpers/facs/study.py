"""Chapter 4's controlled study: four networks, folds x seeds, three measures, one verdict.

Networks, per fold and seed (same architecture, same folds):

- ``trained``: the paper CNN trained on emotion labels (chapter 2's recipe);
- ``untrained``: the same architecture with random weights (nothing learned);
- ``shuffled``: trained on labels shuffled over sequences until it fits its training set
  (it can only memorise; Zhang et al. 2017);
- ``au_trained``: trained on AU presence directly (the positive control: if a measure of
  "filters are AU detectors" works, this network must score highest).

Measures, on held-out data only (the test fold's subjects, and fresh SynthFACS identities):

- the paper's accepted P(j, u) pairs over one frame per sequence, beside a sequence-level
  AU-shuffle null (:func:`~fer_helpers.facs.paper.shuffle_null`);
- counterfactual ablation (:mod:`~fer_helpers.facs.ablation`): selective filters, AU
  coverage, and the share of accepted pairs that are causal;
- exact-mask localization against the receptive-field chance line
  (:mod:`~fer_helpers.facs.localize`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import keras
import numpy as np
import pandas as pd

from .. import crossval, models
from ..visualize import TopActivations
from .ablation import ablation, selective_mask
from .localize import exact_localization
from .paper import accepted_pairs, one_frame_per_sequence, p_matrix, shuffle_null

NETWORKS = ("trained", "untrained", "shuffled", "au_trained")
LABELS = {"trained": "emotion-trained", "untrained": "untrained (random weights)",
          "shuffled": "shuffled labels", "au_trained": "AU-trained (positive control)"}


def shuffled_config(config, epochs: int | None = None):
    """The shuffled-label control's recipe: the emotion recipe without augmentation (so it
    can memorise), for ``epochs`` (default: the emotion recipe's). Whether it fitted its
    training set is reported (its last epoch's training accuracy), not assumed."""
    return replace(config, augmentation=None, epochs=epochs or config.epochs)


@dataclass
class Network:
    """One network of the study (a fold, a seed, a kind) and where its numbers come from."""

    kind: str
    fold: int
    seed: int
    model: keras.Model
    test_index: np.ndarray  # rows of the labelled dataset in this fold's test side
    test_accuracy: float  # emotion accuracy (AU-trained: mean per-AU accuracy)
    train_accuracy: float  # on its own training labels, last logged epoch


@dataclass
class NetworkSpec:
    """Where one network of the study comes from, before it is loaded: ``key`` names it
    (the trained ones' model path; the untrained one's seed and shape), ``load()`` returns
    the Keras model (loaded, or built with its fixed seed), ``result`` is the trained ones'
    :class:`~fer_helpers.crossval.FoldResult` (None for ``untrained``)."""

    kind: str
    fold: int
    seed: int
    key: str
    test_index: np.ndarray
    load: Callable[[], keras.Model]
    result: object = None


def network_specs(ds, config, artifacts, n_folds: int, seeds=(0, 1, 2), kinds=NETWORKS,
                  shuffled_epochs: int | None = None, data: str = "", quiet: bool = True):
    """Train (or load the finished runs of) every network of the study; yields a
    :class:`NetworkSpec` per fold, seed and kind (folds outer, ``kinds`` order inner).

    Trained networks come from :func:`fer_helpers.crossval.train_or_load` with the same
    key chapter 2 uses, so the emotion-trained seed-0 networks are chapter 2's; chapter 5's
    heads read the same networks through this function.
    """
    ds = crossval.labelled(ds)
    shape = ds.images.shape[1:] if ds.images.ndim == 4 else (*ds.images.shape[1:], 1)
    for seed in seeds:
        cfg = replace(config, seed=seed)
        runs = {}
        for kind, target, c in (("trained", "emotion", cfg), ("au_trained", "au", cfg),
                                ("shuffled", "shuffled", shuffled_config(cfg, shuffled_epochs))):
            if kind in kinds:
                runs[kind] = crossval.train_or_load(ds, "paper_cnn", c, artifacts,
                                                    n_folds=n_folds, data=data, quiet=quiet,
                                                    target=target)
        splits = crossval.splits(ds, "subject-kfold", n_folds, cfg)
        for k, (_, _, test_idx) in enumerate(splits):
            for kind in kinds:
                if kind == "untrained":
                    s = 10_000 + 100 * seed + k

                    def build(s=s):
                        keras.utils.set_random_seed(s)
                        return models.paper_cnn(shape, len(ds.label_space))

                    yield NetworkSpec(kind, k, seed, f"untrained-{s}-{shape}", test_idx, build)
                    continue
                fold = runs[kind].folds[k]
                yield NetworkSpec(kind, k, seed, str(fold.model_path), test_idx,
                                  lambda p=fold.model_path: keras.saving.load_model(p), fold)


def networks(ds, config, artifacts, n_folds: int, seeds=(0, 1, 2), kinds=NETWORKS,
             shuffled_epochs: int | None = None, data: str = "", quiet: bool = True):
    """Every network of the study, loaded (see :func:`network_specs`); yields
    :class:`Network` objects."""
    for sp in network_specs(ds, config, artifacts, n_folds, seeds, kinds, shuffled_epochs,
                            data, quiet):
        f = sp.result
        yield Network(sp.kind, sp.fold, sp.seed, sp.load(), sp.test_index,
                      np.nan if f is None else f.accuracy,
                      float(f.history["accuracy"].iloc[-1]) if f is not None and len(f.history)
                      else np.nan)


def measure(net: Network, ds, cset, layer: str = "conv3", n_top: int = 9, n_perm: int = 200,
            n_localize: int = 5) -> tuple[dict, pd.DataFrame]:
    """All measures of one network: one summary row, and its ablation effects (filters x
    AUs) for the AU6/AU12 table."""
    ds = crossval.labelled(ds)
    test = ds.subset(net.test_index)
    nan = float("nan")
    one = one_frame_per_sequence(test.paths, test.au_presence)
    top = TopActivations(net.model, layer, n=n_top)(test.images[one])
    presence = test.au_presence[one]
    null = shuffle_null(top.index, presence, n_perm=n_perm, seed=net.seed)
    pairs = accepted_pairs(p_matrix(top.index, presence, test.au_codes))
    row = {"network": net.kind, "fold": net.fold, "seed": net.seed,
           "test accuracy": net.test_accuracy, "train accuracy": net.train_accuracy,
           "active filters": int((top.max_activation > 0).sum()),
           "accepted pairs": null["observed"], "null mean": null["null_mean"],
           "null p95": null["null_p95"], "null p": null["p_value"], "sequences": int(len(one))}
    if cset is None:  # real data: no counterfactual renders, so no causal measures
        return row, pd.DataFrame()
    abl = ablation(net.model, cset, layer)
    causal = abl.causal(pairs)
    # one call (one feature pass, one guided-backprop clone) for both sets of pairs
    sel = abl.selective[["filter", "AU"]]
    loc = exact_localization(net.model, cset, pd.concat([sel, pairs[["filter", "AU"]]],
                                                        ignore_index=True), layer, n=n_localize)
    loc_sel, loc_acc = loc.iloc[:len(sel)], loc.iloc[len(sel):]

    def mean(df, col):
        return float(df[col].mean()) if len(df) and df[col].notna().any() else nan

    s = abl.summary()
    row.update({"selective filters": s["selective_filters"], "AU coverage": s["au_coverage"],
                "AUs tested": s["aus_tested"],
                "causal share": float(np.nanmean(causal)) if causal.notna().any() else nan,
                "inside (selective)": mean(loc_sel, "inside"),
                "chance (selective)": mean(loc_sel, "chance"),
                "lift (selective)": mean(loc_sel, "lift"),
                "inside (accepted)": mean(loc_acc, "inside"),
                "chance (accepted)": mean(loc_acc, "chance"),
                "lift (accepted)": mean(loc_acc, "lift")})
    return row, abl.effect.assign(network=net.kind, fold=net.fold, seed=net.seed)


def run(ds, config, artifacts, n_folds: int, seeds, cset=None, layer: str = "conv3",
        n_top: int = 9, data: str = "", kinds=NETWORKS, **kw) -> tuple[pd.DataFrame,
                                                                         pd.DataFrame]:
    """Every network of :func:`networks`, measured by :func:`measure`.

    Returns
    -------
    rows : DataFrame, one row per network (kind, fold, seed) with all measures
    effects : DataFrame, the ablation effects (filters x AUs) of every network, long
    """
    rows, effects = [], []
    for net in networks(ds, config, artifacts, n_folds, seeds, kinds, data=data, **kw):
        row, eff = measure(net, ds, cset, layer, n_top)
        rows.append(row)
        effects.append(eff)
        del net
    return pd.DataFrame(rows), pd.concat(effects) if effects else pd.DataFrame()


def mean_sd(rows: pd.DataFrame, columns) -> pd.DataFrame:
    """``mean ± sd`` over folds x seeds per network (numbers, for the verdict)."""
    g = rows.groupby("network", sort=False)[list(columns)]
    out = pd.concat({"mean": g.mean(), "sd": g.std(ddof=1), "runs": g.count()}, axis=1)
    return out.reindex([n for n in NETWORKS if n in out.index])


def per_au(effects: pd.DataFrame, min_effect: float = 1.0, margin: float = 0.5
           ) -> pd.DataFrame:
    """Selective filters per AU (columns) and network (rows), mean over its runs."""
    aus = effects.drop(columns=["network", "fold", "seed"])
    sel = selective_mask(aus, min_effect, margin)
    sel[["network", "fold", "seed"]] = effects[["network", "fold", "seed"]].to_numpy()
    counts = sel.groupby(["network", "fold", "seed"]).sum().groupby("network").mean()
    return counts.reindex([n for n in NETWORKS if n in counts.index]).rename(index=LABELS)


def co_occurring(effects: pd.DataFrame, a: str = "AU6", b: str = "AU12",
                 network: str = "trained", min_effect: float = 1.0,
                 margin: float = 0.5) -> pd.DataFrame:
    """Filters selective for ``a`` and for ``b`` (two AUs that co-occur, e.g. in happiness),
    per network of kind ``network``, and how much the *other* AU moves them.

    ``effects`` is the long table of :func:`run`. Returns one row per AU: selective
    filters per network (mean ± sd over its runs), their mean effect of that AU, and their
    mean effect of the other one.
    """
    t = effects[effects["network"] == network]
    mask = selective_mask(t.drop(columns=["network", "fold", "seed"]), min_effect, margin)
    runs = t.groupby(["fold", "seed"]).size().index
    rows = []
    for au, other in ((a, b), (b, a)):
        sel = t[mask[au].to_numpy()]
        per_run = sel.groupby(["fold", "seed"]).size().reindex(runs, fill_value=0)
        sd = per_run.std(ddof=1) if len(per_run) > 1 else 0.0
        rows.append({"selective for": au,
                     "filters per network": f"{per_run.mean():.1f} ± {sd:.1f}",
                     "effect of removing that AU":
                         f"{sel[au].mean():.2f}" if len(sel) else "n/a",
                     "effect of removing the other": f"{sel[other].mean():.2f} ({other})"
                     if len(sel) else "n/a"})
    return pd.DataFrame(rows)


#: How each measure is shown: as a percentage or a count.
_PERCENT = ("causal share", "test accuracy", "train accuracy")


def summary_table(rows: pd.DataFrame, columns) -> pd.DataFrame:
    """Measures (rows) x networks (columns) as "mean ± sd" text, for reading."""
    cols = [c for c in columns if c in rows.columns]
    st = mean_sd(rows, cols)

    def cell(col, net):
        m, s = st["mean"].loc[net, col], st["sd"].loc[net, col]
        if pd.isna(m):
            return "n/a"
        s = 0.0 if pd.isna(s) else s
        if col in _PERCENT:
            return f"{100 * m:.0f} ± {100 * s:.0f} %"
        return f"{m:.2f} ± {s:.2f}" if abs(m) < 10 and m != round(m) else f"{m:.1f} ± {s:.1f}"

    runs = int(st["runs"][cols[0]].max()) if cols else 0
    out = pd.DataFrame({LABELS[n]: [cell(c, n) for c in cols] for n in st.index},
                       index=pd.Index(cols, name=f"mean ± sd over {runs} runs each"))
    return out


def verdict(rows: pd.DataFrame, measure_name: str = "selective filters") -> list[str]:
    """Sentences computed from mean ± sd over folds x seeds (never written by hand).

    "Above" means the intervals mean ± sd do not overlap; otherwise the sentence says the
    two cannot be told apart with these runs.

    The measure is valid when the positive control (AU-trained) is above the networks that
    learned nothing about AUs (untrained, shuffled labels). It is not required to be above
    the emotion-trained network: where emotion determines the AUs (SynthFACS), emotion
    training may grow AU detectors as well as AU training does, which is the paper's claim;
    where the two tie, the sentence says so.
    """
    st = mean_sd(rows, [measure_name])
    m, sd = st["mean"][measure_name], st["sd"][measure_name].fillna(0.0)

    def fmt(n):
        return f"{m[n]:.1f} ± {sd[n]:.1f}"

    def above(a, b):
        return m[a] - sd[a] > m[b] + sd[b]

    def relation(a, b):
        return "above" if above(a, b) else "BELOW" if above(b, a) else "not distinguishable from"

    out = []
    present = [n for n in NETWORKS if n in m.index]
    negatives = [n for n in ("untrained", "shuffled") if n in present]
    if "au_trained" in present and negatives:
        listed = ", ".join(f"{LABELS[n]} ({fmt(n)})" for n in negatives)
        if all(above("au_trained", n) for n in negatives):
            out.append(f"The measure passes its positive control: the AU-trained network has "
                       f"{fmt('au_trained')} {measure_name}, above {listed}.")
        else:
            out.append(f"The measure FAILED its positive control: the AU-trained network "
                       f"({fmt('au_trained')} {measure_name}) is not clearly above {listed}; "
                       "the comparisons below cannot be trusted.")
    if "trained" in present:
        for ctrl in negatives:
            out.append(f"Emotion-trained networks: {fmt('trained')} {measure_name}, "
                       f"{relation('trained', ctrl)} the {LABELS[ctrl]} control ({fmt(ctrl)}).")
        if "au_trained" in present:
            rel = relation("trained", "au_trained")
            share = m["trained"] / m["au_trained"] if m["au_trained"] > 0 else np.nan
            out.append(f"Against the AU-trained network ({fmt('au_trained')}), the "
                       f"emotion-trained ones are {rel} it"
                       + (f": {share:.0%} of what training on AUs directly reaches."
                          if np.isfinite(share) else "."))
    return out
