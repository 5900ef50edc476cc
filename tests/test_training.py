"""Training: schedule, augmentation, protocol splits, resume after a kill, selection."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pandas as pd
import pytest

from fer_helpers import crossval, training
from fer_helpers.datasets import FaceDataset
from fer_helpers.labels import CKPLUS

from .conftest import ROOT

TINY = training.TrainConfig(epochs=3, batch_size=16, precision="float32",
                            augmentation=training.Augmentation(rotation=0, shear=0))


def tiny_dataset(n_subjects=8, per=6, size=16, seed=0) -> FaceDataset:
    """Images whose brightness pattern depends on the label, for fast learnable fits."""
    rng = np.random.default_rng(seed)
    n = n_subjects * per
    labels = rng.integers(0, 3, n)
    images = rng.integers(0, 60, (n, size, size)).astype(np.uint8)
    for i, y in enumerate(labels):
        images[i, :, y * 5:(y + 1) * 5] += 180
    subjects = np.repeat([f"S{i:03d}" for i in range(n_subjects)], per)
    return FaceDataset(images, labels, CKPLUS, np.array([f"img{i}" for i in range(n)]), subjects)


def test_schedule_is_keras2_decay():
    opt = training.optimizer(training.TrainConfig(learning_rate=1e-3, decay=1e-5))
    for step in (0, 1, 1000, 250_000):
        lr = float(opt.learning_rate(step)) if callable(opt.learning_rate) else None
        if lr is None:
            lr = float(opt._learning_rate(step))
        assert lr == pytest.approx(1e-3 / (1 + 1e-5 * step), rel=1e-6)


def test_precision_choice():
    assert training.set_precision("float32") == "float32"
    auto = training.set_precision("auto")
    assert auto == ("mixed_bfloat16" if training.bf16_supported() else "float32")
    assert keras.mixed_precision.global_policy().name == auto
    training.set_precision("float32")
    with pytest.raises(ValueError, match="precision must be"):
        training.set_precision("float16")


def test_augmentation_keeps_shape_and_flip_mirrors():
    x = np.arange(2 * 8 * 8, dtype=np.float32).reshape(2, 8, 8, 1)
    out = np.asarray(training.Augmentation().layer(0)(x, training=True))
    assert out.shape == x.shape
    flip = training.Augmentation(rotation=0, translation=0, zoom=0, shear=0).layer(3)
    for _ in range(3):
        o = np.asarray(flip(x, training=True))
        for a, b in zip(o, x, strict=True):
            assert np.array_equal(a, b) or np.array_equal(a, b[:, ::-1])


def test_subject_kfold_protocol_keeps_subjects_apart():
    ds = tiny_dataset(n_subjects=12)
    triples = crossval.splits(ds, "subject-kfold", 4, training.TrainConfig(val_fraction=0.2))
    assert len(triples) == 4
    for fit, val, test in triples:
        s = [set(ds.subjects[i]) for i in (fit, val, test)]
        assert not (s[0] & s[1]) and not (s[0] & s[2]) and not (s[1] & s[2])
        assert len(fit) and len(val) and len(test)
    assert sorted(np.concatenate([t for *_, t in triples]).tolist()) == list(range(len(ds)))


def test_official_protocol():
    ds = tiny_dataset()
    ds.split = np.array(["Training"] * 30 + ["PublicTest"] * 9 + ["PrivateTest"] * 9)
    (fit, val, test), = crossval.splits(ds, "official", 10, TINY)
    assert (ds.split[fit] == "Training").all() and (ds.split[val] == "PublicTest").all()
    assert (ds.split[test] == "PrivateTest").all()
    with pytest.raises(ValueError, match="subject ids"):
        crossval.splits(FaceDataset(ds.images, ds.labels, CKPLUS, ds.paths), "subject-kfold",
                        2, TINY)


def test_selected_epoch_never_depends_on_test_data(tmp_path):
    """Replace fold 0's test images by noise: the fit, the validation curve and the chosen
    epoch must not change. (Labels stay: the stratified folds are built from all labels
    before any training, which fixes the split, not the selection.)"""
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    ds = tiny_dataset()
    (fit, val, test), = crossval.splits(ds, "subject-kfold", 4, TINY)[:1]
    spoiled = ds.subset(np.arange(len(ds)))
    spoiled.images = ds.images.copy()
    spoiled.images[test] = np.random.default_rng(9).integers(0, 255, spoiled.images[test].shape,
                                                             dtype=np.uint8)
    (fit2, val2, test2), = crossval.splits(spoiled, "subject-kfold", 4, TINY)[:1]
    assert [fit.tolist(), val.tolist(), test.tolist()] == \
        [fit2.tolist(), val2.tolist(), test2.tolist()]
    a = crossval.train_or_load(ds, "paper_cnn", TINY, tmp_path / "a", n_folds=4, max_folds=1,
                               quiet=True)
    b = crossval.train_or_load(spoiled, "paper_cnn", TINY, tmp_path / "b", n_folds=4,
                               max_folds=1, quiet=True)
    assert a.path.name != b.path.name  # different data, different artifacts
    fa, fb = a.folds[0], b.folds[0]
    np.testing.assert_allclose(fa.history["val_accuracy"], fb.history["val_accuracy"])
    np.testing.assert_allclose(fa.history["loss"], fb.history["loss"], rtol=1e-5)
    assert fa.best_epoch == fb.best_epoch
    np.testing.assert_array_equal(fa.y_true, ds.labels[test])


def test_train_or_load_reuses_and_retrains(tmp_path):
    ds = tiny_dataset()
    a = crossval.train_or_load(ds, "zero_bias_cnn", TINY, tmp_path, n_folds=2, quiet=True)
    stamp = (a.path / "fold0" / "result.json").stat().st_mtime_ns
    b = crossval.train_or_load(ds, "zero_bias_cnn", TINY, tmp_path, n_folds=2, quiet=True)
    assert b.path == a.path and (b.path / "fold0" / "result.json").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(a.accuracies, b.accuracies)
    c = crossval.train_or_load(ds, "zero_bias_cnn", training.TrainConfig(
        **{**TINY.to_dict(), "epochs": 2, "augmentation": TINY.augmentation}), tmp_path,
        n_folds=2, quiet=True)
    assert c.path != a.path and len(c.folds[0].history) == 2
    summary = json.loads((a.path / "summary.json").read_text())
    assert summary["model"] == "zero_bias_cnn" and len(summary["accuracies"]) == 2
    assert a.confusion().to_numpy().sum() == len(ds)
    assert 0 <= a.mean <= 1 and a.summary().endswith("%")


RESUME_SCRIPT = textwrap.dedent("""
    import os, sys, json, keras, numpy as np
    sys.path.insert(0, {root!r})
    from tests.test_training import TINY, tiny_dataset
    from fer_helpers import models, training
    ds = tiny_dataset()
    kill = sys.argv[1] == "kill"

    class Marker(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            with open({marker!r}, "a") as f:
                f.write(f"{{epoch}}\\n")
        def on_train_batch_end(self, batch, logs=None):
            if kill and self._epoch_now == 2 and batch == 1:
                os._exit(3)  # killed in the middle of the third epoch
        def on_epoch_end(self, epoch, logs=None):
            self._epoch_now = epoch + 1
        _epoch_now = 0

    cfg = training.TrainConfig(**{{**TINY.to_dict(), "epochs": 5,
                                  "augmentation": TINY.augmentation}})
    res = training.fit(lambda: models.paper_cnn((16, 16, 1), 8), (ds.images[:32], ds.labels[:32]),
                       (ds.images[32:], ds.labels[32:]), cfg, {workdir!r}, quiet=True,
                       extra_callbacks=[Marker()], backup_every=0)
    print(json.dumps({{"best_epoch": res.best_epoch, "epochs": res.history["epoch"].tolist()}}))
""")


def test_killed_run_resumes_at_the_next_epoch(tmp_path):
    marker, workdir = tmp_path / "epochs.txt", tmp_path / "run"
    script = RESUME_SCRIPT.format(root=str(ROOT), marker=str(marker),
                                  workdir=str(workdir))
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}
    killed = subprocess.run([sys.executable, "-c", script, "kill"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert killed.returncode == 3, killed.stderr[-2000:]
    assert marker.read_text().split() == ["0", "1", "2"]
    assert not (workdir / "done.json").exists()
    logged = training.read_log(workdir / "log.csv")["epoch"].tolist()
    assert logged == [0, 1]  # two finished epochs are on disk
    resumed = subprocess.run([sys.executable, "-c", script, "run"], cwd=ROOT, env=env,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # the re-run started at epoch 2 (the killed one), not at 0, and lost no finished epoch
    assert marker.read_text().split() == ["0", "1", "2", "2", "3", "4"]
    out = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert out["epochs"] == [0, 1, 2, 3, 4]
    log = training.read_log(workdir / "log.csv")  # the best epoch survived the kill
    assert out["best_epoch"] == int(log.loc[log["val_accuracy"].idxmax(), "epoch"])
    assert not (workdir / "backup").exists()  # a finished run keeps no resume state
    assert (workdir / "done.json").is_file() and (workdir / "best.keras").is_file()


def test_schedule_one_cycle_warms_up_then_decays():
    cfg = training.TrainConfig(epochs=10, schedule="one-cycle", peak_lr=3e-3)
    lr = training.optimizer(cfg, steps_per_epoch=10)._learning_rate  # the schedule
    at = [float(lr(s)) for s in (0, 15, 30, 60, 99)]
    assert at[0] == pytest.approx(3e-3 / 25) and at[2] == pytest.approx(3e-3, rel=1e-3)
    assert at[0] < at[1] < at[2] > at[3] > at[4] and at[4] < 1e-4
    with pytest.raises(ValueError, match="schedule must be"):
        training.optimizer(training.TrainConfig(schedule="cyclic"))
    assert "not the paper's" in cfg.describe()


@pytest.mark.parametrize("durations", [[10.0] * 12, [50.0] * 6, [3.0, 40.0, 7.0, 7.0, 25.0,
                                                                  1.0, 1.0, 1.0, 60.0, 2.0]])
def test_timed_backup_bounds_the_training_a_kill_repeats(durations, tmp_path):
    """With steady epochs, a kill at any moment repeats at most ``every`` seconds or one
    epoch of training, whichever is more; with uneven ones, at most ``every`` plus the
    longest epoch."""
    every, now = 30.0, [0.0]
    cb = training.TimedBackup(tmp_path, every, clock=lambda: now[0])  # no logs: no best
    cb.save = lambda epoch: cb.saves.append(epoch)  # no model here: record the decision only
    cb.on_train_begin()
    ends, saved_at = [], [0.0]
    for epoch, d in enumerate(durations):
        cb.on_epoch_begin(epoch)
        now[0] += d
        cb.on_epoch_end(epoch)
        ends.append(now[0])
        if cb.saves and cb.saves[-1] == epoch:
            saved_at.append(now[0])
    # the worst kill comes just before a save (or the end): everything since the last save
    worst = max(b - a for a, b in zip(saved_at, saved_at[1:] + [ends[-1]], strict=True))
    steady = len(set(durations)) == 1
    bound = max(every, max(durations)) if steady else every + max(durations)
    assert worst <= bound + 1e-9
    assert len(cb.saves) < len(durations) or min(durations) > every  # not every epoch


def test_multi_hot_targets_use_per_output_accuracy_and_select_on_auc(tmp_path):
    from fer_helpers import models

    ds = tiny_dataset()
    y = np.zeros((len(ds), 5), np.float32)
    y[np.arange(len(ds)), ds.labels] = 1.0  # one of the first three outputs on; 4 and 5 off
    res = training.fit(lambda: models.paper_cnn((16, 16, 1), 5, activation="sigmoid"),
                       (ds.images[:32], y[:32]), (ds.images[32:], y[32:]), TINY,
                       tmp_path, quiet=True, loss="binary_crossentropy")
    log = res.history
    # per-output ("binary") accuracy: at least the 3 of 5 outputs that are off in every row
    # once the network says "off" everywhere; categorical accuracy would be about 1/3
    assert (log["accuracy"] >= 0.0).all() and log["accuracy"].iloc[-1] > 0.55
    # the epoch is chosen on the mean per-output ROC AUC (first epoch at its maximum)
    assert "val_auc" in log and log["val_auc"].between(0, 1).all()
    assert res.best_epoch == int(log.loc[log["val_auc"].idxmax(), "epoch"])
    assert res.best_val_accuracy == pytest.approx(
        float(log.loc[log["epoch"] == res.best_epoch, "val_accuracy"].iloc[0]))


def _lstm_fold_model(fit_x, units=8, dropout=0.5):
    from keras import layers

    from fer_helpers.models import FeatureStandardization

    inp = keras.Input((6 * 4,))
    x = layers.Reshape((6, 4))(inp)
    std = FeatureStandardization(dtype="float32")
    x = layers.LSTM(units, recurrent_dropout=0.2)(std(x))
    out = layers.Dense(3, activation="softmax")(layers.Dropout(dropout)(x))
    std.set_statistics(fit_x.reshape(-1, 4).mean(0), fit_x.reshape(-1, 4).var(0))
    return keras.Model(inp, out)


def test_a_reused_model_trains_exactly_as_a_new_one(tmp_path, monkeypatch):
    """Three folds (of 3, 4 and 3 batches) through one pool: each fold's weights and history
    equal those of a fit that builds its own model; the pool keeps one model, and TensorFlow's
    seed (whose setting retraces) is set once, while the architecture stays; another layer
    setting or width takes a new model, and a fit that fails empties the pool."""
    import tensorflow as tf

    cfg = training.TrainConfig(epochs=3, batch_size=8, augmentation=None, decay=0.0,
                               precision="float32")
    rng = np.random.default_rng(0)
    folds = [(rng.normal(k, 1 + k, (n, 24)).astype("float32"), rng.integers(0, 3, n))
             for k, n in enumerate((30, 35, 30))]
    own = []
    for k, (x, y) in enumerate(folds):
        res = training.fit(lambda x=x: _lstm_fold_model(x), (x[:-6], y[:-6]),
                           (x[-6:], y[-6:]), cfg, tmp_path / f"own{k}", quiet=True)
        own.append((res.model.get_weights(), res.history, res.best_epoch))
    seeds = []
    real_set_seed = tf.random.set_seed
    monkeypatch.setattr(tf.random, "set_seed", lambda s: (seeds.append(s), real_set_seed(s)))
    tf.random.set_seed(1)  # another seed than the fits': the first fit must set it again
    pool, kept = {}, []
    for k, (x, y) in enumerate(folds):
        shared = training.fit(lambda x=x: _lstm_fold_model(x), (x[:-6], y[:-6]),
                              (x[-6:], y[-6:]), cfg, tmp_path / f"shared{k}", quiet=True,
                              reuse=pool)
        kept.append(shared.model)
        weights, history, best = own[k]
        for a, b in zip(weights, shared.model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        pd.testing.assert_frame_equal(history.drop(columns="seconds"),
                                      shared.history.drop(columns="seconds"))
        assert best == shared.best_epoch
    assert kept[0] is kept[1] is kept[2]
    assert seeds == [1, cfg.seed]  # set by the test, then once by the first shared fit
    x0 = folds[0][0]
    for other in (lambda: _lstm_fold_model(x0, units=5), lambda: _lstm_fold_model(x0, dropout=0.2)):
        before = pool["model"]
        res = training.fit(other, folds[0], folds[0], cfg, tmp_path / f"other{id(other)}",
                           quiet=True, reuse=pool)
        assert res.model is not before and pool["model"] is res.model

    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        training.fit(lambda: _lstm_fold_model(x0, dropout=0.2), folds[0], folds[0], cfg,
                     tmp_path / "boom", quiet=True, reuse=pool, extra_callbacks=[Boom()])
    assert pool == {}


def test_feature_standardization_uses_the_statistics_put_into_it(tmp_path):
    from fer_helpers.models import FeatureStandardization

    layer = FeatureStandardization()
    layer.build((None, 3))
    layer.set_statistics(np.array([1.0, 2.0, 3.0]), np.array([4.0, 0.0, 1.0]))
    out = np.asarray(layer(np.array([[3.0, 2.0, 5.0]], "float32")))
    np.testing.assert_allclose(out, [[1.0, 0.0, 2.0]], atol=1e-6)  # a zero variance: 0 out
    inp = keras.Input((3,))
    model = keras.Model(inp, layer(inp))
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again(np.array([[3.0, 2.0, 5.0]], "float32"))), out)
