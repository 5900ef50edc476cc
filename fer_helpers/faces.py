"""Face crop and alignment: from 68 landmarks, or from OpenCV Haar face/eye detection.

Every aligned crop in the book uses one frame (:class:`Crop`): eyes level, their midpoint at
``(0.5, eye_y)`` of the crop, inter-ocular distance ``eye_distance`` of the crop width. An
image in which no face is found is *reported* (:class:`AlignReport`), never cropped blindly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Default aligned frame, shared with SynthFACS' reference region masks.
EYE_Y = 0.4
EYE_DISTANCE = 0.36


@dataclass(frozen=True)
class Crop:
    """Output frame of an aligned face crop."""

    size: int = 48
    eye_distance: float = EYE_DISTANCE  # fraction of ``size``
    eye_y: float = EYE_Y  # fraction of ``size``


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Image-left and image-right eye centres from 68 iBUG landmarks."""
    lm = np.asarray(landmarks, float)
    return lm[36:42].mean(0), lm[42:48].mean(0)


def eye_transform(left: np.ndarray, right: np.ndarray, crop: Crop) -> np.ndarray:
    """2x3 similarity matrix taking the two eye centres to their place in ``crop``."""
    d = np.asarray(right, float) - np.asarray(left, float)
    dist = float(np.hypot(*d))
    if dist < 1e-6:
        raise ValueError("eye centres coincide: cannot align")
    scale = crop.eye_distance * crop.size / dist
    angle = np.arctan2(d[1], d[0])
    c, s = scale * np.cos(-angle), scale * np.sin(-angle)
    mid = (np.asarray(left, float) + np.asarray(right, float)) / 2
    dst = np.array([0.5 * crop.size, crop.eye_y * crop.size])
    rot = np.array([[c, -s], [s, c]])
    return np.hstack([rot, (dst - rot @ mid)[:, None]])


