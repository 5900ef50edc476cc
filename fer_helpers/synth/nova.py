"""A NovaEmotions-like SynthFACS domain: spontaneous faces of people playing a game.

NovaEmotions (Mourão & Magalhães 2013) is not distributed; the book reads it, like the
Toronto Face Dataset, as a folder of face images per emotion class. This domain differs from
the CK+ and FER2013 presets on purpose, so that a cross-dataset matrix is not flat:

- **pose**: roll ±12° and yaw ±0.4 rad (CK+ ±5°, 0.12) and looser framing than CK+, the
  face as large in the 48x48 crop the loader makes as a FER2013 face;
- **lighting**: one room per player (a session light direction, strength and background
  shared by the player's images, jittered per image), side light up to 0.5 (CK+ 0.15,
  FER2013 0.45);
- **intensity**: spontaneous, so more varied: core AUs at 2-5 (CK+ 3-5), scaled by a
  per-image gain of 0.9-1.0 (fractional intensities), and more unrelated AUs (talking,
  concentrating);
- **occlusion**: a small hand at the side of the lower face, over a jaw line or a mouth
  corner (15 %), or a tinted glasses band across the eyes, eyes still visible through it
  (12 %): most AUs stay visible;
- **colour frames**: images are written as colour (BGR) PNGs with a per-player webcam white
  balance; loaders read them grey or colour;
- **classes**: the seven basic emotions with neutral, no contempt, with game-like frequencies
  (neutral and happiness common); folder names use everyday spellings (``happy``, ``sad``,
  ``angry``...), which the folder loader maps by name.

These ranges were set so that the paper CNN learns the domain (a first version, with smaller
faces, ±22° roll, yaw 0.7, light up to 0.85 and intensities 2-4 x 0.55-1.0, kept it at the
majority baseline on the training side too); harder nuisances than these made a 10-epoch CNN
on 120 players stay at the majority baseline again.

Identities are drawn from their own random stream (never the CK+ / FER2013 people of the same
seed). Writing is deterministic: the same seed and sizes give the same bytes.

Layout written by :func:`write_nova`::

    root/<emotion folder>/P007_03.png   one face per file, 64x64 colour
    root/labels.csv                    path,emotion,subject (the loader's optional CSV)
    root/synthfacs_truth.csv           per image: subject, emotion, occlusion, gain, AUs

Results on it are results on synthetic data, not on NovaEmotions.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

import cv2
import numpy as np

from ..io import atomic_path
from ..labels import EMOTIONS
from .emotions import sample_aus
from .face import AU_CODES
from .render import Identity, Nuisance, Pose, Scene, render

#: Folder name per canonical emotion (everyday spellings; :func:`fer_helpers.labels.canonical`
#: maps them back).
FOLDER_NAMES = {"neutral": "neutral", "anger": "angry", "disgust": "disgusted",
                "fear": "fearful", "happiness": "happy", "sadness": "sad",
                "surprise": "surprised"}
#: Class frequencies of a game session (a guess: NovaEmotions' own are not published).
WEIGHTS = {"neutral": 0.26, "happiness": 0.24, "surprise": 0.13, "anger": 0.10,
           "sadness": 0.09, "disgust": 0.09, "fear": 0.09}
_KEY = 5  # SynthFACS stream key (fer2013 1, ckplus 2, micro 3, video 4): shared with none


@dataclass(frozen=True)
class NovaStyle:
    """Ranges of the NovaEmotions-like domain (see the module docstring)."""

    size: int = 64  # square output, pixels
    #: pixels per face unit at ``size``; the loader's 48x48 resize makes it 15-18.4, a
    #: FER2013-sized face (14.5-17.5)
    scale: tuple[float, float] = (20.0, 24.5)
    centre_jitter: float = 3.0
    roll_deg: float = 12.0
    yaw: float = 0.4  # radians of pseudo-yaw
    light: tuple[float, float] = (0.1, 0.5)
    blur: tuple[float, float] = (0.3, 0.9)
    noise: tuple[float, float] = (1.5, 5.0)
    intensity: tuple[int, int] = (2, 5)
    gain: tuple[float, float] = (0.9, 1.0)
    n_unrelated: float = 1.0
    p_hand: float = 0.15
    p_glasses: float = 0.12
    hand_size: float = 0.4  # hand half-length, inter-ocular distances
    glasses_alpha: tuple[float, float] = (0.3, 0.55)  # band opacity: eyes show through


def _session(seed: int, subject: int):
    rng = np.random.default_rng([seed, _KEY, 700_000 + subject])
    ident = Identity.sample(np.random.default_rng([seed, _KEY, 500_000 + subject]))
    return ident, {"angle": rng.uniform(0, 2 * np.pi), "light": rng.uniform(0, 1),
                   "background": rng.uniform(15, 240),
                   "tint": np.array([rng.uniform(0.72, 0.95), rng.uniform(0.86, 1.0),
                                     rng.uniform(1.0, 1.18)])}


def _occlude(img: np.ndarray, lm: np.ndarray, rng, style: NovaStyle, skin: float) -> str:
    """Draw a hand or a glasses band on ``img`` (in place); returns what was drawn."""
    r = rng.random()
    iod = float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))
    if r < style.p_hand:
        # a hand: a skin-toned blob with finger lines over a corner of the lower face
        # at the side of the lower face: a jaw line or a mouth corner, never both corners
        anchor = lm[int(rng.choice([3, 4, 5, 11, 12, 13, 48, 54]))]
        out = anchor - lm[27:36].mean(0)  # away from the nose: the hand sits at the edge
        out = out / max(float(np.linalg.norm(out)), 1e-6)
        centre = anchor + out * 0.25 * iod + rng.normal(0, 0.08 * iod, 2)
        h = style.hand_size * iod
        axes = (int(max(2, h * rng.uniform(0.85, 1.15))),
                int(max(2, 0.7 * h * rng.uniform(0.85, 1.15))))
        angle = float(rng.uniform(0, 180))
        tone = float(np.clip(skin * rng.uniform(0.8, 1.1), 0, 255))
        cv2.ellipse(img, tuple(int(v) for v in centre), axes, angle, 0, 360, tone, -1,
                    cv2.LINE_AA)
        for k in (-1, 0, 1):
            t = np.deg2rad(angle)
            off = np.array([-np.sin(t), np.cos(t)]) * k * axes[1] * 0.45
            d = np.array([np.cos(t), np.sin(t)]) * axes[0] * 0.8
            p0, p1 = centre + off - d, centre + off + d
            cv2.line(img, tuple(int(v) for v in p0), tuple(int(v) for v in p1),
                     tone * 0.75, 1, cv2.LINE_AA)
        return "hand"
    if r < style.p_hand + style.p_glasses:
        # glasses: a tinted, partly transparent band through both eyes
        left, right = lm[36:42].mean(0), lm[42:48].mean(0)
        d = (right - left) / max(iod, 1e-6)
        a, b = left - d * 0.55 * iod, right + d * 0.55 * iod
        band = np.zeros_like(img)
        cv2.line(band, tuple(int(v) for v in a), tuple(int(v) for v in b), 255,
                 max(2, int(round(0.28 * iod))), cv2.LINE_AA)
        alpha = band.astype(np.float32) / 255.0 * rng.uniform(*style.glasses_alpha)
        dark = rng.uniform(15, 60)
        img[:] = np.round(img * (1 - alpha) + dark * alpha).astype(np.uint8)
        return "glasses"
    return ""


def sample_face(seed: int, subject: int, k: int, style: NovaStyle = NovaStyle()):
    """Image ``k`` of player ``subject``: (BGR image, emotion name, AUs (A, 2), occlusion,
    gain). Depends only on ``(seed, subject, k)``."""
    ident, sess = _session(seed, subject)
    rng = np.random.default_rng([seed, _KEY, subject, k])
    names = list(WEIGHTS)
    p = np.array(list(WEIGHTS.values()))
    emotion = names[int(rng.choice(len(names), p=p / p.sum()))]
    gain = rng.uniform(*style.gain)
    aus = sample_aus(emotion, rng, style.intensity, n_unrelated=style.n_unrelated) * gain
    u = rng.uniform
    s, j = style.size, style.centre_jitter
    pose = Pose(s / 2 + u(-j, j), s * 0.40 + u(-j, j), u(*style.scale),
                np.deg2rad(u(-style.roll_deg, style.roll_deg)), u(-style.yaw, style.yaw))
    lo, hi = style.light
    nz = Nuisance(light_angle=sess["angle"] + u(-0.4, 0.4),
                  light_strength=lo + (hi - lo) * np.clip(sess["light"] + u(-0.15, 0.15), 0, 1),
                  ambient=u(0.8, 1.1), blur=u(*style.blur), noise=u(*style.noise),
                  background=float(np.clip(sess["background"] + u(-15, 15), 0, 255)),
                  noise_seed=int(rng.integers(2**62)))
    grey, lm = render(Scene(ident, aus, pose, nz, (s, s), 2))
    occlusion = _occlude(grey, lm, rng, style, ident.skin)
    tint = sess["tint"] * u(0.96, 1.04, 3)
    bgr = np.clip(grey[..., None].astype(np.float32) * tint, 0, 255).astype(np.uint8)
    return bgr, emotion, aus, occlusion, gain


def write_nova(root, n_subjects: int = 20, per_subject=(4, 8), seed: int = 0,
               style: NovaStyle = NovaStyle()):
    """Write a NovaEmotions-like folder-per-class tree (see the module docstring).

    The tree is written to a temporary folder beside ``root`` and renamed into place, so a
    reader never sees half a dataset. Returns the ground truth (one row per image).
    """
    import pandas as pd

    rng = np.random.default_rng([seed, _KEY, 99])
    counts = rng.integers(per_subject[0], per_subject[1] + 1, size=n_subjects)
    rows = []
    with atomic_path(root) as tmp:
        for s in range(n_subjects):
            for k in range(int(counts[s])):
                img, emotion, aus, occ, gain = sample_face(seed, s, k, style)
                rel = f"{FOLDER_NAMES[emotion]}/P{s + 1:03d}_{k + 1:02d}.png"
                (tmp / FOLDER_NAMES[emotion]).mkdir(parents=True, exist_ok=True)
                ok, buf = cv2.imencode(".png", img)
                if not ok:
                    raise RuntimeError(f"PNG encoding failed for {rel}")
                (tmp / rel).write_bytes(buf.tobytes())
                peak = aus.max(axis=1)
                rows.append({"path": rel, "subject": f"P{s + 1:03d}", "emotion": emotion,
                             "emotion_code": EMOTIONS.index(emotion), "occlusion": occ,
                             "gain": round(float(gain), 4),
                             **{f"AU{c}": round(float(peak[i]), 3)
                                for i, c in enumerate(AU_CODES)}})
        with open(tmp / "labels.csv", "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["path", "emotion", "subject"])
            w.writerows([r["path"], FOLDER_NAMES[r["emotion"]], r["subject"]] for r in rows)
        truth = pd.DataFrame(rows)
        truth.to_csv(tmp / "synthfacs_truth.csv", index=False)
    return truth
