"""Chapter 6's positive control: the apex - onset CNN on other SynthFACS people."""

from __future__ import annotations

import numpy as np
import pytest

from fer_helpers import lbptop, micro, training
from fer_helpers import micro_reference as mr
from fer_helpers.datasets import load_casme2
from fer_helpers.micro.chapter import _cnn_stage, _stage_check
from fer_helpers.synth import write_casme2

SIZE = 32
TINY = {"clips_per_subject": (5, 6), "size": 48, "envelope": (6, 12), "neutral": (2, 4),
        "weights": [3, 3, 3, 3, 3, 1, 1]}


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("casme2")
    write_casme2(base / "chapter", n_subjects=3, seed=micro.SEED, n_jobs=1, **TINY)
    write_casme2(base / "reference", n_subjects=4, seed=mr.REFERENCE_SEED, n_jobs=1, **TINY)
    ds = load_casme2(base / "chapter", "5class", "cropped", errors="skip")
    data = micro.load_data(ds, SIZE, 4, lbptop.LBPTop(length=6, size=24, blocks=(2, 2)),
                           "SynthFACS (synthetic)")
    return data, mr.Reference.load(base / "reference", "5class", SIZE)


def test_difference_is_the_magnified_apex_minus_onset():
    key = np.zeros((2, 5, 2, 2), np.uint8)
    key[:, 0] = 100  # onset
    key[0, 1] = [[101, 99], [100, 140]]  # apex
    key[1, 1] = 100
    key[:, 2:] = 7  # offset, first, last: not used
    out = mr.difference(key, gain=8)
    assert out.dtype == np.uint8
    assert out[0].tolist() == [[136, 120], [128, 255]]  # 128 + 8 * d, clipped at 255
    assert (out[1] == 128).all()


def test_the_control_training_is_described_with_each_fits_epochs():
    assert mr.describe((30, 20)) == (
        "Adam, lr 0.001, decay 1e-05 (the paper's), batch 32, 30 epochs on as many clips as a "
        "fold, 20 on all clips, the epoch chosen on held-out reference subjects")
    assert ", batch 32, 40 epochs, the epoch" in mr.describe(40)
    assert mr.describe(40) == mr.describe((40, 40)) == mr.describe([40, 40])
    assert mr.epoch_pair(np.int64(30)) == (30, 30)
    for bad in ((30,), (30, 20, 10), "30", (30, 0), (30.0, 20), None):
        with pytest.raises(ValueError, match="micro_reference_epochs must be"):
            mr.epoch_pair(bad)


def test_subset_takes_whole_subjects_then_cuts_the_last():
    subjects = np.repeat(["01", "02", "03"], [4, 3, 5])
    idx = mr.subset(subjects, 6, seed=0)
    assert len(idx) == 6 and len(set(idx)) == 6
    counts = {s: int((subjects[idx] == s).sum()) for s in set(subjects[idx])}
    full = [s for s, c in counts.items() if c == (subjects == s).sum()]
    assert len(full) >= len(counts) - 1  # at most one subject cut short
    assert np.array_equal(mr.subset(subjects, 99), np.arange(12))


def test_the_positive_control_never_sees_the_chapters_clips(trees, tmp_path, monkeypatch):
    data, ref = trees
    calls, built = [], []
    real = training.fit

    def spy(build, train, val, config, workdir, **kw):
        calls.append((np.asarray(train[0]), np.asarray(val[0])))
        return real(lambda: built.append(1) or build(), train, val, config, workdir, **kw)

    monkeypatch.setattr(training, "fit", spy)
    folds = micro.loso_folds(data.subjects, val_fraction=0.3)
    cfg = mr.train_config(1, "float32")
    n = mr.fold_size(data, folds)
    res = mr.positive_control(data, folds, ref, n, cfg, tmp_path)
    ((train, val),) = calls
    assert len(train) + len(val) == n < len(ref.labels)
    chapter = mr.difference(data.key).reshape(len(data), -1).astype(np.int16)
    for part in (train, val):
        rows = part.reshape(len(part), -1).astype(np.int16)
        gaps = np.abs(rows[:, None] - chapter[None]).max(axis=2)
        assert gaps.min() > 0  # no chapter clip among the control's training images
    assert res.method == "reference_fold_size" and len(res.y_pred) == len(data)
    for fold, rec in zip(folds, res.folds, strict=True):
        assert np.array_equal(rec.test_index, fold.test)
        names = [s for v in rec.fitted_on.values() for s in v]
        assert names and all(s.startswith(mr.PREFIX) for s in names)
        assert fold.subject not in names  # the leak check of the chapter passes by design
    # the same configuration again is loaded, not retrained (no network built)
    assert built
    built.clear()
    again = mr.positive_control(data, folds, ref, n, cfg, tmp_path)
    assert built == [] and np.array_equal(again.y_pred, res.y_pred)
    every = mr.positive_control(data, folds, ref, len(ref.labels), cfg, tmp_path,
                                method="reference_all")
    assert built  # another clip count is another network, not the cached one
    assert every.method == "reference_all" and every.folds[0].info["clips"] == len(ref.labels)


