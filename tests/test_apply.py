"""fer_helpers.apply: bundle, frame loop, tracking, alignment under roll, bad input, own models.

Models here have random weights (the tests check the plumbing, not accuracy); videos are
SynthFACS renders with known truth.
"""

from __future__ import annotations

import json
import warnings

import cv2
import h5py
import keras
import numpy as np
import pandas as pd
import pytest

from fer_helpers import models
from fer_helpers.apply import (
    BundleError,
    InputError,
    ModelLoadError,
    apply,
    export_bundle,
    load_bundle,
    load_model,
    read_csv,
    write_csv,
)
from fer_helpers.apply import align as align_mod
from fer_helpers.apply import bundle as bundle_mod
from fer_helpers.apply.run import LEAD, main
from fer_helpers.synth.face import AU_CODES
from fer_helpers.synth.video import FaceTrack, render_frames, truth_path, write_video


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    keras.utils.set_random_seed(0)
    m = models.paper_cnn((48, 48, 1), 8)
    presence = keras.Sequential([keras.layers.Dense(len(AU_CODES), activation="sigmoid")])
    intensity = keras.Sequential([keras.layers.Dense(len(AU_CODES), activation="relu")])
    folder = tmp_path_factory.mktemp("bundle") / "bundle"
    export_bundle(folder, m, presence, intensity, au_codes=AU_CODES, feature_layer="flatten",
                  training_data="none (random weights)", profile="test")
    return folder


@pytest.fixture(scope="module")
def bundle(bundle_dir):
    return load_bundle(bundle_dir)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    truth = write_video(path, n_frames=24, size=(320, 180), fps=25.0, seed=1, blank=(7,),
                        fourcc="MJPG")
    return path, truth


def test_bundle_card_and_outputs(bundle_dir, bundle):
    card = json.loads((bundle_dir / "card.json").read_text())
    assert card["format_version"] == bundle_mod.FORMAT_VERSION
    assert card["labels"] == list(bundle.labels) and len(card["labels"]) == 8
    assert card["input_shape"] == [48, 48, 1] and card["crop"]["size"] == 48
    assert card["au_codes"] == list(AU_CODES)
    assert set(bundle.model.output) == {"emotion", "au_presence", "au_intensity"}
    assert not list(bundle_dir.parent.glob(".bundle.*"))  # no temporary left behind


def test_bundle_without_au_heads(tmp_path):
    keras.utils.set_random_seed(0)
    folder = export_bundle(tmp_path / "b", models.paper_cnn((48, 48, 1), 7))
    b = load_bundle(folder)
    assert b.au_codes == [] and b.labels[0] == "anger"  # FER2013's 7 classes
    img, _ = render_frames(1, size=(200, 160), seed=0, max_roll=0)
    cv2.imwrite(str(tmp_path / "one.png"), img[0])
    df = apply(tmp_path / "one.png", folder, progress=False)
    assert not [c for c in df.columns if c.startswith("AU")]
    assert list(df.columns[:5]) == list(LEAD) and df["success"].tolist() == [1]


def test_video_rows_per_frame_and_no_face_frame(video, bundle):
    path, truth = video
    df = apply(path, bundle, progress=False)
    assert list(df.columns[:5]) == ["frame", "face_id", "timestamp", "confidence", "success"]
    assert df["frame"].drop_duplicates().tolist() == list(range(1, 25))
    blank = df[df["frame"] == 8]
    assert blank["success"].tolist() == [0] and blank["anger"].isna().all()
    found = df[df["success"] == 1]
    assert set(found["face_id"]) == {0}
    assert len(found) == 23  # one row per frame with the face: 24 frames, one blank
    assert np.allclose(df["timestamp"], (df["frame"] - 1) / 25.0)
    probs = found[list(bundle.labels)].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert {f"AU{c:02d}_r" for c in AU_CODES} <= set(df.columns)
    assert truth_path(path).is_file()
    every = apply(path, bundle, every=5, progress=False)
    assert every["frame"].tolist() == [1, 6, 11, 16, 21]


def test_csv_round_trip(video, bundle, tmp_path):
    df = apply(video[0], bundle, progress=False)
    write_csv(df, tmp_path / "r.csv")
    back = pd.read_csv(tmp_path / "r.csv")
    pd.testing.assert_frame_equal(back, df)
    pd.testing.assert_frame_equal(read_csv(tmp_path / "r.csv"), df)
    assert (tmp_path / "r.csv").read_text().startswith(
        "frame,face_id,timestamp,confidence,success,")


def test_two_faces_keep_ids_when_they_cross_fade_in_size(tmp_path, bundle):
    h = 240
    tracks = [FaceTrack(0.5, 0.47, (0.26 * h, 0.16 * h)),
              FaceTrack(0.5, 0.47, (0.16 * h, 0.26 * h))]
    frames, truth = render_frames(20, size=(520, h), seed=1, max_roll=8, tracks=tracks)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, img in enumerate(frames):
        cv2.imwrite(str(folder / f"f{i:03d}.png"), img)
    df = apply(folder, bundle, progress=False)
    found = df[df["success"] == 1]
    assert found["face_id"].nunique() == 2
    side = (found["face_x"] + found["face_w"] / 2) > 260
    assert found.groupby("face_id").apply(lambda g: side[g.index].nunique(),
                                          include_groups=False).eq(1).all()
    assert (found.groupby("face_id").size() >= 18).all()


