"""The three source datasets with their emotion CNNs, loaded from the artifacts (trained there
if missing) with the keys chapters 2 and 4 use, so nothing is trained twice.

- **CK+ layout**: chapter 2's data and folds (:func:`fer_helpers.book.trained_chapter`); for
  the heads and tests one frame per (sequence, label): the neutral first frame and the last
  peak frame (the three peak frames are near copies).
- **FER2013 format**: chapter 2's official-split model (fit Training, select PublicTest); the
  new heads train on (a seeded subset of) Training and everything is tested on PrivateTest.
  No subject ids: identity leakage cannot be controlled.
- **NovaEmotions-like folder**: trained here with the profile's folds (quick: the first of
  them only, see :data:`~.domains.TRANSFER_DEFAULTS`), subject-disjoint when the folder has a
  ``labels.csv`` with subjects; without subjects, a seeded image-level split
  (said in the data line).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .. import crossval
from ..baselines import au_features, synthfacs_fer_features
from ..training import TrainConfig
from .domains import (
    Domain,
    ensure_nova,
    last_frame_per_label,
    load_nova,
    nova_au_features,
    settings,
    subsample,
)


@dataclass
class Source:
    """A domain and its emotion CNNs (one per fold): ``models`` is a list of
    (cache key, model path) pairs; ``cv`` the run they come from. ``trained_on``: the
    labelled dataset ``cv`` was trained and tested on (``cv.splits`` index it); ``au``: the
    true AU features of its rows (:func:`fer_helpers.baselines.au_features`), None when the
    data has no FACS codes (real FER2013, a real folder)."""

    domain: Domain
    models: list
    cv: object  # crossval.CVResult
    recipe: str
    trained_on: object = None  # FaceDataset
    au: np.ndarray | None = None


def _positions(keep: np.ndarray, part: np.ndarray) -> np.ndarray:
    return np.searchsorted(keep, np.intersect1d(part, keep))


def _train_test(triples) -> list:
    return [(np.sort(np.concatenate([fit, val])), test) for fit, val, test in triples]


def _models(cv) -> list:
    return [(str(f.model_path), f.model_path) for f in cv.folds]


def ck_source(ch) -> Source:
    """CK+ from chapter 2 (``ch``: :func:`fer_helpers.book.trained_chapter`)."""
    ds = crossval.labelled(ch.ck)
    keep = last_frame_per_label(ds.paths, ds.labels)
    splits = [(_positions(keep, tr), _positions(keep, te)) for tr, te in _train_test(
        ch.cv.splits)]
    sub = ds.subset(keep)
    data = (f"{ch.source}, CK+ layout, {len(set(sub.subjects))} subjects, {len(sub)} images "
            "(neutral + last peak frame per sequence)")
    au = (au_features(ds.au_presence, ds.au_intensity) if ds.au_presence is not None
          else None)  # ds is what chapter 2's folds index
    return Source(Domain("CK+", sub, splits, data, ch.source), _models(ch.cv), ch.cv,
                  ch.cv_config.describe(), ds, au)


def fer_source(profile: str, path, synthetic: bool, artifacts, policy: str,
               fer_train: int | None) -> Source:
    """FER2013 (the file at ``path``) with chapter 2's official-split model."""
    from ..book import PROFILES
    from ..datasets import load_fer2013

    P = PROFILES[profile]
    fer = load_fer2013(path)
    label = "SynthFACS (synthetic)" if synthetic else "real data"
    full = f"{label}, FER2013 format, {len(fer)} images"
    cfg = TrainConfig(epochs=P["fer_epochs"], batch_size=P["batch_size"], precision=policy,
                      schedule=P["schedule"])  # chapter 2's FER2013 recipe: same artifacts
    cv = crossval.train_or_load(fer, "paper_cnn", cfg, artifacts, protocol="official",
                                data=full, quiet=True)
    train = subsample(np.flatnonzero(fer.split == "Training"), fer_train, seed=0)
    test = np.flatnonzero(fer.split == "PrivateTest")
    keep = np.concatenate([train, test])
    sub = fer.subset(keep)
    splits = [(np.arange(len(train)), np.arange(len(train), len(keep)))]
    data = (f"{label}, FER2013 format, {len(train)} Training rows for new heads, "
            f"{len(test)} PrivateTest rows (no subject ids)")
    truth = Path(path).with_name(Path(path).stem + "_truth.csv")
    au = synthfacs_fer_features(fer, truth) if synthetic else None
    return Source(Domain("FER2013", sub, splits, data, label), _models(cv), cv,
                  cfg.describe(), fer, au)


def nova_source(profile: str, root, synthetic: bool, artifacts, policy: str) -> Source:
    """The NovaEmotions-like folder at ``root`` with its own CNN (trained here if missing)."""
    from ..book import PROFILES

    P, S = PROFILES[profile], settings(profile)
    ds = load_nova(root)
    label = "SynthFACS (synthetic)" if synthetic else "real data"
    cfg = TrainConfig(epochs=S["nova_epochs"], batch_size=P["batch_size"], precision=policy,
                      schedule=P["schedule"], peak_lr=S["nova_peak_lr"])
    if ds.subjects is not None:
        protocol, how = "subject-kfold", f"{len(set(ds.subjects))} players, subject-disjoint"
    else:  # no subjects known: a seeded image-level split, said in the data line
        rng = np.random.default_rng(0)
        split = np.array(["Training"] * len(ds), dtype=object)
        u = rng.random(len(ds))
        split[u > 0.7] = "PublicTest"
        split[u > 0.85] = "PrivateTest"
        ds = replace(ds, split=split)
        protocol, how = "official", "no subject ids: image-level split, identities may leak"
    if S["nova_folds"] and protocol == "subject-kfold" and S["nova_folds"] < P["folds"]:
        first = ("the first fold" if S["nova_folds"] == 1
                 else f"the first {S['nova_folds']} folds")
        how += f"; only {first} of {P['folds']} trained ({profile} profile)"
    data = f"{label}, NovaEmotions-like folder, {how}, {len(ds)} images"
    cv = crossval.train_or_load(ds, "paper_cnn", cfg, artifacts, protocol=protocol,
                                n_folds=P["folds"], data=data, quiet=True,
                                max_folds=S["nova_folds"])
    dom = Domain("NovaEmotions", crossval.labelled(ds), _train_test(cv.splits), data, label)
    au = nova_au_features(dom.ds, root) if synthetic else None
    return Source(dom, _models(cv), cv, cfg.describe(), dom.ds, au)


def prepare(profile: str, ch, fer2013_path=None, nova_path=None, data_dir=None,
            artifacts=None) -> dict[str, Source]:
    """The three sources of chapter 5 (CK+ from ``ch``, the chapter set-up of
    :func:`fer_helpers.book.trained_chapter`; FER2013 and the NovaEmotions-like folder from
    their paths, else SynthFACS)."""
    from ..book import artifacts_dir, dataset_paths

    paths = dataset_paths(profile, None, fer2013_path, None, data_dir)
    artifacts = artifacts_dir(artifacts)
    S = settings(profile)
    nova_root = nova_path or ensure_nova(profile, data_dir)
    return {"CK+": ck_source(ch),
            "FER2013": fer_source(profile, paths["fer2013"], paths["fer2013_synthetic"],
                                  artifacts, ch.policy, S["transfer_fer_train"]),
            "NovaEmotions": nova_source(profile, nova_root, not nova_path, artifacts,
                                        ch.policy)}