def warp(image: np.ndarray, mat: np.ndarray, size: int) -> np.ndarray:
    """Apply a 2x3 similarity, shrinking with area averaging first to avoid aliasing."""
    scale = float(np.sqrt(abs(np.linalg.det(mat[:, :2]))))
    img = image
    while scale < 0.5:  # pyrDown keeps small crops of big frames from aliasing
        img = cv2.pyrDown(img)
        mat = mat @ np.array([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 1]])
        scale *= 2.0
    return cv2.warpAffine(img, mat, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def align_landmarks(image: np.ndarray, landmarks: np.ndarray, crop: Crop = Crop()):
    """Align a face from its 68 landmarks.

    Returns
    -------
    aligned : numpy.ndarray
        ``(size, size[, 3])`` crop.
    landmarks : numpy.ndarray
        ``(68, 2)`` landmarks in crop coordinates.
    """
    lm = np.asarray(landmarks, float)
    if lm.shape != (68, 2):
        raise ValueError(f"expected 68x2 landmarks, got shape {lm.shape}")
    mat = eye_transform(*eye_centres(lm), crop)
    out = warp(image, mat, crop.size)
    return out, lm @ mat[:, :2].T + mat[:, 2]


_CASCADES: dict[str, cv2.CascadeClassifier] = {}


def _cascade(name: str) -> cv2.CascadeClassifier:
    if name not in _CASCADES:
        path = cv2.data.haarcascades + name
        clf = cv2.CascadeClassifier(path)
        if clf.empty():
            raise RuntimeError(f"OpenCV Haar cascade {path} could not be loaded "
                               "(opencv-python-headless 5.x ships none: install <5)")
        _CASCADES[name] = clf
    return _CASCADES[name]


@dataclass(frozen=True)
class Detection:
    """A detected face box (x, y, w, h) and, if both were found, its eye centres."""

    box: tuple[int, int, int, int]
    eyes: tuple[np.ndarray, np.ndarray] | None


def detect_face(image: np.ndarray, min_size: int = 24) -> Detection | None:
    """Largest frontal face (Viola-Jones Haar cascade) and its eyes, or ``None``."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    grey = cv2.equalizeHist(grey)
    faces = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(
        grey, scaleFactor=1.1, minNeighbors=5, minSize=(min_size, min_size))
    if len(faces) == 0:
        return None
    x, y, w, h = (int(v) for v in max(faces, key=lambda f: f[2] * f[3]))
    upper = grey[y:y + h // 2 + h // 8, x:x + w]
    eyes = _cascade("haarcascade_eye.xml").detectMultiScale(
        upper, scaleFactor=1.1, minNeighbors=3, minSize=(max(4, w // 10),) * 2)
    centres = [np.array([x + ex + ew / 2, y + ey + eh / 2]) for ex, ey, ew, eh in eyes]
    left = [c for c in centres if c[0] < x + w / 2]
    right = [c for c in centres if c[0] >= x + w / 2]
    pair = None
    if left and right:
        pair = (min(left, key=lambda c: c[1]), min(right, key=lambda c: c[1]))
    return Detection((x, y, w, h), pair)


def align_detect(image: np.ndarray, crop: Crop = Crop()) -> tuple[np.ndarray | None, str]:
    """Align a face found by detection.

    Returns
    -------
    aligned : numpy.ndarray or None
        ``None`` when no face was found.
    method : str
        ``'eyes'`` (aligned on detected eyes), ``'box'`` (eyes not found: placed from the
        face box, no roll correction) or ``'no face found'``.
    """
    det = detect_face(image)
    if det is None:
        return None, "no face found"
    if det.eyes is not None:
        return warp(image, eye_transform(*det.eyes, crop), crop.size), "eyes"
    x, y, w, h = det.box  # Haar boxes put the eyes at about 0.38 h, 0.4 w apart
    left = np.array([x + 0.3 * w, y + 0.38 * h])
    right = np.array([x + 0.7 * w, y + 0.38 * h])
    return warp(image, eye_transform(left, right, crop), crop.size), "box"


@dataclass
class AlignReport:
    """Which images were aligned, how, and which were dropped (with the reason)."""

    table: object  # pandas.DataFrame with columns path, method, ok

    @property
    def failed(self):
        """Rows of the images with no face found (a DataFrame)."""
        return self.table[~self.table["ok"]]

    def __repr__(self) -> str:
        counts = self.table["method"].value_counts().to_dict()
        return f"AlignReport({len(self.table)} images: {counts})"


def align_many(images, paths, landmarks=None, crop: Crop = Crop()):
    """Align a list of images, by landmarks where given, else by detection.

    Returns
    -------
    aligned : numpy.ndarray
        Crops of the images where a face was found.
    keep : numpy.ndarray
        Indices (into the inputs) of those images.
    landmarks : numpy.ndarray or None
        Their landmarks in crop coordinates (when landmarks were given).
    report : AlignReport
    """
    out, keep, lms, rows = [], [], [], []
    for i, img in enumerate(images):
        if landmarks is not None and landmarks[i] is not None:
            a, lm = align_landmarks(img, landmarks[i], crop)
            method = "landmarks"
            lms.append(lm)
        else:
            a, method = align_detect(img, crop)
            lms.append(np.full((68, 2), np.nan))
        rows.append({"path": str(paths[i]), "method": method, "ok": a is not None})
        if a is not None:
            out.append(a)
            keep.append(i)
        else:
            lms.pop()
    import pandas as pd  # imported here: SynthFACS workers import this module, not pandas

    report = AlignReport(pd.DataFrame(rows, columns=["path", "method", "ok"]))
    arr = np.stack(out) if out else np.zeros((0, crop.size, crop.size), np.uint8)
    lm_arr = np.stack(lms) if landmarks is not None and lms else None  # NaN: detected
    return arr, np.array(keep, int), lm_arr, report
