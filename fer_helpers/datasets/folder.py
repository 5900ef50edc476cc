"""Folder-per-class datasets (NovaEmotions, TFD and the like).

``root/<emotion>/<image>`` with any common emotion spelling as folder name, or a CSV of
``path,emotion[,subject]`` (paths relative to ``root``) where subjects are known.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from ..faces import Crop, align_many
from ..labels import CKPLUS, canonical
from .base import DatasetFormatError, FaceDataset
from .images import is_image, read_image


def _entries_from_csv(root: Path, csv_path: Path):
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        need = {"path", "emotion"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise DatasetFormatError(csv_path, f"header must have columns path,emotion"
                                     f"[,subject]; got {reader.fieldnames}", 1)
        for row in reader:
            line = reader.line_num
            try:
                emo = canonical(row["emotion"])
            except ValueError as e:
                raise DatasetFormatError(csv_path, str(e), line) from None
            p = root / row["path"]
            if not p.is_file():
                raise DatasetFormatError(csv_path, f"image {p} does not exist", line)
            yield p, emo, (row.get("subject") or None)


def _entries_from_folders(root: Path):
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not dirs:
        raise DatasetFormatError(root, "expected one subfolder per emotion class")
    for d in dirs:
        try:
            emo = canonical(d.name)
        except ValueError as e:
            raise DatasetFormatError(d, f"folder name is not an emotion: {e}") from None
        images = [f for f in sorted(d.iterdir()) if is_image(f)]
        if not images:
            raise DatasetFormatError(d, f"class folder {d.name!r} holds no image file "
                                     "(add images or remove the folder)")
        for f in images:
            yield f, emo, None


def load_folder(root, csv_file=None, crop: Crop | None = None, size: int = 48,
                grey: bool = True) -> FaceDataset:
    """Load a folder-per-class dataset (or one listed in a CSV).

    Parameters
    ----------
    root : path
        The dataset folder.
    csv_file : path, optional
        CSV with columns ``path,emotion[,subject]``.
    crop : Crop, optional
        Align by face detection; images with no face found go to ``rejected``. Without it,
        images are assumed to be face crops already and resized to ``size`` x ``size``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(root, "not a folder")
    entries = list(_entries_from_csv(root, Path(csv_file)) if csv_file
                   else _entries_from_folders(root))
    if not entries:
        raise DatasetFormatError(root, "no images found")
    imgs = [read_image(p, grey) for p, _, _ in entries]
    paths = np.array([str(p) for p, _, _ in entries])
    if crop is not None:
        arr, keep, _, report = align_many(imgs, paths, None, crop)
        rejected = report.failed.rename(columns={"method": "reason"})[["path", "reason"]]
    else:
        arr = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA)
                        for im in imgs])
        keep, rejected = np.arange(len(imgs)), None
    subjects = [s for _, _, s in entries]
    kw = {} if rejected is None else {"rejected": rejected}
    return FaceDataset(
        images=arr, labels=np.array([CKPLUS.code(e) for _, e, _ in entries], int)[keep],
        label_space=CKPLUS, paths=paths[keep],
        subjects=np.array(subjects, dtype=object)[keep] if all(subjects) else None,
        name=f"folder ({root.name})", **kw)
