"""CASME II: SynthFACS clips in CASME II's layout, the loader, and malformed inputs."""

from __future__ import annotations

import re
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

from fer_helpers.datasets import (
    ActionUnit,
    CodingSheetError,
    DatasetFormatError,
    load_casme2,
    parse_aus,
    read_clip,
    read_key_frames,
)
from fer_helpers.synth import (
    AU_CODES,
    MICRO_PATTERNS,
    MicroStyle,
    casme2_emotion,
    render_clip,
    sample_clip,
    write_casme2,
)
from fer_helpers.synth.micro import CASME2_EMOTIONS, envelope

from .conftest import tree_digest

TINY = {"n_subjects": 3, "clips_per_subject": (3, 5), "size": 48, "envelope": (6, 12),
        "neutral": (2, 4), "p_slash_apex": 0.3, "weights": [1] * 7}


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("casme2") / "CASME2"
    truth = write_casme2(root, seed=1, n_jobs=1, **TINY)
    return root, truth


def _truth_aus(r) -> tuple[ActionUnit, ...]:
    out = []
    for c in AU_CODES:
        left, right = r[f"AU{c}_L"] > 0, r[f"AU{c}_R"] > 0
        if left or right:
            out.append(ActionUnit(c, "" if left and right else ("L" if left else "R")))
    return tuple(out)


# ------------------------------------------------------------------------------ round trip
@pytest.mark.parametrize("variant", ["raw", "cropped"])
def test_round_trip(synth, variant):
    root, truth = synth
    # the fixture must hold what the round trip is about
    assert (truth["apex_in_sheet"] == "/").any() and (truth["apex_in_sheet"] != "/").any()
    assert truth["aus"].str.contains(r"[LR]\d").any()
    assert set(truth["emotion"]) & {"sadness", "fear"}
    ds = load_casme2(root, scheme="all", variant=variant)
    got = ds.to_frame()
    assert got["subject"].tolist() == truth["subject"].tolist()  # zero-padded text
    assert got["subject"].iloc[0] == "01"
    assert got["episode"].tolist() == truth["filename"].tolist()
    for col, tcol in (("first", "first_frame"), ("last", "last_frame"), ("onset", "onset"),
                      ("offset", "offset")):
        assert got[col].tolist() == truth[tcol].tolist(), col
    slash = (truth["apex_in_sheet"] == "/").to_numpy()
    assert all(c.apex is None for c, s in zip(ds.clips, slash, strict=True) if s)
    assert [c.apex for c, s in zip(ds.clips, slash, strict=True) if not s] == \
        truth.loc[~slash, "apex"].tolist()
    assert [c.aus for c in ds.clips] == [_truth_aus(r) for _, r in truth.iterrows()]
    assert [c.emotion for c in ds.clips] == truth["emotion"].tolist()
    assert [ds.classes[c.label] for c in ds.clips] == truth["emotion"].tolist()
    prefix = "img" if variant == "raw" else "reg_img"
    for c in ds.clips:
        assert [p.name for p in c.frames] == [f"{prefix}{n}.jpg"
                                              for n in range(c.first, c.last + 1)]
    kept = ds.report[ds.report["action"] == "kept"]
    assert kept["row"].tolist() == [i + 2 for i in np.flatnonzero(slash)]
    assert kept["problem"].str.contains("ApexFrame is '/'").all()


def test_sheet_has_casme2_columns_and_quirks(synth):
    root, truth = synth
    sheet = root / "CASME2-coding-20140508.xlsx"
    df = pd.read_excel(sheet)
    assert df.columns.tolist() == ["Subject", "Filename", "Unnamed: 2", "OnsetFrame",
                                   "ApexFrame", "OffsetFrame", "Unnamed: 6", "Action Units",
                                   "Estimated Emotion"]
    assert df["Unnamed: 2"].isna().all() and df["Unnamed: 6"].isna().all()
    assert df["Subject"].dtype.kind == "i"  # text "01", read back as an int by default
    assert pd.read_excel(sheet, dtype={"Subject": str})["Subject"].iloc[0] == "01"
    assert (df["ApexFrame"] == "/").any()
    assert set(df["Estimated Emotion"]) <= set(CASME2_EMOTIONS)
    assert all(re.fullmatch(r"EP\d\d_\d\df?", f) for f in df["Filename"])