def test_each_control_fit_gets_its_own_epoch_budget(trees, tmp_path, monkeypatch):
    from fer_helpers import models

    data, ref = trees
    budgets = []
    real = training.fit

    def spy(build, train, val, config, workdir, **kw):
        budgets.append((len(train[1]) + len(val[1]), config.epochs))
        return real(build, train, val, config, workdir, **kw)

    monkeypatch.setattr(training, "fit", spy)
    source = models.paper_cnn((SIZE, SIZE, 1), 8)  # the apex probe's model: untrained is fine
    lbp = lbptop.LBPTop(length=6, size=24, blocks=(2, 2))
    config = micro.MicroConfig(cnn=training.TrainConfig(precision="float32", val_fraction=0.3))
    run = micro.run_scheme(data, source, config, tmp_path, lbp, with_cnn_lstm=False,
                           reference=ref, reference_epochs=(1, 2))
    n = mr.fold_size(data, run.folds)
    assert budgets == [(n, 1), (len(ref.labels), 2)]  # fold-size fit, then all clips
    assert set(mr.FITS) <= set(run.results) and "cnn_lstm" not in run.results
    budgets.clear()
    micro.run_scheme(data, source, config, tmp_path / "b", lbp, with_cnn_lstm=False,
                     reference=ref, reference_epochs=1)
    assert budgets == [(n, 1), (len(ref.labels), 1)]  # one number serves both
    budgets.clear()
    with pytest.raises(ValueError, match="micro_reference_epochs"):
        micro.run_scheme(data, source, config, tmp_path / "c", lbp, with_cnn_lstm=False,
                         reference=ref, reference_epochs=(1, 2, 3))
    assert budgets == []  # refused before anything trained
    with pytest.raises(ValueError, match="micro_reference_epochs"):  # the CNN + LSTM too
        micro.run_scheme(data, source, config, tmp_path / "d", lbp, reference=ref,
                         reference_epochs=(1, 2, 3))
    assert budgets == []


def test_the_reference_tree_draws_other_people():
    """What keeps the chapter's people out of the control: another seed, other identities
    (folder names repeat, so the names in fitted_on prove nothing by themselves)."""
    from fer_helpers.synth.micro import clip_identity

    for subject in (1, 2, 3):
        a, b = clip_identity(micro.SEED, subject), clip_identity(mr.REFERENCE_SEED, subject)
        assert not np.allclose(a.neutral_shape, b.neutral_shape)


def test_a_reference_missing_a_class_is_an_error(trees, tmp_path):
    data, ref = trees
    keep = ref.labels != 0
    thin = mr.Reference(ref.images[keep], ref.labels[keep], ref.subjects[keep], ref.classes,
                        "thin")
    folds = micro.loso_folds(data.subjects, val_fraction=0.3)
    cfg = mr.train_config(1, "float32")
    with pytest.raises(ValueError, match="render more reference subjects"):
        mr.positive_control(data, folds, thin, 10, cfg, tmp_path)
    other = mr.Reference(ref.images, ref.labels, ref.subjects, ("a", "b", "c", "d", "e"), "x")
    with pytest.raises(ValueError, match="same scheme"):
        mr.positive_control(data, folds, other, 10, cfg, tmp_path)
    with pytest.raises(ValueError, match="clips asked"):
        mr.positive_control(data, folds, ref, len(ref.labels) + 1, cfg, tmp_path)


def _fixed(data, folds, method, pred, clips=None):
    """A MethodResult predicting ``pred`` (per clip) in every fold."""
    info = {} if clips is None else {"clips": clips}
    recs = [micro.FoldRecord(f.subject, f.test, pred[f.test], {}, info) for f in folds]
    return micro.MethodResult(method, method, data.classes, data.labels, recs, "d")


