"""Alignment from landmarks and from detection; no face is reported, never guessed."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_helpers.faces import Crop, align_detect, align_landmarks, align_many, detect_face
from fer_helpers.synth import Identity, Pose, Scene, render


def _astronaut() -> np.ndarray:
    skimage = pytest.importorskip("skimage", reason="scikit-image ships the test photo")
    path = Path(skimage.__file__).parent / "data" / "astronaut.png"
    img = cv2.imread(str(path))
    assert img is not None, f"{path} not readable"
    return img


def test_align_from_landmarks_levels_and_scales_the_eyes():
    idt = Identity.sample(np.random.default_rng(0))
    img, lm = render(Scene(idt, np.zeros((17, 2)), Pose(300, 200, 90, roll=0.25),
                           size=(640, 490), supersample=1))
    crop = Crop(size=64, eye_distance=0.4, eye_y=0.35)
    out, lm2 = align_landmarks(img, lm, crop)
    assert out.shape == (64, 64)
    left, right = lm2[36:42].mean(0), lm2[42:48].mean(0)
    np.testing.assert_allclose(left[1], right[1], atol=1e-6)
    np.testing.assert_allclose(right[0] - left[0], 0.4 * 64, atol=1e-6)
    np.testing.assert_allclose((left + right) / 2, [32, 0.35 * 64], atol=1e-6)
    # the crop really shows the eyes there: dark irises at the eye centres
    assert out[int(left[1]), int(left[0])] < out[int(0.85 * 64), int(left[0])]


def test_detection_finds_a_real_face():
    img = _astronaut()
    det = detect_face(img)
    assert det is not None
    x, y, w, h = det.box
    assert 150 < x + w / 2 < 300 and 50 < y + h / 2 < 200 and w > 80  # her face
    out, method = align_detect(img, Crop(size=48))
    assert out.shape == (48, 48, 3) and method in ("eyes", "box")  # colour in, colour out


def test_no_face_is_reported_not_cropped():
    noise = np.random.default_rng(1).integers(0, 255, (200, 200), dtype=np.uint8)
    out, method = align_detect(noise)
    assert out is None and method == "no face found"
    img = cv2.cvtColor(_astronaut(), cv2.COLOR_BGR2GRAY)
    arr, keep, lms, report = align_many([noise, img], ["noise.png", "astro.png"])
    assert keep.tolist() == [1] and arr.shape == (1, 48, 48)
    assert report.failed["path"].tolist() == ["noise.png"]
    assert lms is None


def test_align_many_mixes_landmarks_and_detection():
    idt = Identity.sample(np.random.default_rng(2))
    img, lm = render(Scene(idt, np.zeros((17, 2)), Pose(64, 60, 30), size=(128, 128)))
    noise = np.random.default_rng(1).integers(0, 255, (128, 128), dtype=np.uint8)
    arr, keep, lms, report = align_many([img, noise], ["a", "b"], [lm, None], Crop(size=32))
    assert keep.tolist() == [0] and lms.shape == (1, 68, 2) and not np.isnan(lms).any()
    assert report.table["method"].tolist() == ["landmarks", "no face found"]
