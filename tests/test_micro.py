"""Chapter 6's methods: no test subject in any training stage, LBP-TOP, the metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from skimage.feature import local_binary_pattern

from fer_helpers import lbptop, micro, training
from fer_helpers.datasets import load_casme2
from fer_helpers.synth import write_casme2

SIZE = 32
TINY = {"n_subjects": 3, "clips_per_subject": (4, 5), "size": 48, "envelope": (6, 12),
        "neutral": (2, 4), "weights": [3, 3, 3, 3, 3, 1, 1]}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("casme2") / "CASME2"
    write_casme2(root, seed=3, n_jobs=1, **TINY)
    ds = load_casme2(root, "5class", "cropped", errors="skip")
    return micro.load_data(ds, SIZE, 4, lbptop.LBPTop(length=6, size=24, blocks=(2, 2)),
                           "SynthFACS (synthetic)")


@pytest.fixture(scope="module")
def source():
    import keras

    from fer_helpers import models

    training.set_precision("float32")
    keras.utils.set_random_seed(0)
    return models.paper_cnn((SIZE, SIZE, 1), 8)


def _config(finetune="top", input="frames"):
    cnn = training.TrainConfig(epochs=1, batch_size=16, precision="float32", augmentation=None,
                               val_fraction=0.3)
    lstm = training.TrainConfig(epochs=1, batch_size=8, precision="float32", augmentation=None)
    return micro.MicroConfig(seq_length=4, lstm_units=4, finetune=finetune, cnn=cnn, lstm=lstm,
                             relative=True, input=input)


@pytest.fixture
def spy(monkeypatch):
    """Every call of training.fit: its label and the arrays it was given."""
    calls = []
    real = training.fit

    def fit(build_model, train, val, config, workdir, label="", **kw):
        calls.append({"label": label, "train": np.asarray(train[0]),
                      "val": np.asarray(val[0]), "workdir": workdir,
                      "reuse": id(kw.get("reuse"))})
        return real(build_model, train, val, config, workdir, label=label, **kw)

    monkeypatch.setattr(training, "fit", fit)
    return calls


def _rows(a):
    a = np.asarray(a, np.float64)
    return a.reshape(len(a), -1)


def _nearest(rows, pool):
    """Distance of each row of ``rows`` to its nearest row of ``pool``."""
    d = ((rows[:, None, :] - pool[None, :, :]) ** 2).sum(-1)
    return np.sqrt(d.min(axis=1))


def _check_fold(k, fold, rec, calls, data, conv_key, fold_dir, input="frames"):
    """The test subject reaches neither stage of fold ``k``: by the recorded subjects and by
    the very arrays each ``fit`` received."""
    others = sorted(set(data.subjects.tolist()) - {fold.subject})
    assert rec.subject == fold.subject
    for stage, subjects in rec.fitted_on.items():
        assert fold.subject not in subjects, (k, stage)
    # not vacuous: the stages together used every other subject
    assert sorted(set(rec.fitted_on["cnn"]) | set(rec.fitted_on["cnn_selection"])) == others
    assert rec.fitted_on["lstm"] == rec.fitted_on["cnn"]
    cnn_call = next(c for c in calls if c["label"] == f"micro CNN fold {k}: ")
    lstm_call = next(c for c in calls if c["label"] == f"micro LSTM fold {k}: ")
    test = data.subjects == fold.subject
    # CNN stage: its inputs are rows of the key frames (conv features or images) of the
    # other subjects, never the test subject's
    key = micro.cnn_inputs(data, input)[0]
    key_rows = _rows(conv_key.reshape(-1, conv_key.shape[-1]) if conv_key is not None
                     else key.reshape(-1, SIZE * SIZE))
    frame_test = np.repeat(test, 5)
    # as change images every clip's first frame is the same mid-grey image, which other
    # clips have too: the test subject's other key frames are what no other clip has
    own = frame_test & (key.reshape(len(frame_test), -1) != 128).any(axis=1)
    for part in ("train", "val"):
        x = _rows(cnn_call[part].reshape(len(cnn_call[part]), -1))
        assert _nearest(x, key_rows[~frame_test]).max() < 1e-3
        assert _nearest(x, key_rows[own]).min() > 1e-2
    assert len(cnn_call["train"]) == 5 * np.isin(data.subjects, rec.fitted_on["cnn"]).sum()
    # LSTM stage: the fold's fc1 sequences of the other subjects only, as the change from
    # each clip's first frame (MicroConfig.relative, on in _config)
    with np.load(fold_dir / "features.npz") as z:
        seq = _rows(z["fc1"] - z["fc1"][:, :1])
    for part in ("train", "val"):
        x = _rows(lstm_call[part])
        assert _nearest(x, seq[~test]).max() < 1e-3
        assert _nearest(x, seq[test]).min() > 1e-3
    assert len(lstm_call["train"]) == np.isin(data.subjects, rec.fitted_on["lstm"]).sum()


def test_no_test_subject_reaches_cnn_or_lstm_training(data, source, spy, tmp_path):
    folds = micro.loso_folds(data.subjects, val_fraction=0.3)
    assert len(folds) == len(set(data.subjects.tolist())) == 3
    res = micro.cnn_lstm(data, folds, source, _config("top"), tmp_path)
    conv_key = res.conv["key"]
    for k, (fold, rec) in enumerate(zip(folds, res.folds, strict=True)):
        fold_dir = next(res.path.glob(f"fold{k}-sub*"))
        _check_fold(k, fold, rec, spy, data, conv_key, fold_dir)
    assert len(res.y_pred) == len(data) and set(res.scores()) == {"accuracy", "uf1", "uar"}
    # each stage trains one compiled model, shared by the folds (not one traced per fold)
    for stage in ("CNN", "LSTM"):
        pools = {c["reuse"] for c in spy if c["label"].startswith(f"micro {stage}")}
        assert len(pools) == 1 and id(None) not in pools
    # a second run loads every fold: nothing is trained again
    spy.clear()
    again = micro.cnn_lstm(data, folds, source, _config("top"), tmp_path)
    assert spy == [] and np.array_equal(again.y_pred, res.y_pred)
    saved = json.loads(next(res.path.glob("fold0-*/lstm-*/result.json")).read_text())
    assert saved["fitted_on"] == res.folds[0].fitted_on


def test_whole_cnn_finetuning_keeps_the_test_subject_out(data, source, spy, tmp_path):
    folds = micro.loso_folds(data.subjects, val_fraction=0.3)[:1]
    res = micro.cnn_lstm(data, folds, source, _config("all"), tmp_path)
    _check_fold(0, folds[0], res.folds[0], spy, data, None,
                next(res.path.glob("fold0-sub*")))


def test_change_input_keeps_the_test_subject_out(data, source, spy, tmp_path):
    """The other CNN input (each frame's change from the clip's first), top and scratch."""
    folds = micro.loso_folds(data.subjects, val_fraction=0.3)[:1]
    top = micro.cnn_lstm(data, folds, source, _config("top", "change"), tmp_path)
    change = micro.cnn_inputs(data, "change")[0]  # the top's conv features are of these
    assert np.allclose(top.conv["key"].reshape(-1, top.conv["key"].shape[-1]),
                       micro.conv_features(source, change.reshape(-1, SIZE, SIZE)), atol=1e-4)
    _check_fold(0, folds[0], top.folds[0], spy, data, top.conv["key"],
                next(top.path.glob("fold0-sub*")), "change")
    spy.clear()
    scratch = micro.cnn_lstm(data, folds, None, _config("scratch", "change"), tmp_path)
    _check_fold(0, folds[0], scratch.folds[0], spy, data, None,
                next(scratch.path.glob("fold0-sub*")), "change")
    assert scratch.path != top.path


def test_change_images_are_the_magnified_change_from_the_first_frame(data):
    key, seq = micro.cnn_inputs(data, "change")
    assert key.dtype == seq.dtype == np.uint8
    assert (key[:, 3] == 128).all() and (seq[:, 0] == 128).all()  # the first frame itself
    d = data.key[:, 1].astype(int) - data.key[:, 3].astype(int)
    assert np.array_equal(key[:, 1], np.clip(128 + 8 * d, 0, 255))
    assert micro.cnn_inputs(data, "frames")[0] is data.key
    with pytest.raises(ValueError, match="'change' or 'frames'"):
        micro.cnn_inputs(data, "pixels")
    with pytest.raises(ValueError, match="needs a source model"):
        micro.cnn_lstm(data, micro.loso_folds(data.subjects)[:1], None, _config("top"), ".")


def test_baselines_fit_on_training_subjects_only(data, source):
    folds = micro.loso_folds(data.subjects, val_fraction=0.3)
    for res in (micro.lbp_top(data, folds, lbptop.LBPTop(length=6, size=24, blocks=(2, 2))),
                micro.apex_cnn(data, folds, source), micro.majority(data, folds),
                micro.au_ceiling(data, folds)):
        for fold, rec in zip(folds, res.folds, strict=True):
            (subjects,) = rec.fitted_on.values()
            assert subjects == sorted(set(data.subjects.tolist()) - {fold.subject})
        assert len(res.y_pred) == len(data)


def test_au_ceiling_reads_the_rule_and_the_verdict_says_how_far_below_it(data):
    """SynthFACS classes follow from the AUs: the ceiling must be well above the majority
    baseline, and the verdict compares each method with it (computed, not written)."""
    folds = micro.loso_folds(data.subjects, val_fraction=0.3)
    top, base = micro.au_ceiling(data, folds), micro.majority(data, folds)
    assert top.scores()["accuracy"] > base.scores()["accuracy"] + 0.2
    run = micro.SchemeRun(data, folds, {"lbp_top": base, "majority": base, "au_ceiling": top},
                          {})
    (line,) = run.verdict()
    assert "NOT above the majority baseline" in line and "far below it" in line
    assert "an open problem rather than a finding" in line  # no positive control to compare


def test_loso_folds_validate_on_training_subjects():
    subjects = np.repeat(["01", "02", "03", "04", "05"], 3)
    folds = micro.loso_folds(subjects, val_fraction=0.25)
    assert [f.subject for f in folds] == ["01", "02", "03", "04", "05"]
    for f in folds:
        assert set(subjects[f.test]) == {f.subject}
        assert f.subject not in set(subjects[f.fit]) | set(subjects[f.val])
        assert not set(subjects[f.fit]) & set(subjects[f.val]) and len(f.val)
        assert len(f.fit) + len(f.val) + len(f.test) == len(subjects)


# ----------------------------------------------------------------------------- metrics
def test_scores_on_a_hand_made_example():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    s = micro.scores(y_true, y_pred)
    # class 0: TP 2 FP 0 FN 1 -> F1 4/5, recall 2/3; class 1: TP 1 FP 1 FN 1 -> 1/2, 1/2;
    # class 2: TP 1 FP 1 FN 0 -> 2/3, 1
    assert s["accuracy"] == pytest.approx(4 / 6)
    assert s["uf1"] == pytest.approx((4 / 5 + 1 / 2 + 2 / 3) / 3)
    assert s["uar"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    from sklearn.metrics import balanced_accuracy_score, f1_score

    assert s["uf1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert s["uar"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    # always the majority class: accuracy 1/2, but UAR 1/3 and UF1 (2/3)/3 + 0 + 0
    maj = micro.scores(y_true, [0] * 6)
    assert maj["accuracy"] == 0.5 and maj["uar"] == pytest.approx(1 / 3)
    assert maj["uf1"] == pytest.approx((2 * 3 / (2 * 3 + 3)) / 3)
    cm = micro.confusion(y_true, y_pred, ("a", "b", "c"))
    assert cm.to_numpy().tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


# ----------------------------------------------------------------------------- LBP-TOP
def test_lbp_top_shape_and_normalisation():
    vol = np.random.default_rng(0).integers(0, 256, (8, 30, 30)).astype(np.uint8)
    f = lbptop.lbp_top(vol, blocks=(3, 2))
    assert f.shape == (3 * 2 * 3 * lbptop.N_BINS,) == (lbptop.LBPTop(blocks=(3, 2)).n_features,)
    assert np.allclose(f.reshape(6, 3, lbptop.N_BINS).sum(-1), 1)
    assert lbptop.features(vol[None], lbptop.LBPTop(blocks=(3, 2))).shape == (1, f.size)


def test_lbp_top_codes_are_the_planes_lbp():
    """Each plane's codes are scikit-image's 2-D LBP of that plane, at the inner voxels."""
    vol = np.random.default_rng(1).integers(0, 256, (7, 12, 10)).astype(np.uint8)
    r = 2
    codes = lbptop.plane_codes(vol, 8, r)
    t, h, w = vol.shape
    assert codes.shape == (3, t - 2 * r, h - 2 * r, w - 2 * r)

    def lbp(img):
        return local_binary_pattern(img, 8, r, "nri_uniform")

    assert np.array_equal(codes[0, 1], lbp(vol[r + 1])[r:-r, r:-r])  # XY plane at t = r + 1
    assert np.array_equal(codes[1, :, 3], lbp(vol[:, r + 3, :])[r:-r, r:-r])  # XT at y = r + 3
    assert np.array_equal(codes[2, :, :, 4], lbp(vol[:, :, r + 4])[r:-r, r:-r])  # YT at x


def test_lbp_top_of_simple_clips():
    flat = lbptop.lbp_top(np.full((5, 12, 12), 90, np.uint8), blocks=(2, 2)).reshape(
        4, 3, lbptop.N_BINS)
    # a constant clip: every neighbour equals the centre -> one code, the same on all planes
    assert (flat.max(-1) == 1).all() and len(set(flat.argmax(-1).ravel().tolist())) == 1
    # brightness rising over time, constant within each frame: XY sees a flat texture,
    # XT and YT see the same edge pattern (the frame after is brighter), never the flat code
    ramp = np.broadcast_to(np.arange(5, dtype=np.uint8)[:, None, None] * 20 + 50,
                           (5, 12, 12))
    f = lbptop.lbp_top(np.ascontiguousarray(ramp), blocks=(2, 2)).reshape(4, 3, lbptop.N_BINS)
    flat_bin = int(flat[0, 0].argmax())
    assert (f[:, 0, flat_bin] == 1).all()
    assert (f[:, 1] == f[:, 2]).all() and (f[:, 1:, flat_bin] == 0).all()
    # a static clip: the XY part is the 2-D LBP histogram of its frame
    frame = np.random.default_rng(2).integers(0, 256, (12, 12)).astype(np.uint8)
    still = lbptop.lbp_top(np.repeat(frame[None], 4, axis=0), blocks=(1, 1))
    codes = local_binary_pattern(frame, 8, 1, "nri_uniform")[1:-1, 1:-1].astype(int)
    hist = np.bincount(codes.ravel(), minlength=lbptop.N_BINS) / codes.size
    assert np.allclose(still[:lbptop.N_BINS], hist)


def test_table4_quotes_the_paper_and_keeps_each_percentage_on_one_line():
    y = np.array([0, 1, 1, 0])
    rec = micro.FoldRecord("01", np.arange(4), np.array([0, 1, 0, 0]), {})
    res = micro.MethodResult("lbp_top", "", ("a", "b"), y, [rec], "SynthFACS (synthetic), test")
    run = micro.SchemeRun(None, [], {"lbp_top": res, "majority": res}, {})
    t = micro.table4({"5class": run})
    assert list(t["source"]) == ["paper, Table 4"] * 3 + ["CASME II paper", "this run"]
    assert t["accuracy"].iloc[2] == "59.47\u00a0%"  # the paper's CNN + LSTM, as it reports it
    ours = t.iloc[-1]
    assert (ours["accuracy"], ours["UF1"]) == ("75.00\u00a0%", f"{100 * 11 / 15:.2f}\u00a0%")
    assert ours["data"] == "SynthFACS (synthetic), test"  # the controls and majority: elsewhere


def test_runs_from_several_chapter2_models_are_averaged_with_their_spread(data, source,
                                                                         tmp_path):
    """With ``sources`` the CNN + LSTM and the apex probe run from each model on the same folds:
    their scores are the runs' means, the record and the verdict carry the spread, and the
    leak check sees every run's folds; LBP-TOP (no model) runs once."""
    import keras

    from fer_helpers import models

    keras.utils.set_random_seed(1)
    other = models.paper_cnn((SIZE, SIZE, 1), 8)
    run = micro.run_scheme(data, source, _config("top"), tmp_path,
                           lbptop.LBPTop(length=6, size=24, blocks=(2, 2)),
                           sources={"fold 0": source, "fold 1": other})
    assert list(run.results)[:3] == ["cnn_lstm", "lbp_top", "apex_cnn"]
    for name in ("cnn_lstm", "apex_cnn"):
        r = run.results[name]
        assert isinstance(r, micro.Repeated) and r.sources == ["fold 0", "fold 1"]
        each = [x.scores()["uf1"] for x in r.runs]
        assert r.scores()["uf1"] == pytest.approx(np.mean(each))
        assert run.record()[name]["uf1_sd"] == pytest.approx(np.std(each, ddof=1))
        assert run.record()[name]["uf1_runs"] == each
        assert len(r.folds) == 2 * len(run.folds) and len(r.per_fold()) == len(r.folds)
        assert int(r.confusion().to_numpy().sum()) == 2 * len(data.labels)
    assert isinstance(run.results["lbp_top"], micro.MethodResult)
    first = run.results["cnn_lstm"].runs[0]
    alone = micro.cnn_lstm(data, run.folds, source, _config("top"), tmp_path)  # cached
    np.testing.assert_array_equal(alone.y_pred, first.y_pred)
    verdict = " ".join(run.verdict())
    assert "(mean of 2 runs, one from each chapter-2 model:" in verdict
    assert "uf1 sd (chapter-2 models)" in run.table().columns
