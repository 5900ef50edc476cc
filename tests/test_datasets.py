"""Loaders on fixtures in the exact native formats, and the SynthFACS round trip."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from fer_helpers.datasets import load_ckplus, load_fer2013, load_ferplus, load_folder, scan_ckplus
from fer_helpers.faces import Crop
from fer_helpers.labels import CKPLUS, FER2013, FERPLUS
from fer_helpers.synth import AU_CODES, write_ckplus, write_fer2013

from .conftest import fer_rows, write_ck_sequence, write_fer


def test_ckplus_scan_reads_quirks(ck_root):
    seqs = {(s.subject, s.name): s for s in scan_ckplus(ck_root)}
    assert set(seqs) == {("S005", "001"), ("S010", "002"), ("S010", "004"), ("S011", "001")}
    assert seqs["S005", "001"].emotion == 3
    assert seqs["S010", "004"].emotion == -1  # empty Emotion folder = unlabelled
    assert seqs["S010", "002"].facs == {12: 4.0}  # one-line FACS file stays a table
    assert seqs["S005", "001"].facs == {9: 2.0, 17: 0.0, 25: 0.0}
    assert [f.name for f in seqs["S005", "001"].frames][0] == "S005_001_00000001.png"


def test_ckplus_protocol_labels_aus_subjects(ck_root):
    ds = load_ckplus(ck_root, frames="protocol", n_peak=2, crop=Crop(size=32))
    # 3 labelled sequences x (1 neutral + 2 peak)
    assert len(ds) == 9 and ds.images.shape == (9, 32, 32) and ds.images.dtype == np.uint8
    assert ds.labels.tolist() == [0, 3, 3, 0, 5, 5, 0, 7, 7]
    assert ds.subjects.tolist() == ["S005"] * 3 + ["S010"] * 3 + ["S011"] * 3
    assert ds.au_codes == (1, 2, 5, 9, 12, 17, 25, 27)
    row = dict(zip(ds.au_codes, ds.au_intensity[1], strict=True))
    assert row[9] == 2 and np.isnan(row[17]) and np.isnan(row[25]) and row[12] == 0
    assert ds.au_presence[1].sum() == 3 and not ds.au_presence[0].any()  # neutral frame
    assert ds.label_names[4] == "happiness"
    # landmarks moved into the crop: eye centres at their place in the 32x32 frame
    left, right = ds.landmarks[:, 36:42].mean(1), ds.landmarks[:, 42:48].mean(1)
    np.testing.assert_allclose(left[:, 1], right[:, 1], atol=1e-6)
    np.testing.assert_allclose(right[:, 0] - left[:, 0], 0.36 * 32, atol=1e-6)


def test_ckplus_options(ck_root):
    everything = load_ckplus(ck_root, frames="all", n_peak=1, labelled_only=False,
                             crop=Crop(size=24))
    # per sequence: neutral first frame, two unlabelled middle frames, the labelled peak
    assert everything.labels.tolist() == [0, -1, -1, 3, 0, -1, -1, 5, 0, -1, -1, -1,
                                          0, -1, -1, 7]
    assert not everything.au_presence[[1, 2]].any() and everything.au_presence[3].any()
    peak = load_ckplus(ck_root, frames="peak", n_peak=1, crop=Crop(size=24))
    assert peak.labels.tolist() == [3, 5, 7]
    with pytest.raises(ValueError, match="different sizes"):
        load_ckplus(ck_root, crop=None)


def test_ckplus_emotion_labels_folder_name(tmp_path):
    write_ck_sequence(tmp_path, "S001", "001", emotion=1, facs=[(4, 3)],
                      emotion_dir="Emotion_labels")
    ds = load_ckplus(tmp_path, crop=None, n_peak=1)
    assert ds.labels.tolist() == [0, 1] and ds.images.shape == (2, 490, 640)


def test_synthfacs_ckplus_round_trip(tmp_path):
    truth = write_ckplus(tmp_path / "ck", n_subjects=4, seed=3, quirks=False, n_jobs=1)
    ds = load_ckplus(tmp_path / "ck", frames="peak", n_peak=1, crop=None, labelled_only=False)
    assert len(ds) == len(truth)
    key = [p.split("/")[-1][:8] for p in ds.paths]
    t = truth.assign(key=truth["subject"] + "_" + truth["sequence"]).set_index("key").loc[key]
    assert ds.subjects.tolist() == t["subject"].tolist()
    expected = np.where(t["labelled"], t["emotion"], -1)
    assert ds.labels.tolist() == expected.tolist()
    for j, au in enumerate(ds.au_codes):
        coded = t[f"coded_AU{au}"].to_numpy()
        assert (ds.au_presence[:, j] == (coded >= 0)).all()
        want = np.where(coded > 0, coded, np.where(coded == 0, np.nan, 0))
        np.testing.assert_array_equal(ds.au_intensity[:, j], want)
    assert set(ds.au_codes) <= set(AU_CODES)
    # landmarks: what was rendered (rounded to 0.01 px) is what the loader reads
    from fer_helpers.synth.writers import _ck_sequence

    for i, (s, q) in enumerate(zip(t["subject"], t["sequence"], strict=True)):
        job = (3, int(s[1:]) - 5, int(q) - 1, 0.7, 0.85, 0.08, (6, 12), False)
        _, lms, _, row = _ck_sequence(job)
        assert row["subject"] == s and row["sequence"] == q
        np.testing.assert_array_equal(ds.landmarks[i], np.loadtxt(io.StringIO(lms[-1])))
    assert (ds.images.shape[1], ds.images.shape[2]) == (490, 640)


def test_fer2013_loader(fer_csv):
    ds = load_fer2013(fer_csv)
    assert len(ds) == 6 and ds.images.shape == (6, 48, 48) and ds.label_space is FER2013
    assert ds.split.tolist()[-2:] == ["PublicTest", "PrivateTest"]
    assert ds.paths[0].endswith("fer2013.csv#1") and ds.subjects is None
    first = next(fer_rows())
    np.testing.assert_array_equal(ds.images[0].ravel(), np.array(first[1].split(), int))
    assert len(load_fer2013(fer_csv, usage="Training")) == 4
    assert load_fer2013(fer_csv).relabel(CKPLUS).labels.tolist() == [1, 3, 4, 5, 6, 7]


def test_fer2013_quoted_and_unquoted_pixels(tmp_path):
    rows = list(fer_rows(3))
    write_fer(tmp_path / "a.csv", rows)
    import csv

    with open(tmp_path / "b.csv", "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
        f.write("emotion,pixels,Usage\n")
        w.writerows(rows)
    np.testing.assert_array_equal(load_fer2013(tmp_path / "a.csv").images,
                                  load_fer2013(tmp_path / "b.csv").images)


def _ferplus(path, rows):
    cols = ["Usage", "Image name", *FERPLUS.names, "unknown", "NF"]
    pd.DataFrame(rows, columns=cols).to_csv(path, index=False)
    return path


def test_ferplus_joins_by_position_not_name(fer_csv, tmp_path):
    t, p, q = "Training", "PublicTest", "PrivateTest"
    rows = [
        [t, "fer0000000.png", 10, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [t, "", 0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # not a face: skipped
        [t, "fer0000003.png", 0, 0, 0, 0, 0, 0, 0, 7, 3, 0],  # name drifted from row 2
        [t, "fer0000004.png", 5, 5, 0, 0, 0, 0, 0, 0, 0, 0],  # tie: skipped
        [p, "fer0000005.png", 1, 0, 0, 0, 0, 0, 9, 0, 0, 0],
        [q, "fer0000006.png", 0, 2, 8, 0, 0, 0, 0, 0, 0, 0],
    ]
    ds = load_ferplus(fer_csv, _ferplus(tmp_path / "new.csv", rows))
    assert ds.paths.tolist() == [f"{fer_csv}#{r}" for r in (1, 3, 5, 6)]
    assert [FERPLUS.names[c] for c in ds.labels] == ["neutral", "contempt", "fear", "surprise"]
    np.testing.assert_allclose(ds.soft_labels[1, FERPLUS.code("contempt")], 1.0)
    fer = load_fer2013(fer_csv)
    np.testing.assert_array_equal(ds.images[1], fer.images[2])  # row 3 = image of row 3
    assert len(load_ferplus(fer_csv, tmp_path / "new.csv", usage="PrivateTest")) == 1


def test_synthfacs_fer_files_read_back(tmp_path):
    truth = write_fer2013(tmp_path / "fer2013.csv", n=120, seed=1,
                          ferplus_path=tmp_path / "fer2013new.csv", n_jobs=1)
    ds = load_fer2013(tmp_path / "fer2013.csv")
    assert ds.labels.tolist() == truth["emotion_fer2013"].tolist()
    assert ds.split.tolist() == truth["Usage"].tolist()
    plus = load_ferplus(tmp_path / "fer2013.csv", tmp_path / "fer2013new.csv")
    assert 100 <= len(plus) <= 120


def test_folder_loader(tmp_path):
    import cv2

    for name, n in (("happy", 2), ("Angry", 1)):
        (tmp_path / name).mkdir()
        for i in range(n):
            cv2.imwrite(str(tmp_path / name / f"{i}.png"), np.full((60, 50), 100, np.uint8))
    (tmp_path / "happy" / ".DS_Store").write_bytes(b"x")
    ds = load_folder(tmp_path, size=32)
    assert ds.images.shape == (3, 32, 32) and ds.label_space is CKPLUS
    assert sorted(ds.label_names.tolist()) == ["anger", "happiness", "happiness"]
    (tmp_path / "list.csv").write_text("path,emotion,subject\nhappy/0.png,joy,p1\n"
                                       "Angry/0.png,anger,p2\n")
    ds = load_folder(tmp_path, csv_file=tmp_path / "list.csv", size=16)
    assert ds.subjects.tolist() == ["p1", "p2"] and ds.labels.tolist() == [5, 1]


def test_folder_loader_reports_images_without_faces(tmp_path):
    import cv2

    (tmp_path / "sad").mkdir()
    noise = np.random.default_rng(0).integers(0, 255, (120, 120), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "sad" / "noise.png"), noise)
    ds = load_folder(tmp_path, crop=Crop(size=48))
    assert len(ds) == 0
    assert ds.rejected["reason"].tolist() == ["no face found"]
    assert ds.rejected["path"].iloc[0].endswith("noise.png")
