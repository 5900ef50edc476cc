"""FER2013 (``fer2013.csv``) and its FER+ relabelling (``fer2013new.csv``).

References
----------
Goodfellow, I. et al. (2013). Challenges in representation learning: a report on three
machine learning contests. ICONIP.
Barsoum, E. et al. (2016). Training deep networks for facial expression recognition with
crowd-sourced label distribution (FER+). ICMI.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..labels import FER2013, FERPLUS
from .base import DatasetFormatError, FaceDataset

USAGES = ("Training", "PublicTest", "PrivateTest")
_SIDE = 48


def _open_csv(path: Path):
    try:
        f = open(path, newline="")
    except OSError as e:
        raise DatasetFormatError(path, f"cannot open ({e})") from e
    return f


def _header(reader, path: Path, expected: tuple[str, ...]) -> list[str]:
    try:
        head = next(reader)
    except StopIteration:
        raise DatasetFormatError(path, f"empty file; expected header {','.join(expected)}",
                                 1) from None
    head = [h.strip() for h in head]
    if head[0].startswith("\ufeff"):
        head[0] = head[0][1:]
    missing = [c for c in expected if c not in head]
    if missing:
        raise DatasetFormatError(path, f"header lacks column(s) {missing}; expected "
                                 f"{','.join(expected)}, got {','.join(head)}", 1)
    return head


def load_fer2013(path, usage=None) -> FaceDataset:
    """Load ``fer2013.csv`` (header ``emotion,pixels,Usage``).

    Parameters
    ----------
    path : path
        The CSV.
    usage : str or sequence of str, optional
        Keep only these ``Usage`` splits (``Training``, ``PublicTest``, ``PrivateTest``).

    Returns
    -------
    FaceDataset
        48x48 grey images, labels in :data:`fer_helpers.labels.FER2013` (7 classes),
        ``split`` = ``Usage``. FER2013 has no subject ids, so identity leakage between its
        splits cannot be controlled.
    """
    path = Path(path)
    keep = _usage_filter(usage)
    imgs, labels, splits, rows = [], [], [], []
    with _open_csv(path) as f:
        reader = csv.reader(f)
        head = _header(reader, path, ("emotion", "pixels", "Usage"))
        ie, ip, iu = (head.index(c) for c in ("emotion", "pixels", "Usage"))
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if len(row) != len(head):
                raise DatasetFormatError(path, f"expected {len(head)} fields "
                                         f"({','.join(head)}), got {len(row)} (truncated row?)",
                                         line)
            u = row[iu].strip()
            if u not in USAGES:
                raise DatasetFormatError(path, f"Usage must be one of {USAGES}, got {u!r}", line)
            try:
                e = int(row[ie])
            except ValueError:
                raise DatasetFormatError(path, f"emotion must be an integer 0-6, got "
                                         f"{row[ie]!r}", line) from None
            if not 0 <= e <= 6:
                raise DatasetFormatError(path, f"emotion must be 0-6, got {e}", line)
            if keep is not None and u not in keep:
                continue
            imgs.append(_pixels(row[ip], path, line))
            labels.append(e)
            splits.append(u)
            rows.append(line - 1)
    n = len(imgs)
    return FaceDataset(
        images=np.stack(imgs) if n else np.zeros((0, _SIDE, _SIDE), np.uint8),
        labels=np.array(labels, int), label_space=FER2013,
        paths=np.array([f"{path}#{r}" for r in rows]), split=np.array(splits, dtype=object),
        name=f"FER2013 ({path.name})")


def _usage_filter(usage):
    if usage is None:
        return None
    keep = {usage} if isinstance(usage, str) else set(usage)
    bad = keep - set(USAGES)
    if bad:
        raise ValueError(f"unknown usage {sorted(bad)}; expected some of {USAGES}")
    return keep


def _pixels(text: str, path: Path, line: int) -> np.ndarray:
    parts = text.split()
    if len(parts) != _SIDE * _SIDE:
        raise DatasetFormatError(path, f"pixels must hold {_SIDE * _SIDE} values "
                                 f"({_SIDE}x{_SIDE}), got {len(parts)}", line)
    try:
        v = np.array(parts, dtype=np.int32)
    except ValueError:
        raise DatasetFormatError(path, "pixels must be space-separated integers", line) from None
    if v.min() < 0 or v.max() > 255:
        raise DatasetFormatError(path, f"pixel values must be 0-255, got {v.min()}..{v.max()}",
                                 line)
    return v.astype(np.uint8).reshape(_SIDE, _SIDE)


def load_ferplus(fer2013_path, ferplus_path, usage=None, min_votes: int = 1) -> FaceDataset:
    """FER2013 images with FER+ labels, joined by row position.

    FER+ rows match FER2013 rows one to one, in order; the numbers in ``Image name`` drift
    from row indices, so they are never used to join. Rows with an empty ``Image name``
    (judged "not a face") are dropped, as are rows whose emotion votes have no unique
    maximum or fewer than ``min_votes`` votes.

    Returns
    -------
    FaceDataset
        Labels in :data:`fer_helpers.labels.FERPLUS` (8 classes incl. contempt) by majority
        vote, ``soft_labels`` = vote shares over those 8 classes.
    """
    fer = load_fer2013(fer2013_path)
    ferplus_path = Path(ferplus_path)
    cols = ("Usage", "Image name", *FERPLUS.names, "unknown", "NF")
    keep, labels, soft = [], [], []
    with _open_csv(ferplus_path) as f:
        reader = csv.reader(f)
        head = _header(reader, ferplus_path, cols)
        idx = [head.index(c) for c in FERPLUS.names]
        i = -1
        for i, row in enumerate(reader):
            line = reader.line_num
            if len(row) != len(head):
                raise DatasetFormatError(ferplus_path, f"expected {len(head)} fields, got "
                                         f"{len(row)} (truncated row?)", line)
            if i >= len(fer):
                raise DatasetFormatError(ferplus_path, f"more rows than {fer2013_path} "
                                         f"({len(fer)}): the files do not match", line)
            u = row[head.index("Usage")].strip()
            if u != fer.split[i]:
                raise DatasetFormatError(ferplus_path, f"Usage {u!r} differs from FER2013 row "
                                         f"{i + 1} ({fer.split[i]!r}): files not aligned", line)
            if not row[head.index("Image name")].strip():
                continue
            try:
                votes = np.array([int(row[j]) for j in idx])
            except ValueError:
                raise DatasetFormatError(ferplus_path, "vote counts must be integers",
                                         line) from None
            if votes.min() < 0:
                raise DatasetFormatError(ferplus_path, "vote counts must be >= 0", line)
            top = votes.max()
            if top < min_votes or (votes == top).sum() > 1:
                continue
            keep.append(i)
            labels.append(int(votes.argmax()))
            soft.append(votes / votes.sum())
    if i + 1 != len(fer):
        raise DatasetFormatError(ferplus_path, f"{i + 1} data rows, but {fer2013_path} has "
                                 f"{len(fer)}: the files do not match")
    out = fer.subset(np.array(keep, int))
    out.labels, out.label_space = np.array(labels, int), FERPLUS
    out.soft_labels = np.array(soft).reshape(-1, len(FERPLUS))
    out.name = f"FER+ ({ferplus_path.name})"
    allowed = _usage_filter(usage)
    return out if allowed is None else out.subset(np.isin(out.split, list(allowed)))
