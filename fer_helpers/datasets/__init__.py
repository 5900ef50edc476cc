"""Loaders for the real datasets' native formats, all returning :class:`FaceDataset`.

Tested on fixtures written in the exact formats of ``shared/design/dataset-formats.md``.
"""

from .base import DatasetFormatError, FaceDataset
from .casme2 import Casme2, load_casme2
from .ckplus import load_ckplus, scan_ckplus
from .fer2013 import USAGES, load_fer2013, load_ferplus
from .folder import load_folder
from .images import read_image
from .microclips import (
    ActionUnit,
    CodingSheetError,
    MicroClip,
    parse_aus,
    read_clip,
    read_key_frames,
)
from .splits import subject_holdout, subject_kfold

__all__ = ["USAGES", "ActionUnit", "Casme2", "CodingSheetError", "DatasetFormatError",
           "FaceDataset", "MicroClip", "load_casme2", "load_ckplus", "load_fer2013",
           "load_ferplus", "load_folder", "parse_aus", "read_clip", "read_image",
           "read_key_frames", "scan_ckplus", "subject_holdout", "subject_kfold"]
