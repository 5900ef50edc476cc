"""Shared fixtures: tiny datasets written by hand in the exact native formats."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_helpers.synth import TEMPLATE

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _keep_the_dtype_policy():
    """Keras' global dtype policy as it was before each test: ``training.fit`` sets it (to
    ``mixed_bfloat16`` under ``precision="auto"`` on a bf16 CPU), and a test that leaves it
    changed must not change the float32 tolerances of the tests after it."""
    import keras

    before = keras.mixed_precision.global_policy().name
    yield
    keras.mixed_precision.set_global_policy(before)


def sci(*values) -> str:
    """A line as CK+ writes numbers: three spaces, then %.7e, per value."""
    return "".join(f"   {v:.7e}" for v in values) + "\n"


def face_landmarks(cx=320.0, cy=220.0, scale=100.0) -> np.ndarray:
    return np.round(TEMPLATE * scale + [cx, cy], 2)


def write_ck_sequence(root: Path, subject: str, seq: str, n_frames: int = 4, emotion=None,
                      facs=None, colour: bool = False, size=(640, 490),
                      emotion_dir: str = "Emotion") -> list[Path]:
    """One CK+ sequence: frames, landmarks per frame, FACS and (optional) Emotion at peak."""
    img_dir = root / "cohn-kanade-images" / subject / seq
    img_dir.mkdir(parents=True)
    lm_dir = root / "Landmarks" / subject / seq
    lm_dir.mkdir(parents=True)
    frames = []
    for t in range(1, n_frames + 1):
        stem = f"{subject}_{seq}_{t:08d}"
        img = np.full((size[1], size[0]), 90 + 10 * t, np.uint8)
        if colour:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        cv2.imwrite(str(img_dir / f"{stem}.png"), img)
        (lm_dir / f"{stem}_landmarks.txt").write_text(
            "".join(sci(x, y) for x, y in face_landmarks(cx=300.0 + t)))
        frames.append(img_dir / f"{stem}.png")
    last = frames[-1].stem
    if facs is not None:
        d = root / "FACS" / subject / seq
        d.mkdir(parents=True)
        (d / f"{last}_facs.txt").write_text("".join(sci(a, i) for a, i in facs))
    if emotion is not None:
        d = root / emotion_dir / subject / seq
        d.mkdir(parents=True)
        (d / f"{last}_emotion.txt").write_text(sci(emotion))
    return frames


@pytest.fixture
def ck_root(tmp_path) -> Path:
    """A CK+ tree with the quirks of the real one."""
    root = tmp_path / "CK+"
    write_ck_sequence(root, "S005", "001", emotion=3, facs=[(9, 2), (17, 0), (25, 0)])
    write_ck_sequence(root, "S010", "002", emotion=5, facs=[(12, 4)], colour=True)  # one AU
    write_ck_sequence(root, "S010", "004", emotion=None, facs=[(1, 3), (2, 3)])  # unlabelled
    (root / "Emotion" / "S010" / "004").mkdir(parents=True)  # empty Emotion folder
    write_ck_sequence(root, "S011", "001", emotion=7, facs=[(1, 2), (2, 3), (5, 1), (27, 4)],
                      size=(640, 480))
    (root / "cohn-kanade-images" / "S005" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "cohn-kanade-images" / "S005" / "001" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return root


def fer_rows(n: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    usages = ["Training"] * (n - 2) + ["PublicTest", "PrivateTest"]
    for i in range(n):
        yield [i % 7, " ".join(map(str, rng.integers(0, 256, 48 * 48))), usages[i]]


def write_fer(path: Path, rows, header=("emotion", "pixels", "Usage")) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def fer_csv(tmp_path) -> Path:
    return write_fer(tmp_path / "fer2013.csv", fer_rows())


@pytest.fixture(scope="session")
def built_book():
    """Execute every chapter under profile ci with papermill, then build the book strictly."""
    from fer_helpers.book import build, run_notebooks

    times = run_notebooks("ci", root=ROOT)
    index = build(ROOT)
    return {"times": dict(times), "index": index}


def tree_digest(root: Path) -> str:
    """SHA-256 over every file below ``root`` (relative names and bytes), in sorted order:
    equal digests mean byte-identical trees."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()