def test_alignment_holds_under_roll_and_raised_brows(tmp_path, bundle):
    path = tmp_path / "roll.avi"
    truth = write_video(path, n_frames=60, size=(640, 360), seed=0, max_roll=25.0,
                        fourcc="MJPG")
    assert truth["roll"].abs().max() > 20
    assert (truth["AU01_r"] > 3).any()
    df = apply(path, bundle, progress=False)
    found = df[df["success"] == 1].merge(truth[["frame", "roll"]], on="frame")
    assert len(found) >= 57
    err = np.abs(np.degrees(found["pose_Rz"]) - found["roll"])
    assert (err <= 3.0).mean() >= 0.95, err.describe()


def test_eye_pair_prefers_eyes_over_brows():
    p = align_mod.PATCH
    eye_y, brow_y = 0.39 * p, 0.26 * p
    left_eye, right_eye = (0.335 * p, eye_y), (0.665 * p, eye_y + 1)
    left_brow, right_brow = (0.33 * p, brow_y), (0.67 * p, brow_y)
    cands = np.array([left_brow, left_eye, right_eye])  # topmost-per-half would pick the brow
    pair = align_mod.choose_pair(cands)
    assert np.allclose(pair[0], left_eye) and np.allclose(pair[1], right_eye)
    cands = np.array([left_brow, right_brow, left_eye, right_eye])
    pair = align_mod.choose_pair(cands)
    assert np.allclose(pair[0], left_eye) and np.allclose(pair[1], right_eye)


def test_symmetry_roll_of_a_face_patch():
    frames, truth = render_frames(1, size=(300, 300), seed=4, max_roll=0)
    img = frames[0]
    c = (truth["eye_lx"][0] + truth["eye_rx"][0]) / 2, (truth["eye_ly"][0] + truth["eye_ry"][0]) / 2
    for deg in (-9.0, 0.0, 7.0):
        m = cv2.getRotationMatrix2D(c, -deg, 1.0)  # turn clockwise on screen by deg
        turned = cv2.warpAffine(img, m, (300, 300), borderMode=cv2.BORDER_REPLICATE)
        size = truth["face_w"][0]
        patch = turned[int(c[1] - 0.39 * size):int(c[1] + 0.61 * size),
                       int(c[0] - size / 2):int(c[0] + size / 2)]
        patch = cv2.resize(patch, (align_mod.PATCH, align_mod.PATCH))
        assert abs(align_mod.symmetry_roll(patch) - deg) < 2.0


# ------------------------------------------------------------------------------ bad input
def test_bad_inputs_name_the_path(tmp_path, bundle, bundle_dir):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(InputError, match="junk.mp4"):
        apply(junk, bundle, progress=False)
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.avi"):
        apply(empty, bundle, progress=False)
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    (nothing / "notes.txt").write_text("no images here")
    with pytest.raises(InputError, match="nothing"):
        apply(nothing, bundle, progress=False)
    with pytest.raises(InputError, match="missing.mp4"):
        apply(tmp_path / "missing.mp4", bundle, progress=False)
    # a model folder without its card, and a card of another format version
    nocard = tmp_path / "nocard"
    nocard.mkdir()
    (nocard / "model.keras").write_bytes((bundle_dir / "model.keras").read_bytes())
    with pytest.raises(BundleError, match="nocard.*card.json"):
        load_bundle(nocard)
    old = tmp_path / "old"
    old.mkdir()
    (old / "model.keras").write_bytes((bundle_dir / "model.keras").read_bytes())
    card = json.loads((bundle_dir / "card.json").read_text())
    (old / "card.json").write_text(json.dumps({**card, "format_version": 99}))
    with pytest.raises(BundleError, match=r"old.card\.json.*version 99"):
        load_bundle(old)


def test_corrupt_image_in_folder_is_reported_and_the_rest_processed(tmp_path, bundle):
    folder = tmp_path / "photos"
    folder.mkdir()
    frames, _ = render_frames(2, size=(200, 160), seed=0, max_roll=0)
    cv2.imwrite(str(folder / "a.png"), frames[0])
    (folder / "b.png").write_bytes(b"\x89PNG broken")
    cv2.imwrite(str(folder / "c.jpg"), frames[1])
    with pytest.warns(UserWarning, match="b.png"):
        df = apply(folder, bundle, progress=False)
    assert df["success"].tolist() == [1, 0, 1]
    assert df["input"].str.endswith("b.png").tolist() == [False, True, False]
    assert df.attrs["unreadable"] == [str(folder / "b.png")]