def test_clips_are_micro_expressions(synth):
    _, truth = synth
    assert (truth["onset"] < truth["apex"]).all() and (truth["apex"] < truth["offset"]).all()
    assert (truth["first_frame"] < truth["onset"]).all()
    assert (truth["offset"] < truth["last_frame"]).all()  # inside a longer neutral clip
    peak = truth[[f"AU{c}_{s}" for c in AU_CODES for s in "LR"]].to_numpy()
    assert peak[peak > 0].min() >= 0.5 and peak.max() <= 1.5
    with pytest.raises(ValueError, match="at most 0.5 s"):
        MicroStyle(envelope=(40, 101))


def test_class_follows_from_aus(synth):
    _, truth = synth
    for _, r in truth.iterrows():
        assert casme2_emotion(a.code for a in _truth_aus(r)) == r["emotion"]
    for emotion, patterns in MICRO_PATTERNS.items():
        assert all(casme2_emotion(p) == emotion for p in patterns)
    assert casme2_emotion([4, 10, 17]) == "disgust" and casme2_emotion([4]) == "others"
    assert casme2_emotion([1, 2, 4]) == "fear" and casme2_emotion([1, 4]) == "sadness"


def test_apex_is_the_peak_of_the_motion():
    style = MicroStyle(size=64, envelope=(20, 20), neutral=(5, 5), intensity=(1.5, 1.5),
                       p_blink=0.0, head_motion=0.0)
    spec = sample_clip(0, 1, 0, "happiness", style)
    _, crops, _ = render_clip(spec)
    diff = np.abs(crops.astype(float) - crops[0]).mean(axis=(1, 2))
    assert abs(int(np.argmax(diff)) - spec.apex) <= 2
    env = envelope(spec.n_frames, spec.onset, spec.apex, spec.offset)
    assert env[spec.apex] == 1 and env[: spec.onset + 1].max() == 0
    assert env[spec.offset:].max() == 0




def test_same_seed_same_bytes_whatever_the_workers(tmp_path):
    kw = {**TINY, "n_subjects": 2}
    write_casme2(tmp_path / "a", seed=4, n_jobs=1, **kw)
    write_casme2(tmp_path / "b", seed=4, n_jobs=2, **kw)
    write_casme2(tmp_path / "c", seed=5, n_jobs=1, **kw)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "c")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries


# ---------------------------------------------------------------------------- class schemes
def test_five_class_scheme_drops_and_reports_sadness_and_fear(synth):
    root, truth = synth
    ds = load_casme2(root)  # 5class by default
    assert ds.classes == ("happiness", "disgust", "repression", "surprise", "others")
    five = truth[~truth["emotion"].isin(["sadness", "fear"])]
    assert [c.episode for c in ds.clips] == five["filename"].tolist()
    assert [ds.classes[i] for i in ds.labels] == five["emotion"].tolist()
    dropped = ds.report[ds.report["action"] == "dropped"]
    expected = truth.index[truth["emotion"].isin(["sadness", "fear"])] + 2
    assert dropped["row"].tolist() == expected.tolist()
    assert dropped["file"].str.endswith(".xlsx").all()


def test_megc_three_class_scheme(synth):
    root, truth = synth
    ds = load_casme2(root, scheme="3class")
    assert ds.classes == ("positive", "negative", "surprise")
    keep = truth[truth["emotion"].isin(["happiness", "disgust", "repression", "surprise"])]
    to3 = {"happiness": "positive", "disgust": "negative", "repression": "negative",
           "surprise": "surprise"}
    assert [ds.classes[i] for i in ds.labels] == [to3[e] for e in keep["emotion"]]
    assert ds.subjects.tolist() == keep["subject"].tolist()
    rest = ds.subset(ds.subjects != "01")
    assert "01" not in rest.subjects and len(rest) == (keep["subject"] != "01").sum()
    assert set(ds.report.loc[ds.report["action"] == "dropped", "row"]) == \
        set(truth.index[~truth.index.isin(keep.index)] + 2)


# ----------------------------------------------------------------- hand-written CASME II tree
HEADER = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
          "Action Units", "Estimated Emotion"]
ROWS = [  # rows 2, 3, 4 of the sheet
    ["01", "EP02_01f", None, 46, 59, 86, None, "4+L10+17", "disgust"],
    [2, "EP03_02", None, 95, 100, 105, None, 12, "happiness"],  # Subject and AUs as numbers
    ["02", "EP04_01f", None, 10, "/", 20, None, "R12", "happiness"],
]


def _sheet(path, rows, header=HEADER):
    cells = ([header] if header else []) + rows
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        pd.DataFrame(cells).to_excel(xl, header=False, index=False)