def test_the_verdict_compares_each_method_with_the_control_at_its_size(trees):
    data, _ = trees
    folds = micro.loso_folds(data.subjects, val_fraction=0.3)
    y = data.labels
    wrong = (y + 1) % len(data.classes)
    half = np.where(np.arange(len(y)) % 2 == 0, y, wrong)
    res = {"lbp_top": _fixed(data, folds, "lbp_top", wrong),
           "majority": micro.majority(data, folds), "au_ceiling": _fixed(data, folds, "c", y),
           "reference_fold_size": _fixed(data, folds, "r", half, 40),
           "reference_all": _fixed(data, folds, "r", y, 400)}
    run = micro.SchemeRun(data, folds, res, {})
    lines = run.verdict()
    assert len(lines) == 2
    assert "far below what these clips allow" in lines[0]
    assert "points more)" in lines[0]
    assert mr.clips(run) == {"reference_fold_size": 40, "reference_all": 400}
    without = micro.SchemeRun(data, folds, {k: v for k, v in res.items()
                                            if not k.startswith("reference")}, {})
    assert mr.clips(without) is None and mr.by_clips(without)[0] == {}
    curve, points, lines_ = mr.by_clips(run)  # the figure's data: clips against UF1
    ((xy),) = curve.values()
    assert [x for x, _ in xy] == [40, 400] and xy[1][1] == pytest.approx(1.0)
    assert points == {micro.METHODS["lbp_top"]: (mr.fold_size(data, folds), 0.0)}
    assert set(lines_) == {"AU ceiling", "majority class of the training subjects",
                           "uniform guess"}
    assert "wins over every method" in lines[1] and "400 clips close 100%" in lines[1]
    res["lbp_top"] = _fixed(data, folds, "lbp_top", y)  # a method as good as the ceiling
    lines = micro.SchemeRun(data, folds, res, {}).verdict()
    assert "level with it or above" in lines[0] and "does NOT beat every method" in lines[1]
    assert "0.0 points above the AU ceiling" in lines[0]
    # a method a few points under the control is close to it, not level with it
    near = y.copy()
    near[0] = wrong[0]
    res["lbp_top"] = _fixed(data, folds, "lbp_top", near)
    res["reference_fold_size"] = _fixed(data, folds, "r", y, 40)
    lines = micro.SchemeRun(data, folds, res, {}).verdict()
    assert "this method is close to it" in lines[0]
    assert "with 40 clips it already reaches the AU ceiling" in lines[1]
    assert "nan" not in " ".join(lines)


def test_the_stage_check_fits_its_lstm_in_each_fold_without_the_test_subject(trees, tmp_path,
                                                                            monkeypatch):
    import keras

    data, ref = trees
    folds = micro.loso_folds(data.subjects, val_fraction=0.3)
    control = mr.positive_control(data, folds, ref, mr.fold_size(data, folds),
                                  mr.train_config(1, "float32"), tmp_path)
    lstm = training.TrainConfig(epochs=1, batch_size=8, precision="float32", augmentation=None)
    config = micro.MicroConfig(seq_length=4, lstm_units=4, lstm=lstm)
    calls = []
    real = training.fit

    def spy(build, train, val, cfg, workdir, **kw):
        res = real(build, train, val, cfg, workdir, **kw)
        # the folds share one compiled model: its statistics are read now, not later
        calls.append((np.asarray(train[0]), np.asarray(val[0]),
                      np.array(res.model.get_layer("standardize").mean)))
        return res

    monkeypatch.setattr(training, "fit", spy)
    res = mr.lstm_on_control(data, folds, control, config)
    assert res.method == mr.LSTM_CHECK and len(res.y_pred) == len(data)
    assert len(calls) == len(folds)
    # the sequences the LSTM reads: the control's fc1 of the change images, minus frame 0
    sub = keras.Model(control.model.input, control.model.get_layer("relu_fc1").output)
    n, t, size = data.seq.shape[:3]
    seq = micro.change_images(data.seq, data.seq[:, :1]).reshape(-1, size, size)
    fc1 = np.asarray(sub.predict(training.as_input(seq), verbose=0)).reshape(n, t, -1)
    rows = (fc1 - fc1[:, :1]).reshape(n, -1)
    for fold, rec, (x_fit, x_val, mean) in zip(folds, res.folds, calls, strict=True):
        test = data.subjects == fold.subject
        for x, idx in ((x_fit, fold.fit), (x_val, fold.val)):
            assert np.allclose(x, rows[idx], atol=1e-4)  # exactly the fold's clips ...
            gap = np.abs(x[:, None] - rows[test][None]).max(axis=2)
            assert gap.min() > 1e-3  # ... and none of the test subject's
        # the standardisation statistics are the fitting clips' only
        assert np.allclose(mean, rows[fold.fit].reshape(-1, fc1.shape[-1]).mean(0),
                           atol=1e-4)
        assert fold.subject not in rec.fitted_on["lstm"] + rec.fitted_on["lstm_selection"]
        assert all(s.startswith(mr.PREFIX) for s in rec.fitted_on["reference_cnn"])
    calls.clear()
    again = mr.lstm_on_control(data, folds, control, config)  # cached folds
    assert calls == [] and np.array_equal(again.y_pred, res.y_pred)
    mr.lstm_on_control(data, folds, control, micro.MicroConfig(seq_length=4, lstm_units=5,
                                                                 lstm=lstm))
    assert len(calls) == len(folds)  # another LSTM is fitted again, not loaded


