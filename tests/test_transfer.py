"""Chapter 5's helpers on tiny inputs: the L1+L2 AU head, ICC(3,1), label mapping, the
NovaEmotions-like writer, malformed folder datasets."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_helpers.datasets import DatasetFormatError, load_folder
from fer_helpers.labels import CKPLUS, EMOTIONS, FER2013
from fer_helpers.transfer import (
    AUHeadSet,
    HeadConfig,
    Heads,
    HeadSpec,
    icc31,
    intensity_metrics,
    last_frame_per_label,
    load_nova,
    map_predictions,
    mapping_table,
    presence_metrics,
    shared_classes,
)


# ----------------------------------------------------------------------- the AU heads
def _sparse_toy(n=600, d=40, a=5, seed=0):
    """AU j is present iff feature j > 1 (about 16 % of faces): a sparse code whose answer
    lives in the first ``a`` of ``d`` features."""
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x, (x[:, :a] > 1.0).astype(np.float32)


def test_l1l2_head_learns_a_known_sparse_code():
    x, y = _sparse_toy()
    heads = Heads(x.shape[1], AUHeadSet(y.shape[1], l1=1e-3, l2=1e-3).specs,
                  HeadConfig(epochs=60, learning_rate=0.03, weight_decay=1e-4))
    layer = heads.model.get_layer("presence")
    assert type(layer.activity_regularizer).__name__ == "L1L2"  # Keras' own regularizer
    assert layer.activity_regularizer.l1 == pytest.approx(1e-3)
    heads.fit(x[:400], {"presence": y[:400], "per_au": y[:400], "intensity": 3 * y[:400]})
    out = heads.predict(x[400:])
    summary, per_au = presence_metrics(y[400:], out["presence"], (1, 2, 4, 5, 6))
    assert summary["accuracy"] > 0.93 > summary["all_absent accuracy"] - 0.0  # beats absent
    assert summary["accuracy"] > summary["all_absent accuracy"] + 0.05
    assert summary["mean F1"] > 0.6 and summary["mean ROC AUC"] > 0.95
    # the predicted code is as sparse as the true one
    assert abs((out["presence"] > 0.5).mean() - y[400:].mean()) < 0.05
    # the strongest weight of each AU's output sits on its own feature
    w = np.abs(heads.weights("presence"))
    assert (w.argmax(axis=0) == np.arange(y.shape[1])).all()


def test_kernel_l1l2_penalty_gives_sparse_weights():
    x, y = _sparse_toy()
    cfg = HeadConfig(epochs=60, learning_rate=0.03, weight_decay=1e-4)
    sparse = Heads(x.shape[1], {"p": HeadSpec(5, "bce", 1e-2, 1e-3, "kernel")}, cfg)
    plain = Heads(x.shape[1], {"p": HeadSpec(5, "bce")}, cfg)
    share = []
    for h in (sparse, plain):
        w = np.abs(h.fit(x, {"p": y}).weights("p"))
        share.append(np.trace(w[:5]) / w.sum())  # weight mass on the true features
    assert share[0] > 0.7 and share[0] > share[1] + 0.2


def test_heads_refit_is_deterministic_and_nan_targets_are_ignored():
    x, y = _sparse_toy(200, 10, 2)
    inten = 3 * y.copy()
    inten[:50, 0] = np.nan  # present, intensity not coded: no loss there
    h = Heads(10, {"i": HeadSpec(2, "mse")}, HeadConfig(epochs=5, weight_decay=0.1))
    a = h.fit(x, {"i": inten}, seed=1).predict(x)["i"]
    b = h.fit(x, {"i": inten}, seed=1).predict(x)["i"]
    assert np.isfinite(a).all() and np.allclose(a, b)


# --------------------------------------------------------------------------- metrics
def test_icc31_against_shrout_fleiss_and_hand_worked_examples():
    # Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges; their ICC(3,1) = .71
    x = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9],
                  [6, 2, 4, 7]])
    assert icc31(x) == pytest.approx(0.7148, abs=1e-4)
    # by hand: truth 1,2,3 and prediction 1,3,2: row means 1, 2.5, 2.5, grand mean 2;
    # SS rows = 2 * (1 + .25 + .25) = 3, SS columns = 0, SS total = 4, SS error = 1;
    # MSR = 3 / 2, MSE = 1 / 2: ICC = (1.5 - .5) / (1.5 + .5) = .5
    assert icc31(np.c_[[1, 2, 3], [1, 3, 2]]) == pytest.approx(0.5)
    assert icc31(np.c_[[1, 2, 3], [2, 3, 4]]) == pytest.approx(1.0)  # a constant offset
    assert icc31(np.c_[[1, 2, 3, 4], [0, 0, 0, 0]]) == pytest.approx(0.0)  # all-zero answer
    assert np.isnan(icc31(np.c_[[2, 2], [2, 2]]))


def test_intensity_metrics_and_all_zero_baseline():
    y = np.array([[0, 2], [3, np.nan], [5, 0], [0, 1]], float)
    s, per_au = intensity_metrics(y, y + 0.2, (4, 12))
    # 7 known entries; the 5 + 0.2 prediction is clipped to 5, so 6 errors of 0.2
    assert s["accuracy"] == 1.0 and s["MSE"] == pytest.approx(6 * 0.04 / 7)
    assert s["all_zero MSE"] == pytest.approx((4 + 9 + 25 + 1) / 7)
    assert s["all_zero accuracy"] == pytest.approx(3 / 7)
    assert per_au.loc["AU12", "n"] == 3  # the NaN entry is left out


def test_presence_metrics_leave_out_undefined_auc():
    y = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    p = np.array([[0.9, 0.1], [0.2, 0.1], [0.6, 0.2], [0.4, 0.3]])
    s, per_au = presence_metrics(y, p, (6, 12))
    assert s["accuracy"] == 1.0 and s["all_absent accuracy"] == 0.75
    assert s["AUC undefined"] == 1 and s["mean ROC AUC"] == 1.0
    assert np.isnan(per_au.loc["AU12", "F1"])  # never present, never predicted


# --------------------------------------------------------------------- label mapping
def test_label_mapping_between_the_three_spaces():
    nova = tuple(e for e in EMOTIONS if e != "contempt")
    assert shared_classes(CKPLUS.names, FER2013.names) == nova
    assert shared_classes(FER2013.names, nova) == nova
    # a CK+ model on FER2013 faces: its contempt output is ignored
    prob = np.zeros((2, 8))
    prob[0, [2, 5]] = [0.6, 0.4]  # contempt first, then happiness
    prob[1, 1] = 1.0  # anger
    y_fer = np.array([FER2013.code("happy"), FER2013.code("angry")])
    kept, pred = map_predictions(prob, CKPLUS, y_fer, FER2013, shared_classes(CKPLUS.names,
                                                                              FER2013.names))
    assert kept.tolist() == [0, 1] and pred.tolist() == [3, 0]  # FER2013 codes
    # a FER2013 model on CK+ faces: the contempt face is left out
    prob = np.eye(7)[[FER2013.code("surprise"), FER2013.code("neutral"), 0]]
    y_ck = np.array([CKPLUS.code("surprise"), CKPLUS.code("contempt"), CKPLUS.code("neutral")])
    kept, pred = map_predictions(prob, FER2013, y_ck, CKPLUS, nova)
    assert kept.tolist() == [0, 2] and pred.tolist() == [7, 1]  # surprise, anger (CK+ codes)
    table = mapping_table({"CK+": (CKPLUS, CKPLUS.names), "FER2013": (FER2013, FER2013.names),
                           "Nova": (CKPLUS, nova)})
    assert table.loc["contempt"].tolist() == ["2", "-", "-"]
    assert table.loc["anger"].tolist() == ["1", "0", "1"]


def test_last_frame_per_label_keeps_neutral_and_last_peak():
    paths = ["S1/001/a.png", "S1/001/b.png", "S1/001/c.png", "S1/002/a.png", "S1/002/b.png"]
    assert last_frame_per_label(paths, [0, 5, 5, 0, 7]).tolist() == [0, 2, 3, 4]


# ------------------------------------------------------------------ NovaEmotions-like
def test_nova_writer_round_trips_through_the_folder_loader(tmp_path):
    from fer_helpers.synth.nova import FOLDER_NAMES, write_nova

    truth = write_nova(tmp_path / "nova", n_subjects=4, per_subject=(3, 4), seed=1)
    ds = load_nova(tmp_path / "nova")
    assert len(ds) == len(truth) and ds.images.shape[1:] == (48, 48)
    assert sorted(set(ds.subjects)) == sorted(set(truth["subject"]))
    assert "contempt" not in set(ds.label_names)
    by_path = dict(zip(truth["path"], truth["emotion"], strict=True))
    rel = [p.split("nova/", 1)[1] for p in ds.paths]
    assert [by_path[r] for r in rel] == ds.label_names.tolist()
    assert {p.split("/")[0] for p in rel} <= set(FOLDER_NAMES.values())
    img = cv2.imread(str(tmp_path / "nova" / truth["path"][0]), cv2.IMREAD_UNCHANGED)
    assert img.shape == (64, 64, 3)  # colour frames
    # without the CSV: the class folders alone, no subjects
    plain = load_folder(tmp_path / "nova")
    assert len(plain) == len(ds) and plain.subjects is None
    # deterministic, and written whole: the same bytes again, no temporary left
    write_nova(tmp_path / "again", n_subjects=4, per_subject=(3, 4), seed=1)
    for p in truth["path"]:
        assert (tmp_path / "nova" / p).read_bytes() == (tmp_path / "again" / p).read_bytes()
    assert sorted(q.name for q in tmp_path.iterdir()) == ["again", "nova"]


# ------------------------------------------------------------- malformed folder inputs
def _good(root, cls="happy", n=1):
    (root / cls).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(root / cls / f"{i}.png"), np.full((20, 20), 90, np.uint8))


def test_folder_unknown_class_names_the_folder(tmp_path):
    _good(tmp_path)
    _good(tmp_path, "bored")
    with pytest.raises(DatasetFormatError, match="bored: folder name is not an emotion") as e:
        load_folder(tmp_path)
    assert str(tmp_path / "bored") in str(e.value)


def test_folder_unreadable_image_names_the_file(tmp_path):
    _good(tmp_path)
    (tmp_path / "happy" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DatasetFormatError, match="cannot read image") as e:
        load_folder(tmp_path)
    assert str(tmp_path / "happy" / "broken.png") in str(e.value)


def test_folder_empty_class_names_the_folder(tmp_path):
    _good(tmp_path)
    (tmp_path / "sad").mkdir()
    (tmp_path / "sad" / ".DS_Store").write_bytes(b"x")  # hidden files are no images
    with pytest.raises(DatasetFormatError, match="'sad' holds no image file") as e:
        load_folder(tmp_path)
    assert str(tmp_path / "sad") in str(e.value)


# --------------------------------------------------- weight decay chosen on the training side
def _emotion_toy(n=240, d=30, seed=0):
    """Three classes from the first three features; 24 subjects of 10 images."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = x[:, :3].argmax(1)
    subjects = np.repeat(np.arange(n // 10), 10).astype(str)
    return x, y, subjects


def test_weight_decay_selection_never_reads_test_rows():
    x, y, subjects = _emotion_toy()
    train, test = np.arange(0, 180), np.arange(180, 240)  # subjects 0-17 | 18-23
    cfg = HeadConfig(epochs=15, learning_rate=0.03)
    heads = Heads(x.shape[1], {"emotion": HeadSpec(3, "cce")}, cfg)
    sel = heads.fit_selected(x, {"emotion": y}, train, subjects, seed=0)
    pred = heads.predict(x[test])["emotion"]
    # fit and validation rows come from the training side, and are subject-disjoint
    assert set(sel.fit) | set(sel.val) == set(train) and not set(sel.val) & set(test)
    assert not set(subjects[sel.fit]) & set(subjects[sel.val])
    assert set(sel.val_loss) == set(HeadConfig().grid)
    assert sel.chosen["emotion"] in HeadConfig().grid
    assert heads.weight_decay == sel.chosen  # the refit uses the chosen value
    # poisoned test rows (labels, features, subjects) change nothing
    xp, yp, sp = x.copy(), y.copy(), subjects.copy()
    yp[test] = (y[test] + 1) % 3
    xp[test] = 1e6
    sp[test] = subjects[0]  # even a test row claiming a training subject
    sel_p = heads.fit_selected(xp, {"emotion": yp}, train, sp, seed=0)
    assert sel_p.chosen == sel.chosen and sel_p.val_loss == sel.val_loss
    assert np.array_equal(sel_p.val, sel.val)
    assert np.allclose(heads.predict(x[test])["emotion"], pred)
    # it learns the task; a fixed weight decay means no selection at all
    assert (pred.argmax(1) == y[test]).mean() > 0.7
    fixed = Heads(x.shape[1], {"emotion": HeadSpec(3, "cce")},
                  HeadConfig(epochs=15, learning_rate=0.03, weight_decay=0.01))
    sel_f = fixed.fit_selected(x, {"emotion": y}, train, subjects)
    assert sel_f.chosen == {"emotion": 0.01} and sel_f.val_loss == {} and len(sel_f.val) == 0


def test_weight_decay_selection_picks_per_head_and_without_subjects():
    x, y = _sparse_toy(300, 200, 3)  # 200 features, 3 useful: decay matters
    heads = Heads(x.shape[1], AUHeadSet(3).specs, HeadConfig(epochs=20, learning_rate=0.01))
    train = np.arange(200)
    sel = heads.fit_selected(x, {"presence": y, "per_au": y, "intensity": 3 * y}, train,
                             None, seed=0)  # no subjects: an image-level split of train
    assert set(sel.chosen) == {"presence", "per_au", "intensity"}
    assert set(sel.val) < set(train) and len(sel.val) == 40
    for n, v in sel.chosen.items():  # the chosen value has the smallest validation loss
        assert sel.val_loss[v][n] == min(sel.val_loss[w][n] for w in sel.val_loss)
    with pytest.raises(ValueError, match="no weight decay"):
        heads.fit(x, {"presence": y, "per_au": y, "intensity": y})


# ------------------------------------------------------- in-domain accuracy beside its ceiling
def test_in_domain_lines_and_gap_sentences_on_a_hand_made_example():
    import pandas as pd

    from fer_helpers.transfer import gap_sentences, in_domain_row, in_domain_table

    # 12 faces, 2 folds of 6; the label is AU 1 present (class 1) or not (class 0), so a
    # regression on the AUs gets every test face right: ceiling 100 %
    labels = np.array([0, 0, 0, 0, 1, 1] * 2)
    au = np.c_[labels, 3.0 * labels]  # presence, intensity
    f0, f1 = np.arange(6), np.arange(6, 12)
    triples = [(f1[:4], f1[4:], f0), (f0[:4], f0[4:], f1)]
    row = in_domain_row([0.80, 0.60], labels, triples, au)
    assert row["accuracy"] == pytest.approx(0.70)
    assert row["accuracy sd"] == pytest.approx(np.std([0.8, 0.6], ddof=1))
    assert row["chance"] == 0.5 and row["majority"] == pytest.approx(4 / 6)  # class 0
    assert row["ceiling"] == 1.0
    near = in_domain_row([0.95, 0.95], labels, triples, au)
    none = in_domain_row([0.75], labels, triples[:1], None)  # no AU codes: no ceiling
    assert np.isnan(none["ceiling"]) and np.isnan(none["accuracy sd"])
    df = pd.DataFrame({k: {**r, "data": "toy", "protocol": "2-fold"} for k, r in
                       (("far", row), ("near", near), ("real", none))}).T
    s = gap_sentences(df)
    assert "30.0 points below the AU ceiling" in s[0] and "far below what the data allows" in s[0]
    assert "5.0 points below" in s[1] and "far below" not in s[1]
    assert "no AU ceiling" in s[2] and "8.3 points above the majority" in s[2]
    t = in_domain_table(df)
    assert t.loc["far"].iloc[0] == "70.0 ± 14.1 %" and t.loc["real", "AU ceiling"] == "n/a"
    with pytest.raises(ValueError, match="2 fold accuracies for 1 folds"):
        in_domain_row([0.8, 0.6], labels, triples[:1], au)


def test_nova_au_features_follow_the_truth_csv(tmp_path):
    from fer_helpers.synth.nova import write_nova
    from fer_helpers.transfer import nova_au_features

    truth = write_nova(tmp_path / "nova", n_subjects=2, per_subject=(2, 3), seed=2)
    ds = load_nova(tmp_path / "nova")
    feats = nova_au_features(ds, tmp_path / "nova")
    aus = [c for c in truth.columns if c.startswith("AU")]
    by_path = truth.set_index("path")
    rel = [p.split("nova/", 1)[1] for p in ds.paths]
    assert np.allclose(feats[:, len(aus):], by_path.loc[rel, aus].to_numpy(float))
    assert np.array_equal(feats[:, :len(aus)], by_path.loc[rel, aus].to_numpy() > 0)
    (tmp_path / "nova" / "synthfacs_truth.csv").unlink()
    assert nova_au_features(ds, tmp_path / "nova") is None  # a real folder: no AU codes


# ------------------------------------------------------------------- the exported bundle
def test_bundle_from_a_tiny_model_and_heads_gives_the_heads_outputs(tmp_path):
    import keras

    from fer_helpers.apply import export_bundle, load_bundle
    from fer_helpers.transfer import FEATURE_LAYER, extract, head_model

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(3, 3, padding="same", name="conv1")(inp)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Flatten(name=FEATURE_LAYER)(x)
    model = keras.Model(inp, keras.layers.Dense(8, activation="softmax", name="output")(x))
    images = np.random.default_rng(0).integers(0, 256, (40, 8, 8), dtype=np.uint8)
    feats = extract(model, images)  # the cached features heads train on
    codes = (1, 4, 12)
    y = (feats.x[:, :3] > np.median(feats.x[:, :3], 0)).astype(np.float32)
    heads = Heads(feats.x.shape[1], AUHeadSet(len(codes)).specs,
                  HeadConfig(epochs=5, weight_decay=0.01))
    heads.fit(feats.x, {"presence": y, "per_au": y, "intensity": 4 * y})
    # the exported heads are the heads, on the cached features
    for name, clip in (("presence", None), ("intensity", (0, 5))):
        folded = np.asarray(head_model(heads, name, clip)(feats.x.astype(np.float32)))
        ref = heads.predict(feats.x)[name]
        assert np.allclose(folded, ref if clip is None else np.clip(ref, 0, 5), atol=1e-5)
    # the bundle's are the heads on the network's features (float32, not the float16 cache)
    x32 = keras.Model(model.input, model.get_layer(FEATURE_LAYER).output)(
        images[..., None].astype(np.float32))
    want = heads.predict(np.asarray(x32))
    folder = export_bundle(tmp_path / "bundle", model, head_model(heads, "presence"),
                           head_model(heads, "intensity", clip=(0, 5)), au_codes=codes,
                           feature_layer=FEATURE_LAYER, profile="test", test={"x": 1.0})
    b = load_bundle(folder)
    assert b.au_codes == list(codes) and b.card["test"] == {"x": 1.0}
    got = b.predict(images)
    assert np.allclose(got["au_presence"], want["presence"], atol=1e-5)
    assert np.allclose(got["au_intensity"], np.clip(want["intensity"], 0, 5), atol=1e-4)
    assert np.allclose(got["emotion"], feats.prob, atol=1e-5)
    with pytest.raises(ValueError, match="not fitted"):
        head_model(Heads(4, {"p": HeadSpec(2)}), "p")


def test_features_of_images_smaller_than_the_network_input():
    """Profile full trains CK+ at 96x96; FER2013 faces are 48x48: they are resized to the
    network's input before the forward pass (as if the network saw them at its own size)."""
    from fer_helpers import models
    from fer_helpers.transfer.features import extract

    model = models.paper_cnn((32, 32, 1), 8)
    small = np.random.default_rng(0).integers(0, 256, (3, 16, 16)).astype(np.uint8)
    big = np.stack([cv2.resize(im, (32, 32), interpolation=cv2.INTER_LINEAR) for im in small])
    a, b = extract(model, small), extract(model, big)
    assert a.x.shape == b.x.shape == (3, 4 * 4 * 256)
    assert np.array_equal(a.x, b.x) and np.allclose(a.prob, b.prob)


@pytest.mark.parametrize("profile", ["ci", "quick", "full"])
def test_the_novaemotions_cnn_trains_with_its_own_peak_and_epochs(tmp_path, monkeypatch, profile):
    from fer_helpers import crossval
    from fer_helpers.book import PROFILES
    from fer_helpers.synth.nova import write_nova
    from fer_helpers.transfer import settings
    from fer_helpers.transfer.sources import nova_source

    write_nova(tmp_path / "nova", n_subjects=3, per_subject=(2, 3), seed=1)
    seen = {}

    class Stop(Exception):
        pass

    def spy(ds, arch, config, artifacts, **kw):
        seen.update(config=config, **kw)
        raise Stop

    monkeypatch.setattr(crossval, "train_or_load", spy)
    with pytest.raises(Stop):
        nova_source(profile, tmp_path / "nova", True, tmp_path / "art", "float32")
    s, cfg = settings(profile), seen["config"]
    assert (cfg.peak_lr, cfg.epochs) == (s["nova_peak_lr"], s["nova_epochs"])
    assert cfg.schedule == PROFILES[profile]["schedule"]
    assert seen["max_folds"] == s["nova_folds"]


def test_the_feature_cache_extracts_once_and_holds_only_what_it_is_asked_to():
    import keras

    from fer_helpers import models
    from fer_helpers.transfer import FeatureCache, extract

    keras.utils.set_random_seed(0)
    net = models.paper_cnn((48, 48, 1), 8)
    images = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    loads = []

    def load():
        loads.append(1)
        return net

    cache = FeatureCache()
    first = cache.get("net", load, images)
    assert np.array_equal(first.x, extract(net, images).x) and first.x.shape == (5, 9216)
    cache.get("net", load, images)  # not held: extracted again
    held = cache.get("net", load, images, keep=True)
    assert len(loads) == 3 and cache.images_done == 15
    assert cache.get("net", load, images) is held and len(loads) == 3  # held: no model load
    cache.get("net", load, images[:4])  # other images: another entry
    cache.get("other", load, images)  # another model key: another entry
    assert len(loads) == 5 and cache.rate > 0
    cache.release()
    cache.get("net", load, images)
    assert len(loads) == 6