def _tree(tmp_path, rows=ROWS, header=HEADER):
    root = tmp_path / "c2"
    for r in ROWS:
        folder = root / "CASME2_RAW_selected" / f"sub{int(r[0]):02d}" / r[1]
        folder.mkdir(parents=True)
        for n in range(r[3] - 1, r[5] + 2):  # a neutral frame either side
            cv2.imwrite(str(folder / f"img{n}.jpg"), np.full((8, 8), n % 256, np.uint8))
    _sheet(root / "CASME2-coding-20140508.xlsx", [list(r) for r in rows], header)
    return root


def _with(row: int, col: str, value):
    rows = [list(r) for r in ROWS]
    rows[row - 2][HEADER.index(col)] = value
    return rows


def test_hand_written_tree_numeric_sort_and_key_frames(tmp_path):
    root = _tree(tmp_path)
    ds = load_casme2(root)
    c = ds.clips[1]
    assert (c.subject, c.episode, c.first, c.last) == ("02", "EP03_02", 94, 106)
    assert [p.stem for p in c.frames][5:8] == ["img99", "img100", "img101"]
    assert sorted(p.name for p in c.frames)[0] == "img100.jpg"  # a string sort would be wrong
    keys = read_key_frames(c)  # onset, apex, offset, first, last
    assert keys[:, 0, 0].tolist() == pytest.approx([95, 100, 105, 94, 106], abs=2)
    assert ds.clips[0].aus == (ActionUnit(4), ActionUnit(10, "L"), ActionUnit(17))
    assert c.aus == (ActionUnit(12),)
    seq = read_clip(c, length=5)
    assert seq.shape == (5, 8, 8) and seq[0, 0, 0] == pytest.approx(94, abs=2)
    assert read_clip(c, span="onset-offset").shape == (11, 8, 8)


def test_slash_apex_is_reported_and_only_replaced_on_request(tmp_path):
    root = _tree(tmp_path)
    ds = load_casme2(root)
    c = ds.clips[2]
    assert c.apex is None and c.row == 4
    note = ds.report[ds.report["action"] == "kept"]
    assert note["row"].tolist() == [4] and note["file"].iloc[0].endswith(".xlsx")
    with pytest.raises(CodingSheetError, match=r"\.xlsx, row 4: ApexFrame is '/'"):
        read_key_frames(c)
    assert c.key_numbers(apex_fallback="middle") == (10, 15, 20, 9, 21)
    assert ds.key_frames(apex_fallback="middle").shape == (3, 5, 8, 8)


def test_parse_aus():
    assert parse_aus("4+L10+17") == (ActionUnit(4), ActionUnit(10, "L"), ActionUnit(17))
    assert parse_aus("R12") == (ActionUnit(12, "R"),) and parse_aus(12) == (ActionUnit(12),)
    assert parse_aus("AU4 + AU7") == (ActionUnit(4), ActionUnit(7))
    assert str(ActionUnit(10, "L")) == "L10"
    for bad in ("4+X10", "", "4++7", 4.5):
        with pytest.raises(ValueError):
            parse_aus(bad)


# -------------------------------------------------------------------------- malformed inputs
def _drop_folder(root):
    shutil.rmtree(root / "CASME2_RAW_selected" / "sub02" / "EP03_02")


