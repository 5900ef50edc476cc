"""SynthFACS videos: identities moving through expressions, with per-frame ground truth.

One synthetic person (or several, side by side) goes through a sequence of expressions, each
rising from neutral to its apex, holding and falling back, while the head rolls (up to
``max_roll`` degrees either way), drifts and changes scale; some segments add raised brows
(AU1+2), which take Haar eye detectors' eyes to the brows. The truth of every frame and face
(emotion, AU intensities, the true eye line, the face box) is known exactly and is written to a
CSV beside the video.

Same arguments, same frames and same truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..faces import eye_centres
from .emotions import PROTOTYPES
from .face import AU_CODES
from .generate import identity
from .render import Nuisance, Pose, Scene, render

#: Random-stream key of the videos (1, 2: the FER2013/CK+ domains; 3: micro-expressions).
KEY = 4
#: Default expression sequence (each one segment); ``"brows"`` is neutral with AU1+2 raised.
SEQUENCE = ("happiness", "surprise", "brows", "sadness", "anger", "fear", "disgust",
            "brows", "contempt", "happiness")
_INDEX = {c: i for i, c in enumerate(AU_CODES)}


@dataclass(frozen=True)
class FaceTrack:
    """Where one face lives in the frame: the centre and scale of its path."""

    cx: float  # fraction of the frame width
    cy: float  # fraction of the frame height
    scale: tuple[float, float]  # inter-ocular distance in pixels, at start and end (linear)


def _segment_aus(name: str, rng: np.random.Generator) -> np.ndarray:
    aus = np.zeros((len(AU_CODES), 2))
    if name == "brows":
        aus[[_INDEX[1], _INDEX[2]]] = rng.uniform(4.0, 5.0)
        return aus
    core, optional = PROTOTYPES[name]
    sides = [int(rng.integers(2))] if name == "contempt" else [0, 1]
    for c in list(core) + [c for c in optional if rng.random() < 0.4]:
        aus[_INDEX[c], sides] = rng.uniform(3.0, 5.0)
    if name not in ("surprise", "fear") and rng.random() < 0.5:  # raised brows on top
        aus[[_INDEX[1], _INDEX[2]]] = np.maximum(aus[[_INDEX[1], _INDEX[2]]],
                                                 rng.uniform(3.0, 5.0))
    return aus


def plan(n_frames: int, seed: int = 0, sequence=SEQUENCE, n_faces: int = 1):
    """Per face, per frame: AU intensities ``(F, n, A, 2)`` and emotion names ``(F, n)``.

    The frames are split evenly over the segments; in each, the expression rises over the
    first 30 %, holds, and falls over the last 25 % (raised-cosine ramps). A frame's emotion is
    its segment's while the expression is at least half way up, else ``"neutral"``
    (``"brows"`` segments are neutral throughout).
    """
    aus = np.zeros((n_faces, n_frames, len(AU_CODES), 2))
    emo = np.full((n_faces, n_frames), "neutral", object)
    bounds = np.linspace(0, n_frames, len(sequence) + 1).round().astype(int)
    for f in range(n_faces):
        rng = np.random.default_rng([seed, KEY, 1, f])
        order = list(sequence) if f == 0 else list(rng.permutation(list(sequence)))
        for k, name in enumerate(order):
            lo, hi = bounds[k], bounds[k + 1]
            n = hi - lo
            if n <= 0:
                continue
            t = (np.arange(n) + 0.5) / n
            w = np.ones(n)
            up, down = t < 0.3, t > 0.75
            w[up] = 0.5 - 0.5 * np.cos(np.pi * t[up] / 0.3)
            w[down] = 0.5 + 0.5 * np.cos(np.pi * (t[down] - 0.75) / 0.25)
            aus[f, lo:hi] = w[:, None, None] * _segment_aus(name, rng)[None]
            if name != "brows":
                emo[f, lo:hi][w >= 0.5] = name
    return aus, emo


def render_frames(n_frames: int, size=(640, 360), seed: int = 0, max_roll: float = 25.0,
                  tracks=None, sequence=SEQUENCE, supersample: int = 1, blank=()):
    """Render the frames of a SynthFACS video and their truth (no file written).

    Parameters
    ----------
    n_frames : int
    size : (width, height)
    seed : int
        Decides the identities, expressions, motion and noise.
    max_roll : float
        Largest head roll, degrees (the roll swings between ``-max_roll`` and ``max_roll``).
    tracks : sequence of :class:`FaceTrack`, optional
        One per face (default: one face in the middle, inter-ocular distance about 18 % of
        the frame height). Each face is drawn in its own vertical strip of the frame.
    blank : iterable of int
        0-based frames drawn without any face (background only).

    Returns
    -------
    frames : (n, H, W) uint8
    truth : pandas.DataFrame
        One row per frame and face (none for blank frames): ``frame`` (1-based),
        ``face`` (0-based, strip order), ``timestamp`` is added by :func:`write_video`;
        ``emotion``, ``roll`` (true eye-line angle, degrees, clockwise on screen positive),
        ``eye_lx, eye_ly, eye_rx, eye_ry`` (pixels), ``face_x, face_y, face_w, face_h``
        (landmark box), ``AUxx_r`` (0-5, the larger of the two halves), ``AUxx_c``
        (intensity >= 1).
    """
    import pandas as pd

    w, h = size
    if tracks is None:
        tracks = [FaceTrack(0.5, 0.47, (0.18 * h, 0.18 * h))]
    blank = set(blank)
    aus, emo = plan(n_frames, seed, sequence, len(tracks))
    strips = np.linspace(0, w, len(tracks) + 1).round().astype(int)
    frames = np.zeros((n_frames, h, w), np.uint8)
    rows = []
    bg = 100.0 + 40.0 * np.random.default_rng([seed, KEY, 2]).random()
    for f, tr in enumerate(tracks):
        idt = identity(seed + 1000, f)
        rng = np.random.default_rng([seed, KEY, 3, f])
        phase = rng.uniform(0, 2 * np.pi, 4)
        sw = strips[f + 1] - strips[f]
        for i in range(n_frames):
            if i in blank:
                continue
            u = i / max(1, n_frames - 1)
            t = i / 25.0
            scale = tr.scale[0] + (tr.scale[1] - tr.scale[0]) * u
            roll = max_roll * np.sin(2 * np.pi * t / 4.0 + phase[0])
            cx = tr.cx * sw + 0.06 * sw * np.sin(2 * np.pi * t / 5.3 + phase[1])
            cy = tr.cy * h + 0.04 * h * np.sin(2 * np.pi * t / 3.7 + phase[2])
            yaw = 0.08 * np.sin(2 * np.pi * t / 6.1 + phase[3])
            nz = Nuisance(light_angle=phase[1], light_strength=0.1, ambient=1.0, blur=0.6,
                          noise=2.0, background=bg,
                          noise_seed=int(np.random.default_rng([seed, KEY, 4, f, i])
                                         .integers(2**62)))
            scene = Scene(idt, aus[f, i], Pose(cx, cy, scale, np.deg2rad(roll), yaw), nz,
                          (int(sw), h), supersample)
            img, lm = render(scene)
            frames[i, :, strips[f]:strips[f + 1]] = img
            lm = lm + [strips[f], 0]
            el, er = eye_centres(lm)
            x0, y0 = lm.min(0)
            x1, y1 = lm.max(0)
            inten = aus[f, i].max(axis=1)
            rows.append({"frame": i + 1, "face": f, "emotion": emo[f, i],
                         "roll": float(np.degrees(np.arctan2(er[1] - el[1], er[0] - el[0]))),
                         "eye_lx": el[0], "eye_ly": el[1], "eye_rx": er[0], "eye_ry": er[1],
                         "face_x": x0, "face_y": y0, "face_w": x1 - x0, "face_h": y1 - y0,
                         **{f"AU{c:02d}_r": round(float(v), 2)
                            for c, v in zip(AU_CODES, inten, strict=True)},
                         **{f"AU{c:02d}_c": int(v >= 1.0)
                            for c, v in zip(AU_CODES, inten, strict=True)}})
    for i in blank:
        frames[i] = np.uint8(round(bg))
    truth = pd.DataFrame(rows).sort_values(["frame", "face"], ignore_index=True)
    return frames, truth


def write_video(path, n_frames: int = 250, size=(640, 360), fps: float = 25.0, seed: int = 0,
                max_roll: float = 25.0, tracks=None, sequence=SEQUENCE, blank=(),
                fourcc: str = "mp4v"):
    """Write a SynthFACS video and its truth CSV (``<path stem>.truth.csv`` beside it).

    See :func:`render_frames` for the arguments and the truth columns; ``timestamp`` (seconds,
    ``(frame - 1) / fps``) is added. The video is written through OpenCV (``mp4v`` for .mp4,
    ``MJPG``/``FFV1`` for .avi) as BGR frames.

    Returns
    -------
    truth : pandas.DataFrame
    """
    path = Path(path)
    frames, truth = render_frames(n_frames, size, seed, max_roll, tracks, sequence, blank=blank)
    truth.insert(1, "timestamp", (truth["frame"] - 1) / fps)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {path} with codec {fourcc!r}")
    try:
        for img in frames:
            writer.write(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
    finally:
        writer.release()
    truth.to_csv(truth_path(path), index=False)
    return truth


def truth_path(video) -> Path:
    """The truth CSV written beside ``video``."""
    video = Path(video)
    return video.with_name(video.stem + ".truth.csv")


__all__ = ["SEQUENCE", "FaceTrack", "plan", "render_frames", "truth_path",
           "write_video"]
