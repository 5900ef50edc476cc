"""Face detection for :mod:`fer_helpers.apply`: OpenCV Haar cascades, no download.

The frontal-face cascade finds upright faces only (up to about 15-20 degrees of roll). Two
things make it hold on video:

- a whole-frame search on a downscaled copy (``detect_width`` pixels wide), for new faces;
- a *levelled* search around each tracked face: the region around its last position is
  rotated by its last roll and scaled so the face is about :data:`PATCH_FACE` pixels wide, and
  searched there; a head that keeps rolling stays upright in its own patch.

Where nothing is found at all, the frame is searched again turned by +-:data:`RETRY_ROLL`
degrees (faces that enter the video already tilted).

A :class:`Face` is a square in a rotated frame: centre, side and roll; ``box`` is its
axis-aligned ``(x, y, w, h)`` before rotation (the face box of the output table).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..faces import _cascade

#: Face side (pixels) of the levelled patches searched around tracked faces.
PATCH_FACE = 40
#: Roll (degrees) of the extra whole-frame searches when a frame has no face at all.
RETRY_ROLL = 22.0
#: Haar face boxes: the eye midpoint lies at about this fraction of the box height, the
#: eyes this fraction of the box width apart (measured on SynthFACS; real faces are similar).
BOX_EYE_Y = 0.39
BOX_EYE_DISTANCE = 0.33


@dataclass
class Face:
    """A face found in a frame (pixel coordinates of the frame)."""

    cx: float
    cy: float
    size: float  # side of the Haar box, pixels
    roll: float  # degrees, clockwise on screen: the rotation of the frame it was found in
    confidence: float  # 0-1, from the number of merged Haar windows
    tracked: bool = False  # found near a tracked face (its roll is a close prior)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """``(x, y, w, h)``: the square before rotation."""
        return (self.cx - self.size / 2, self.cy - self.size / 2, self.size, self.size)


def _confidence(neighbours) -> float:
    """``1 - exp(-n / 8)`` of the number of raw detections merged into a box."""
    return float(1.0 - np.exp(-float(neighbours) / 8.0))


def rotation(centre, roll: float, scale: float, out_centre) -> np.ndarray:
    """2x3 matrix: rotate by ``-roll`` degrees (levelling a face rolled by ``roll``) about
    ``centre``, scale, and put ``centre`` at ``out_centre``."""
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(roll), float(scale))
    m[:, 2] += np.asarray(out_centre, float) - np.asarray(centre, float)
    return m


def _invert(m: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(m)


def _faces_in(grey: np.ndarray, min_size: int, max_size: int | None = None,
              neighbours: int = 4, scale: float = 1.12) -> list[tuple[np.ndarray, float]]:
    kw = {"maxSize": (max_size, max_size)} if max_size else {}
    rects, counts = _cascade("haarcascade_frontalface_default.xml").detectMultiScale2(
        grey, scaleFactor=scale, minNeighbors=neighbours, minSize=(min_size, min_size), **kw)
    return [(np.asarray(r, float), _confidence(c)) for r, c in zip(rects, counts, strict=True)]


def detect_frame(grey: np.ndarray, detect_width: int = 320, min_face: int = 24,
                 retry: bool = True) -> list[Face]:
    """All faces of a grey frame: upright search on a downscaled copy, then (if none and
    ``retry``) searches with the frame turned by +-:data:`RETRY_ROLL`."""
    h, w = grey.shape
    s = min(1.0, detect_width / w)
    small = cv2.resize(grey, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) \
        if s < 1 else grey
    small = cv2.equalizeHist(small)
    mins = max(20, round(min_face * s))
    out = [Face((x + bw / 2) / s, (y + bh / 2) / s, bw / s, 0.0, c)
           for (x, y, bw, bh), c in _faces_in(small, mins)]
    if out or not retry:
        return out
    sh, sw = small.shape
    c = (sw / 2, sh / 2)
    for roll in (RETRY_ROLL, -RETRY_ROLL):
        m = rotation(c, roll, 1.0, c)
        turned = cv2.warpAffine(small, m, (sw, sh), borderMode=cv2.BORDER_REPLICATE)
        inv = _invert(m)
        for (x, y, bw, bh), conf in _faces_in(turned, mins):
            px, py = inv @ (x + bw / 2, y + bh / 2, 1.0)
            out.append(Face(px / s, py / s, bw / s, roll, conf))
        if out:
            break
    return out


def detect_near(grey: np.ndarray, face: Face, search: float = 1.7) -> Face | None:
    """Search a levelled patch around a tracked ``face`` (rotated by its roll, the face
    about :data:`PATCH_FACE` pixels wide, ``search`` times its size). ``None`` if not found."""
    scale = PATCH_FACE / face.size
    side = int(round(PATCH_FACE * search))
    m = rotation((face.cx, face.cy), face.roll, scale, (side / 2, side / 2))
    patch = cv2.warpAffine(grey, m, (side, side), flags=cv2.INTER_AREA if scale < 1
                           else cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    patch = cv2.equalizeHist(patch)
    lo, hi = max(24, int(PATCH_FACE * 0.65)), int(PATCH_FACE * 1.5)
    found = _faces_in(patch, lo, hi, neighbours=3)
    if not found:  # a finer, more permissive search, still only around the tracked face
        found = _faces_in(patch, lo, hi, neighbours=1, scale=1.05)
    if not found:
        return None
    # the one nearest the expected place and size
    (x, y, bw, bh), conf = min(found, key=lambda f: np.hypot(f[0][0] + f[0][2] / 2 - side / 2,
                                                             f[0][1] + f[0][3] / 2 - side / 2)
                               + abs(f[0][2] - PATCH_FACE))
    px, py = _invert(m) @ (x + bw / 2, y + bh / 2, 1.0)
    return Face(float(px), float(py), bw / scale, face.roll, conf, tracked=True)


def dedupe(faces: list[Face], iou: float = 0.3) -> list[Face]:
    """Drop faces overlapping a more confident one by more than ``iou``."""
    from .track import box_iou

    keep: list[Face] = []
    for f in sorted(faces, key=lambda f: -f.confidence):
        if all(box_iou(f.box, k.box) <= iou for k in keep):
            keep.append(f)
    return keep