def _gap(root):
    (root / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img50.jpg").unlink()


def _stray(root):
    d = root / "CASME2_RAW_selected" / "sub01" / "EP02_01f"
    shutil.copy(d / "img46.jpg", d / "frame1.jpg")


ROW_CASES = {  # name: (rows, change to the tree, row, message after "<sheet>, row N: ")
    "apex outside the clip": (_with(2, "ApexFrame", 90), None, 2,
                              r"ApexFrame 90 is outside the clip"),
    "offset before onset": (_with(3, "OffsetFrame", 90), None, 3,
                            r"OffsetFrame 90 is before OnsetFrame 95"),
    "frame folder missing": (ROWS, _drop_folder, 3, r"frame folder .*EP03_02 does not exist"),
    "frame numbers with gaps": (ROWS, _gap, 2, r"frame numbers in .*EP02_01f have gaps: "
                                r"1 missing \(img50\)"),
    "unknown emotion word": (_with(3, "Estimated Emotion", "boredom"), None, 3,
                             r"unknown Estimated Emotion 'boredom'"),
    "bad AU string": (_with(2, "Action Units", "4+X10"), None, 2,
                      r"Action Units: cannot read AU 'X10'"),
    "onset not a number": (_with(3, "OnsetFrame", "abc"), None, 3,
                           r"OnsetFrame must be a frame number, got 'abc'"),
    "onset before the folder's frames": (_with(2, "OnsetFrame", 40), None, 2,
                                         r"OnsetFrame\.\.OffsetFrame 40\.\.86 is not within "
                                         r"the frames .*EP02_01f \(img45\.\.img87\)"),
    "clip coded twice": ([*ROWS, ROWS[0]], None, 5, r"sub01/EP02_01f is coded twice"),
    "stray file name": (ROWS, _stray, 2, r".*EP02_01f/frame1\.jpg: unexpected frame name"),
    "subject not a number": (_with(2, "Subject", "S1"), None, 2, r"Subject must be a number"),
    "empty emotion cell": (_with(4, "Estimated Emotion", None), None, 4,
                           r"unknown Estimated Emotion"),
}


def _bad_tree(tmp_path, case):
    """The tree of ``ROW_CASES[case]``: (root, rows, the bad row, the expected message)."""
    rows, change, row, message = ROW_CASES[case]
    root = _tree(tmp_path, rows)
    if change:
        change(root)
    return root, rows, row, message


@pytest.mark.parametrize("case", sorted(ROW_CASES))
def test_bad_row_raises_naming_file_and_row(tmp_path, case):
    root, _, row, message = _bad_tree(tmp_path, case)
    sheet = root / "CASME2-coding-20140508.xlsx"
    with pytest.raises(CodingSheetError, match=re.escape(f"{sheet}, row {row}: ") + message):
        load_casme2(root)


@pytest.mark.parametrize("case", sorted(ROW_CASES))
def test_bad_row_is_a_reported_skip_on_request(tmp_path, case):
    root, rows, row, message = _bad_tree(tmp_path, case)
    with pytest.warns(UserWarning, match=rf"row\(s\) skipped \(rows \[{row}\]\)"):
        ds = load_casme2(root, errors="skip")
    skipped = ds.report[ds.report["action"] == "skipped"]
    assert skipped["row"].tolist() == [row]
    assert skipped["file"].iloc[0] == str(root / "CASME2-coding-20140508.xlsx")
    assert re.search(message, skipped["problem"].iloc[0])
    assert len(ds) == len(rows) - 1


def test_missing_column(tmp_path):
    header = [h if h != "OnsetFrame" else "Onset" for h in HEADER]
    root = _tree(tmp_path, header=header)
    with pytest.raises(CodingSheetError, match=r"\.xlsx, row 1: header lacks column\(s\) "
                       r"\['OnsetFrame'\]"):
        load_casme2(root, errors="skip")  # a file problem: never skipped


def test_empty_sheet(tmp_path):
    root = _tree(tmp_path, rows=[])
    with pytest.raises(CodingSheetError, match=r"\.xlsx, row 2: .*no data rows"):
        load_casme2(root)
    _sheet(root / "CASME2-coding-20140508.xlsx", [], header=None)  # not even a header
    with pytest.raises(DatasetFormatError, match=r"\.xlsx, row 1: header lacks"):
        load_casme2(root)


def test_unreadable_image(tmp_path):
    root = _tree(tmp_path)
    img = root / "CASME2_RAW_selected" / "sub02" / "EP03_02" / "img100.jpg"
    img.write_bytes(b"not a jpeg")
    ds = load_casme2(root)  # frames are decoded when read ...
    with pytest.raises(DatasetFormatError, match=re.escape(str(img)) + r": cannot read image "
                       r".*sub02/EP03_02, .*\.xlsx, row 3"):
        read_key_frames(ds.clips[1])
    with pytest.raises(CodingSheetError, match=r"\.xlsx, row 3: .*img100\.jpg: cannot read"):
        load_casme2(root, check_images=True)  # ... or all at load time, on request
    with pytest.warns(UserWarning, match=r"rows \[3\]"):
        assert len(load_casme2(root, check_images=True, errors="skip")) == 2


def test_not_a_casme2_folder(tmp_path):
    with pytest.raises(DatasetFormatError, match=r"no coding sheet"):
        load_casme2(tmp_path)
    _tree(tmp_path)
    with pytest.raises(DatasetFormatError, match=r"no cropped frame folder.*Cropped"):
        load_casme2(tmp_path / "c2", variant="cropped")


def test_the_writer_takes_microstyle_fields_only(tmp_path):
    for bad in ({"fps": 100}, {"intensty": (1, 2)}):
        with pytest.raises(TypeError, match="unknown style argument"):
            write_casme2(tmp_path / "x", n_subjects=1, n_jobs=1, **bad)
    assert not (tmp_path / "x").exists()
