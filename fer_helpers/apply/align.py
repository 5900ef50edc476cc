"""Eye alignment of detected faces, robust to head roll and raised brows.

For each face, a *levelled patch* is cut (the face box rotated by the roll it was found at,
scaled to :data:`PATCH` pixels) and the Haar eye cascade searched in its upper part. Then:

- **the eye pair is chosen by geometry, not by height.** Every image-left x image-right pair
  of eye candidates is scored by how far its midpoint lies from where Haar boxes put the eyes
  (:data:`~fer_helpers.apply.detect.BOX_EYE_Y`), how far its span is from the expected
  inter-ocular distance, and how tilted it is in the levelled patch. A brow (a dark bar above
  the eye that the eye cascade also fires on, more so when the brows are raised) sits about a
  third of the inter-ocular distance higher, so a brow-eye pair loses to the eye-eye pair; the
  old rule (the topmost candidate in each half) picked exactly those brows and over-rotated.
- **the eye line is refined once**: when the pair is tilted by more than 4 degrees in the
  patch, a new patch is cut at the corrected roll and the eyes searched again (the cascade
  itself is most reliable on level eyes).
- **without two eyes, the face box still gets a roll**: estimated from the face's mirror
  symmetry (the rotation of the patch that best matches its own mirror image), the eyes then
  placed where Haar boxes put them.

The crop follows :class:`fer_helpers.faces.Crop` (eyes level at ``eye_y``, ``eye_distance``
apart), exactly as the dataset loaders crop their faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..faces import Crop, _cascade, eye_transform, warp
from .detect import BOX_EYE_DISTANCE, BOX_EYE_Y, Face, rotation

#: Side of the levelled patch (pixels) in which eyes are searched.
PATCH = 96
#: Largest tilt (degrees) of an eye pair inside a levelled patch that is accepted.
MAX_TILT = 16.0
#: Largest tilt (degrees) of an eye pair in the patch levelled by the symmetry estimate.
PAIR_TOLERANCE = 5.0


@dataclass
class Aligned:
    """An aligned crop and how it was obtained."""

    crop: np.ndarray  # (size, size) or (size, size, 3) uint8
    roll: float  # estimated roll of the face, degrees, clockwise on screen
    method: str  # "eyes" or "box"
    eyes: tuple[np.ndarray, np.ndarray]  # image-left, image-right eye centres (frame px)


def _patch(grey: np.ndarray, face: Face, roll: float):
    m = rotation((face.cx, face.cy), roll, PATCH / face.size, (PATCH / 2, PATCH / 2))
    scale = PATCH / face.size
    p = cv2.warpAffine(grey, m, (PATCH, PATCH), flags=cv2.INTER_AREA if scale < 1
                       else cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return p, m


def eye_candidates(patch: np.ndarray) -> np.ndarray:
    """Centres ``(k, 2)`` of Haar eye detections in the upper part of a levelled patch."""
    top, bottom = int(0.12 * PATCH), int(0.64 * PATCH)
    region = cv2.equalizeHist(patch[top:bottom])
    eyes = _cascade("haarcascade_eye.xml").detectMultiScale(
        region, scaleFactor=1.15, minNeighbors=3, minSize=(int(0.16 * PATCH),) * 2,
        maxSize=(int(0.34 * PATCH),) * 2)
    if len(eyes) == 0:
        return np.zeros((0, 2))
    e = np.asarray(eyes, float)
    return np.stack([e[:, 0] + e[:, 2] / 2, top + e[:, 1] + e[:, 3] / 2], axis=1)


def choose_pair(cands: np.ndarray):
    """The most plausible (image-left, image-right) eye pair of a levelled patch, or None.

    Score (lower is better): midpoint height off :data:`BOX_EYE_Y` (per 0.05 of the patch),
    span off :data:`BOX_EYE_DISTANCE` (per 0.08), tilt (per 8 degrees) and midpoint off the
    centre line (per 0.1). Pairs tilted more than :data:`MAX_TILT` or spanning less than
    0.18 or more than 0.6 of the patch are refused.
    """
    mid = PATCH / 2
    left = [c for c in cands if c[0] < mid]
    right = [c for c in cands if c[0] >= mid]
    best, best_score = None, np.inf
    for a in left:
        for b in right:
            d = b - a
            span = float(np.hypot(*d)) / PATCH
            tilt = float(np.degrees(np.arctan2(d[1], d[0])))
            if abs(tilt) > MAX_TILT or not 0.18 <= span <= 0.6:
                continue
            m = (a + b) / 2 / PATCH
            score = (abs(m[1] - BOX_EYE_Y) / 0.05 + abs(span - BOX_EYE_DISTANCE) / 0.08
                     + abs(tilt) / 8.0 + abs(m[0] - 0.5) / 0.1)
            if score < best_score:
                best, best_score = (a, b), score
    return best


def symmetry_roll(patch: np.ndarray, max_deg: float = 14.0, step: float = 2.0) -> float:
    """Residual roll (degrees) of a levelled face patch from its mirror symmetry.

    For each trial angle the patch is turned back by it and compared with its own mirror
    image (normalised cross-correlation, the mirror axis free to shift by +-10 % of the
    patch); the best angle is refined by a parabola through its neighbours. The mirror image
    of a face turned by ``r`` is turned by ``-r``, so the two match best at ``r``.
    """
    small = cv2.resize(patch, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
    c = (32.0, 32.0)
    angles = np.arange(-max_deg, max_deg + 1e-9, step)
    scores = []
    for a in angles:
        r = cv2.warpAffine(small, cv2.getRotationMatrix2D(c, float(a), 1.0), (64, 64),
                           borderMode=cv2.BORDER_REPLICATE)
        body = r[8:52, 12:52]  # brows to mouth, without most of the sides
        mirror = np.ascontiguousarray(r[8:52, ::-1])
        scores.append(float(cv2.matchTemplate(mirror, body, cv2.TM_CCOEFF_NORMED).max()))
    s = np.asarray(scores)
    k = int(s.argmax())
    if 0 < k < len(s) - 1:
        den = s[k - 1] - 2 * s[k] + s[k + 1]
        off = 0.5 * (s[k - 1] - s[k + 1]) / den if den < 0 else 0.0
        return float(angles[k] + np.clip(off, -1, 1) * step)
    return float(angles[k])


def _to_frame(m: np.ndarray, pt) -> np.ndarray:
    return cv2.invertAffineTransform(m) @ np.array([pt[0], pt[1], 1.0])


def locate_eyes(grey: np.ndarray, face: Face, eyes: bool = True):
    """Eye centres (frame pixels), roll (degrees) and method for one detected face.

    The roll is first corrected by the face's mirror symmetry (:func:`symmetry_roll`) in a
    patch levelled at the roll it was found at; in the patch levelled at that estimate, the
    eye pair (:func:`choose_pair`) must then be level within :data:`PAIR_TOLERANCE` degrees
    to be used (a brow taken for an eye tilts the pair and is refused); it then refines the
    roll and gives the eye positions. Otherwise the eyes are placed where Haar boxes put
    them, on the symmetry's eye line (method ``"box"``).
    """
    patch, m = _patch(grey, face, face.roll)
    # a tracked face's last roll is a close prior: search +-6 degrees around it first
    residual = symmetry_roll(patch, 6.0) if face.tracked else 99.0
    if abs(residual) > 5.0:
        residual = symmetry_roll(patch)
    roll = face.roll + residual
    patch, m = _patch(grey, face, roll)
    if eyes:
        pair = choose_pair(eye_candidates(patch))
        if pair is not None:
            tilt = float(np.degrees(np.arctan2(*(pair[1] - pair[0])[::-1])))
            if abs(tilt) <= PAIR_TOLERANCE:
                return (_to_frame(m, pair[0]), _to_frame(m, pair[1])), roll + tilt, "eyes"
    y = BOX_EYE_Y * PATCH
    half = BOX_EYE_DISTANCE * PATCH / 2
    return ((_to_frame(m, (PATCH / 2 - half, y)), _to_frame(m, (PATCH / 2 + half, y))),
            roll, "box")


def align_face(frame: np.ndarray, grey: np.ndarray, face: Face, crop: Crop = Crop(),
               channels: int = 1, eyes: bool = True) -> Aligned:
    """The aligned crop of ``face`` (grey, or BGR when ``channels == 3``)."""
    centres, roll, method = locate_eyes(grey, face, eyes)
    src = grey if channels == 1 or frame.ndim == 2 else frame
    out = warp(src, eye_transform(centres[0], centres[1], crop), crop.size)
    if channels == 3 and out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    return Aligned(out, roll, method, centres)
