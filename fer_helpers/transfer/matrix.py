"""The cross-dataset matrix (paper Table 3): train on each dataset, test on each, two ways.

- **(a) as is**: the source CNN applied unchanged, its outputs mapped to the target's classes
  by name (:mod:`~fer_helpers.transfer.mapping`);
- **(b) new head**: the source CNN's frozen convolutional layers, a new softmax layer trained on
  the target's training split (subject-disjoint where subjects exist), its weight decay chosen
  on a validation split of that training split (:meth:`~.heads.Heads.fit_selected`; recorded
  per run as ``weight decay``).

A cell's runs pair the source's fold models with the target's splits: run ``r`` uses model
``r mod (source models)`` and split ``r mod (target splits)``, ``max`` of the two runs in
all (so the diagonal of a k-fold dataset is each fold's model on its own test fold).
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

from ..baselines import chance, majority
from .features import FeatureCache
from .heads import HeadConfig, Heads, emotion_head
from .mapping import map_predictions, shared_classes

VARIANTS = {"a": "(a) source model as is, labels mapped by name",
            "b": "(b) frozen conv layers + new head on the target's training split"}
#: Paper Table 3 (rows train, columns test), emotion accuracy in %, real data.
PAPER_TABLE3 = {"CK+": {"CK+": 98.62, "FER2013": 69.3, "NovaEmotions": 67.2},
                "FER2013": {"CK+": 92.0, "FER2013": 72.1, "NovaEmotions": 78.0},
                "NovaEmotions": {"CK+": 93.75, "FER2013": 71.8, "NovaEmotions": 81.3}}


def cross_dataset(sources: dict, cache: FeatureCache, config: HeadConfig | None = None,
                  keep_for: str | None = "CK+") -> pd.DataFrame:
    """Every cell, run and variant; one row each (long format).

    ``keep_for``: the target whose features of the *same-dataset* models stay in the cache's
    memory (the cross-task heads reuse the CK+ features of chapter 2's models).
    """
    config = config or HeadConfig()
    rows, heads = [], {}
    for src_name, src in sources.items():
        a = len(src.models)
        for i, (key, path) in enumerate(src.models):
            model = {}

            def load(path=path, model=model):
                if "m" not in model:
                    model["m"] = keras.saving.load_model(path)
                return model["m"]

            for tgt_name, tgt in sources.items():
                dom = tgt.domain
                b = len(dom.splits)
                runs = [r for r in range(max(a, b)) if r % a == i]
                if not runs:
                    continue
                feats = cache.get(key, load, dom.ds.images,
                                  keep=tgt_name == keep_for == src_name)
                shared = shared_classes(src.domain.classes, dom.classes)
                y = dom.ds.labels
                classes = dom.classes
                codes = np.array([dom.space.names.index(c) for c in classes])
                y_local = np.searchsorted(codes, y)  # 0..C-1 (every label is a class)
                d = feats.x.shape[1]
                if (d, len(classes)) not in heads:
                    heads[d, len(classes)] = Heads(d, emotion_head(len(classes)), config)
                head = heads[d, len(classes)]
                for r in runs:
                    train, test = dom.splits[r % b]
                    kept, pred = map_predictions(feats.prob[test], src.domain.space, y[test],
                                                 dom.space, shared)
                    # weight decay chosen on the training side only (never on ``test``)
                    sel = head.fit_selected(feats.x, {"emotion": y_local}, train,
                                            dom.ds.subjects, seed=r)
                    pred_b = codes[head.predict(feats.x[test])["emotion"].argmax(1)]
                    base = {"train": src_name, "test": tgt_name, "run": r,
                            "train data": src.domain.data, "test data": dom.data,
                            "majority": majority(y[train], y[test]),
                            "chance": chance(y[test]),
                            "weight decay": sel.chosen["emotion"]}
                    rows.append({**base, "variant": "a",
                                 "accuracy": float((pred == y[test][kept]).mean()),
                                 "tested": len(kept), "left out": len(test) - len(kept),
                                 "shared classes": len(shared)})
                    rows.append({**base, "variant": "b",
                                 "accuracy": float((pred_b == y[test]).mean()),
                                 "tested": len(test), "left out": 0,
                                 "shared classes": len(classes)})
    return pd.DataFrame(rows)


def matrix_table(rows: pd.DataFrame, variant: str, sd: bool = True) -> pd.DataFrame:
    """Train (rows) x test (columns) "mean ± sd %" over runs, for one variant."""
    t = rows[rows["variant"] == variant]
    g = t.groupby(["train", "test"], sort=False)["accuracy"]
    m, s, n = g.mean(), g.std(ddof=1).fillna(0.0), g.count()
    order = list(dict.fromkeys(t["train"]))
    cell = {k: f"{100 * m[k]:.1f}" + (f" ± {100 * s[k]:.1f}" if sd and n[k] > 1 else "")
            + " %" for k in m.index}
    return pd.DataFrame({c: [cell.get((r, c), "") for r in order] for c in order},
                        index=pd.Index(order, name="train \\ test"))


def mean_matrix(rows: pd.DataFrame, variant: str) -> dict:
    """{train: {test: mean accuracy}} (for ``results.json``)."""
    t = rows[rows["variant"] == variant]
    m = t.groupby(["train", "test"], sort=False)["accuracy"].mean()
    out: dict = {}
    for (tr, te), v in m.items():
        out.setdefault(tr, {})[te] = float(v)
    return out


def beside_paper(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: the paper's number (real data) beside ours, both variants, the
    target's majority baseline and chance, and the data each was measured on."""
    out = []
    for (tr, te), t in rows.groupby(["train", "test"], sort=False):
        def ms(v, t=t):
            x = t.loc[t["variant"] == v, "accuracy"]
            sd = f" ± {100 * x.std(ddof=1):.1f}" if len(x) > 1 else ""
            return f"{100 * x.mean():.1f}{sd} %"

        left = t.loc[t["variant"] == "a", "left out"].sum()
        out.append({"train": tr, "test": te,
                    "paper (real data)": f"{PAPER_TABLE3[tr][te]:.2f} %",
                    "ours (a) as is": ms("a") + (f" ({left} left out)" if left else ""),
                    "ours (b) new head": ms("b"),
                    "majority": f"{100 * t['majority'].mean():.1f} %",
                    "chance": f"{100 * t['chance'].mean():.1f} %",
                    "runs": int((t["variant"] == "a").sum()),
                    "our data (train -> test)": f"{t['train data'].iloc[0]} -> "
                                                f"{t['test data'].iloc[0]}"})
    return pd.DataFrame(out)
