"""Loaders for the real datasets' native formats, all returning :class:`FaceDataset`.

Tested on fixtures written in the exact formats of ``shared/design/dataset-formats.md``.
"""

from .base import DatasetFormatError, FaceDataset
from .ckplus import load_ckplus, scan_ckplus
from .fer2013 import USAGES, load_fer2013, load_ferplus
from .folder import load_folder
from .images import read_image
from .splits import subject_holdout, subject_kfold

__all__ = ["USAGES", "DatasetFormatError", "FaceDataset", "load_ckplus", "load_fer2013",
           "load_ferplus", "load_folder", "read_image", "scan_ckplus", "subject_holdout",
           "subject_kfold"]