def test_cli_default_model_missing_names_path(tmp_path, monkeypatch, capsys, video):
    monkeypatch.setattr(bundle_mod, "default_dir", lambda: tmp_path / "artifacts" / "bundle")
    assert main([str(video[0])]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "artifacts" / "bundle") in err and "make book" in err


def test_cli_writes_csv(tmp_path, video, bundle_dir, capsys):
    out = tmp_path / "r.csv"
    assert main([str(video[0]), "--model", str(bundle_dir), "--out", str(out),
                 "--annotate", str(tmp_path / "a.mp4")]) == 0
    df = pd.read_csv(out)
    assert list(df.columns[:5]) == list(LEAD) and df["frame"].nunique() == 24
    cap = cv2.VideoCapture(str(tmp_path / "a.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 24
    cap.release()


# ---------------------------------------------------------------------- bring your own model
def keras2_h5(path):
    """A Keras-2-style .h5: list input, separable convs, batch norm, an optimizer with lr."""
    keras.utils.set_random_seed(1)
    inp = keras.Input((48, 48, 1), name="input_1")
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(inp)
    x = keras.layers.SeparableConv2D(8, 3, activation="relu", name="sep1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.SeparableConv2D(16, 3, name="sep2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.Activation("relu", name="relu2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(7, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs=[inp], outputs=out)
    model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy", ["accuracy"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)
    with h5py.File(path, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        first = cfg["config"]["layers"][0]["config"]
        first["batch_input_shape"] = first.pop("batch_shape")
        f.attrs["model_config"] = json.dumps(cfg)
        f.attrs["keras_version"] = "2.4.0"
        f.attrs["training_config"] = json.dumps({
            "loss": "categorical_crossentropy", "metrics": ["accuracy"],
            "optimizer_config": {"class_name": "Adam", "config": {
                "name": "Adam", "lr": 0.001, "decay": 0.0, "beta_1": 0.9, "beta_2": 0.999,
                "epsilon": 1e-07, "amsgrad": False}}})
    return path


def test_keras2_h5_model_apply_and_guided_backprop(tmp_path, video):
    from fer_helpers.visualize import GuidedBackprop, TopActivations

    path = keras2_h5(tmp_path / "legacy.h5")
    model = load_model(path)
    assert isinstance(model.input, list)
    with pytest.raises(ModelLoadError, match="nope.h5"):
        load_model(tmp_path / "nope.h5")
    df = apply(video[0], path, every=6, progress=False, input_scale="0-255")
    assert df["success"].sum() >= 3 and "happiness" in df.columns  # FER2013's 7 names
    faces = render_frames(3, size=(48, 48), seed=6, max_roll=0)[0]
    pics = GuidedBackprop(model, "sep2")(faces, 0)
    assert pics.shape == (3, 48, 48, 1) and np.isfinite(pics).all()
    top = TopActivations(model, "sep1", n=2)(faces)
    assert top.index.shape == (8, 2)


def test_keras2_h5_compile_error_names_the_file(tmp_path):
    path = keras2_h5(tmp_path / "legacy2.h5")
    try:
        load_model(path, compile=True)
    except ModelLoadError as e:
        assert "legacy2.h5" in str(e)


def test_score_against_truth_counts_misses_baselines_au_f1_and_roll():
    from fer_helpers.apply.score import score_against_truth

    truth = pd.DataFrame({"frame": [1, 2, 3, 4], "face": 0,
                          "emotion": ["neutral", "neutral", "happiness", "happiness"],
                          "roll": [0.0, 10.0, -10.0, 0.0],
                          "face_x": 100.0, "face_y": 50.0, "face_w": 80.0, "face_h": 90.0,
                          "AU12_c": [0, 0, 1, 1]})
    df = pd.DataFrame({"frame": [1, 2, 3, 4, 4], "face_id": [0, 0, 0, -1, 1],
                       "success": [1, 1, 1, 0, 1], "face_x": [95.0, 96, 97, np.nan, 400],
                       "face_y": 48.0, "face_w": 90.0, "face_h": 90.0,
                       "pose_Rz": np.radians([1.0, 10.0, 0.0, np.nan, 0.0]),
                       "AU12_c": [0.0, 1, 1, np.nan, 1],
                       "emotion": ["neutral", "happiness", "happiness", None, "happiness"]})
    s = score_against_truth(df, truth, labels=["neutral", "happiness", "sadness", "anger"])
    assert s["frames"] == 4 and s["faces_found"] == 0.75  # frame 4's face is elsewhere
    assert s["emotion_accuracy"] == 0.5 and s["emotion_accuracy_found"] == 2 / 3
    assert s["majority"] == 0.5 and s["chance"] == 0.25 and s["outside_labels"] == 0
    assert s["au_f1"] == {"AU12": pytest.approx(2 / 3)} and s["au_support"] == {"AU12": 1}
    assert s["align_within_3"] == pytest.approx(2 / 3) and s["align_median_error"] == 1.0
    no_aus = score_against_truth(df.drop(columns=["AU12_c", "pose_Rz"]), truth)
    assert no_aus["au_mean_f1"] is None and no_aus["align_within_3"] is None
