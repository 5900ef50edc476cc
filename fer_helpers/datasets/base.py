"""The one structure every loader returns, and the error every loader raises."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..labels import LabelSpace


class DatasetFormatError(ValueError):
    """A dataset file does not have the expected format.

    The message names the file, the line (or field) and what was expected.
    """

    def __init__(self, path, problem: str, line: int | None = None):
        where = f"{path}" + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {problem}")
        self.path, self.line, self.problem = str(path), line, problem


@dataclass
class FaceDataset:
    """Face images with whatever labels the source provides.

    Attributes
    ----------
    images : numpy.ndarray
        ``(n, H, W)`` uint8 grey (or ``(n, H, W, 3)`` BGR when loaded in colour).
    labels : numpy.ndarray
        ``(n,)`` int emotion codes in ``label_space``; ``-1`` = no label.
    label_space : LabelSpace
        What the codes mean (see :mod:`fer_helpers.labels`).
    paths : numpy.ndarray
        ``(n,)`` str: source file, with ``#row`` (1-based data row) for CSV sources.
    subjects : numpy.ndarray or None
        ``(n,)`` str subject ids, where the dataset has them (CK+ yes, FER2013 no).
    au_codes : tuple of int
        AU numbers, the columns of the AU matrices.
    au_presence : numpy.ndarray or None
        ``(n, len(au_codes))`` bool, where AU coding exists.
    au_intensity : numpy.ndarray or None
        ``(n, len(au_codes))`` float: 0 absent, 1-5 (FACS A-E), NaN = present, not coded.
    landmarks : numpy.ndarray or None
        ``(n, 68, 2)`` float, in the coordinates of ``images``.
    split : numpy.ndarray or None
        ``(n,)`` str official split (FER2013 ``Usage``).
    soft_labels : numpy.ndarray or None
        ``(n, len(label_space))`` float vote shares (FER+).
    name : str
        Short description of the source.
    rejected : pandas.DataFrame
        Images left out, with the reason (e.g. no face found).
    """

    images: np.ndarray
    labels: np.ndarray
    label_space: LabelSpace
    paths: np.ndarray
    subjects: np.ndarray | None = None
    au_codes: tuple[int, ...] = ()
    au_presence: np.ndarray | None = None
    au_intensity: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    split: np.ndarray | None = None
    soft_labels: np.ndarray | None = None
    name: str = ""
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["path",
                                                                                  "reason"]))

    _PER_ROW = ("images", "labels", "paths", "subjects", "au_presence", "au_intensity",
                "landmarks", "split", "soft_labels")

    def __post_init__(self):
        n = len(self.images)
        for f in self._PER_ROW:
            v = getattr(self, f)
            if v is not None and len(v) != n:
                raise ValueError(f"FaceDataset.{f} has {len(v)} rows, images has {n}")

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index) -> FaceDataset:
        """Rows ``index`` (indices or boolean mask) as a new dataset."""
        idx = np.asarray(index)
        kw = {f: (None if getattr(self, f) is None else getattr(self, f)[idx])
              for f in self._PER_ROW}
        return replace(self, **kw)

    def relabel(self, space: LabelSpace) -> FaceDataset:
        """The same rows with labels converted (by emotion name) to ``space``.

        Classes ``space`` lacks (e.g. contempt in FER2013) become ``-1``.
        """
        soft = None
        if self.soft_labels is not None:
            m = self.label_space.mapping_to(space)
            soft = np.zeros((len(self), len(space)))
            for i, j in enumerate(m):
                if j >= 0:
                    soft[:, j] += self.soft_labels[:, i]
        return replace(self, labels=self.label_space.convert(self.labels, space),
                       label_space=space, soft_labels=soft)

    @property
    def label_names(self) -> np.ndarray:
        """Emotion names per row (``'unlabelled'`` for ``-1``)."""
        names = np.array([*self.label_space.names, "unlabelled"], dtype=object)
        return names[self.labels]

    def to_frame(self) -> pd.DataFrame:
        """One row per image: path, subject, label name, split, present AUs."""
        df = pd.DataFrame({"path": self.paths, "emotion": self.label_names})
        if self.subjects is not None:
            df["subject"] = self.subjects
        if self.split is not None:
            df["split"] = self.split
        if self.au_presence is not None:
            df["aus"] = ["+".join(str(c) for c, p in zip(self.au_codes, row, strict=True) if p)
                         for row in self.au_presence]
        return df

    def __repr__(self) -> str:
        shape = "x".join(map(str, self.images.shape[1:]))
        extra = [f for f in ("subjects", "au_presence", "landmarks", "split", "soft_labels")
                 if getattr(self, f) is not None]
        return (f"FaceDataset({self.name!r}, n={len(self)}, images={shape}, "
                f"labels={self.label_space.name}, with={extra})")


__all__ = ["DatasetFormatError", "FaceDataset"]
