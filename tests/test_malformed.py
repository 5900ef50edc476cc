"""Every malformed input gives a DatasetFormatError naming the file and the line or path."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from fer_helpers.datasets import (
    DatasetFormatError,
    load_ckplus,
    load_fer2013,
    load_ferplus,
    load_folder,
)
from fer_helpers.labels import FERPLUS

from .conftest import fer_rows, write_ck_sequence, write_fer

GOOD = list(fer_rows(4))


def _fer_case(tmp_path, row, line_text=None):
    path = tmp_path / "fer2013.csv"
    if line_text is None:
        write_fer(path, [GOOD[0], row, GOOD[2]])
    else:
        path.write_text("emotion,pixels,Usage\n" + ",".join(map(str, GOOD[0])) + "\n"
                        + line_text + "\n")
    return path


FER_CASES = {
    "truncated row": (["3", GOOD[1][1][:500]], r"line 3: expected 3 fields.*got 2"),
    "pixels too short": ([3, "1 2 3", "Training"], r"line 3: pixels must hold 2304 values"),
    "pixels too long": ([3, GOOD[1][1] + " 7", "Training"], r"line 3:.*got 2305"),
    "non-numeric pixel": ([3, GOOD[1][1].replace("1", "x", 1), "Training"],
                          r"line 3: pixels must be space-separated integers"),
    "pixel out of range": ([3, "300 " + " ".join(["0"] * 2303), "Training"],
                           r"line 3: pixel values must be 0-255"),
    "non-numeric label": (["happy", GOOD[1][1], "Training"],
                          r"line 3: emotion must be an integer 0-6, got 'happy'"),
    "label out of range": ([7, GOOD[1][1], "Training"], r"line 3: emotion must be 0-6"),
    "unknown Usage": ([3, GOOD[1][1], "Validation"], r"line 3: Usage must be one of"),
}


@pytest.mark.parametrize("case", sorted(FER_CASES))
def test_fer2013_bad_rows(tmp_path, case):
    row, pattern = FER_CASES[case]
    path = _fer_case(tmp_path, row)
    with pytest.raises(DatasetFormatError, match=pattern) as e:
        load_fer2013(path)
    assert str(path) in str(e.value) and e.value.line == 3


def test_fer2013_bad_header(tmp_path):
    path = write_fer(tmp_path / "f.csv", GOOD, header=("label", "pixels", "Usage"))
    with pytest.raises(DatasetFormatError, match=r"f\.csv, line 1: header lacks.*emotion"):
        load_fer2013(path)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DatasetFormatError, match=r"empty\.csv, line 1: empty file"):
        load_fer2013(tmp_path / "empty.csv")


def _ferplus_rows(n, usage=None):
    usage = usage or [r[2] for r in GOOD[:n]]
    return [[u, f"fer{i:07d}.png", 10, 0, 0, 0, 0, 0, 0, 0, 0, 0] for i, u in enumerate(usage)]


def _write_ferplus(path, rows):
    cols = ["Usage", "Image name", *FERPLUS.names, "unknown", "NF"]
    pd.DataFrame(rows, columns=cols).to_csv(path, index=False)
    return path


def test_ferplus_row_count_mismatch(tmp_path):
    fer = write_fer(tmp_path / "fer2013.csv", GOOD)
    short = _write_ferplus(tmp_path / "new.csv", _ferplus_rows(3))
    with pytest.raises(DatasetFormatError, match=r"new\.csv: 3 data rows.*has 4"):
        load_ferplus(fer, short)


def test_ferplus_misaligned_usage(tmp_path):
    fer = write_fer(tmp_path / "fer2013.csv", GOOD)
    usage = ["Training", "Training", "Training", "PublicTest"]
    bad = _write_ferplus(tmp_path / "new.csv", _ferplus_rows(4, usage))
    with pytest.raises(DatasetFormatError, match=r"new\.csv, line 4: Usage 'Training' differs"):
        load_ferplus(fer, bad)


def _ck(tmp_path, **kw):
    root = tmp_path / "ck"
    write_ck_sequence(root, "S001", "001", **{"emotion": 2, "facs": [(12, 2)], **kw})
    return root


CK_FILE_CASES = {  # annotation file, new content, expected message after the file name
    "empty Emotion file": ("Emotion", "", ": empty Emotion file"),
    "emotion code 9": ("Emotion", "   9.0000000e+00\n", ": expected one emotion code 0-7"),
    "FACS line with one column": ("FACS", "   1.2000000e+01   2.0000000e+00\n   2.5000000e+01\n",
                                  r", line 2: expected 2 number\(s\)"),
    "FACS not numeric": ("FACS", "   AU12   2\n", ", line 1: not a number"),
}


@pytest.mark.parametrize("case", sorted(CK_FILE_CASES))
def test_ckplus_bad_annotation_file(tmp_path, case):
    folder, content, message = CK_FILE_CASES[case]
    root = _ck(tmp_path)
    f = next((root / folder).rglob("*.txt"))
    f.write_text(content)
    with pytest.raises(DatasetFormatError, match=re.escape(str(f)) + message):
        load_ckplus(root)


def test_ckplus_missing_emotion_folder(tmp_path):
    root = _ck(tmp_path, emotion=None)
    with pytest.raises(DatasetFormatError, match=r"ck: no Emotion/ \(or Emotion_labels/\)"):
        load_ckplus(root)


def test_ckplus_facs_bad_intensity(tmp_path):
    root = _ck(tmp_path, facs=[(12, 7)])
    with pytest.raises(DatasetFormatError, match=r"_facs\.txt, line 1: expected 'AU intensity'"):
        load_ckplus(root)


def test_ckplus_short_landmarks(tmp_path):
    root = _ck(tmp_path)
    f = sorted((root / "Landmarks").rglob("*_landmarks.txt"))[-1]
    f.write_text("".join(f.read_text().splitlines(keepends=True)[:67]))
    with pytest.raises(DatasetFormatError, match=re.escape(str(f)) + ": expected 68 lines"):
        load_ckplus(root)


def test_ckplus_unreadable_image(tmp_path):
    root = _ck(tmp_path)
    img = sorted((root / "cohn-kanade-images").rglob("*.png"))[-1]
    img.write_bytes(b"not a png at all")
    with pytest.raises(DatasetFormatError, match=re.escape(str(img)) + ": cannot read image"):
        load_ckplus(root)


def test_ckplus_misnamed_frame(tmp_path):
    root = _ck(tmp_path)
    d = root / "cohn-kanade-images" / "S001" / "001"
    (d / "frame1.png").write_bytes((d / "S001_001_00000001.png").read_bytes())
    with pytest.raises(DatasetFormatError, match=r"frame1\.png: expected a frame named S001_001_"):
        load_ckplus(root)


def test_not_a_ckplus_folder(tmp_path):
    with pytest.raises(DatasetFormatError, match=r"not a CK\+ folder.*cohn-kanade-images"):
        load_ckplus(tmp_path)


def test_folder_with_unknown_class(tmp_path):
    (tmp_path / "bored").mkdir()
    with pytest.raises(DatasetFormatError, match=r"bored: folder name is not an emotion"):
        load_folder(tmp_path)


def test_folder_csv_missing_image(tmp_path):
    (tmp_path / "l.csv").write_text("path,emotion\nnope.png,happy\n")
    with pytest.raises(DatasetFormatError, match=r"l\.csv, line 2: image .*nope\.png does not"):
        load_folder(tmp_path, csv_file=tmp_path / "l.csv")
