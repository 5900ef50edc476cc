"""Reading image files with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .base import DatasetFormatError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm"}


def read_image(path, grey: bool = True) -> np.ndarray:
    """Read an image as uint8 grey (H, W) or BGR (H, W, 3); colour files are converted."""
    path = Path(path)
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DatasetFormatError(path, "cannot read image (missing, empty or not an image)")
    if img.dtype != np.uint8:
        img = cv2.convertScaleAbs(img, alpha=255.0 / max(1, int(img.max())))
    if img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if grey and img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    elif not grey and img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return img


def is_image(path: Path) -> bool:
    """True for image files by suffix; hidden files (``.DS_Store``) never are."""
    return path.is_file() and not path.name.startswith(".") and \
        path.suffix.lower() in IMAGE_SUFFIXES