def test_the_stage_check_reads_as_two_signed_steps_that_sum_to_the_gap():
    text = _stage_check(0.56, 0.32, 0.24)
    assert "reaches UF1 32.0% against 56.0%" in text
    assert "moves it 24.0 points down;" in text
    assert "a further 8.0 points down (under the 10 points this chapter counts as noise" in text
    # steps are taken between the printed values: 55.9 - 28.7 = 27.2, 28.7 - 23.5 = 5.2
    assert "27.2 points down; " in _stage_check(0.5594, 0.2874, 0.2346)
    assert "a further 5.2 points down" in _stage_check(0.5594, 0.2874, 0.2346)
    assert "to the CNN + LSTM's 24.0%" in text
    # the check above the control, the CNN + LSTM above the check: steps go up, never capped
    up = _stage_check(0.56, 0.70, 0.30)
    assert "moves it 14.0 points up;" in up and "a further 40.0 points down" in up
    better = _stage_check(0.56, 0.30, 0.45)
    assert "26.0 points down;" in better and "a further 15.0 points up," in better
    assert "swapping" not in _stage_check(0.56, 0.50, None)


def test_the_cnn_stage_is_judged_on_apex_frames_against_a_constant_answer():
    labels = np.array([0, 0, 0, 1, 2, 0, 1, 1, 0, 2])
    folds = [micro.Fold("a", fit=np.array([0]), val=np.array([4, 5]), test=np.array([1, 2])),
             micro.Fold("b", fit=np.array([6]), val=np.array([9, 0, 1, 2]), test=np.array([7]))]
    # selection clips pooled: labels 2, 0 | 2, 0, 0, 0 -> class 0 in 4 of 6: 66.7 %

    def result(accs):
        recs = [micro.FoldRecord(f.subject, f.test, np.array([0]), {},
                                 {"cnn_apex_accuracy": a, "cnn_apex_neutral": 0.5,
                                  "cnn_apex_clips": len(f.val)})
                for f, a in zip(folds, accs, strict=True)]
        return micro.MethodResult("cnn_lstm", "", ("a", "b", "c"), labels, recs, "")

    flat = _cnn_stage(result([0.5, 0.75]), labels, folds)  # (1 + 3) / 6 right
    assert "names the class of 66.7% of the apex frames (6 apex frames over 2 folds)" in flat
    assert "against 66.7% for naming the most frequent class" in flat
    assert "(it calls 50.0% of them 'neutral')" in flat
    assert "+0.0 points, within the 10 points this chapter counts as noise: no better" in flat
    assert "runs" not in flat
    learned = _cnn_stage(result([1.0, 1.0]), labels, folds)
    assert "33.3 points above it, so it tells some classes apart" in learned
    worse = _cnn_stage(result([0.0, 0.25]), labels, folds)  # 1 of 6: 16.7 %
    assert "50.0 points below it: worse than that constant answer" in worse
    two = micro.Repeated([result([0.5, 0.75]), result([0.5, 0.75])], ["fold 0", "fold 1"])
    assert "(12 apex frames over 4 folds, 2 runs)" in _cnn_stage(two, labels, folds)
    one = micro.Repeated([result([0.5, 0.75])], ["fold 0"])
    assert "runs" not in _cnn_stage(one, labels, folds)


def test_a_uniform_guess_scores_as_its_expected_confusion_matrix():
    y = np.array([0, 0, 0, 1])  # class 0: F1 2(.75)(.5)/1.25 = .6; class 1: 2(.25)(.5)/.75
    assert micro.uniform_guess(y, 2) == pytest.approx({"accuracy": 0.5, "uf1": (0.6 + 1 / 3) / 2,
                                                       "uar": 0.5})
    # and it is what guessing gives on average (pooled over many guesses of a long sequence)
    rng = np.random.default_rng(0)
    y = rng.choice(5, 20_000, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    guessed = micro.scores(y, rng.integers(0, 5, len(y)))["uf1"]
    assert guessed == pytest.approx(micro.uniform_guess(y, 5)["uf1"], abs=0.01)
