"""Write SynthFACS in the real datasets' native formats (CK+ tree, FER2013 and FER+ CSVs).

The formats follow ``shared/design/dataset-formats.md``, quirks included (unlabelled
sequences, empty ``Emotion`` folders, one-AU FACS files, intensity 0 = present but not
coded, a few colour or 640x480 frames, stray ``.DS_Store`` files; FER+ image names that
drift from row numbers and "not a face" rows with an empty name).
"""

from __future__ import annotations

import csv
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from ..io import atomic_path
from ..labels import CKPLUS, EMOTIONS, FER2013, FERPLUS
from .emotions import sample_aus
from .face import AU_CODES
from .generate import DOMAINS, generate, identity
from .render import render

#: FER2013's class counts (anger ... neutral, in FER2013 code order), used as weights.
FER2013_COUNTS = (4953, 547, 5121, 8989, 6077, 4002, 6198)


def _sci(*values: float) -> str:
    return "".join(f"   {v:.7e}" for v in values) + "\n"


def _ck_sequence(args):
    """Render one CK+ sequence; return PNG bytes and landmark file texts per frame, the FACS
    codes and its ground-truth row."""
    cv2.setNumThreads(1)
    seed, subj, seq, p_emotion, p_labelled, p_uncoded, frames, quirks = args
    rng = np.random.default_rng([seed, DOMAINS["ckplus"].key, subj, seq])
    dom = DOMAINS["ckplus"]
    if quirks and rng.random() < 0.05:
        dom = replace(dom, size=(640, 480), centre=(320.0, 195.0))
    if rng.random() < p_emotion:
        emo = int(rng.integers(1, 8))  # CK+ sequence labels are 1-7
        aus = sample_aus(EMOTIONS[emo], rng, dom.intensity, n_unrelated=dom.n_unrelated)
        labelled = bool(rng.random() < p_labelled)
    else:  # a posed AU combination with no emotion label, as many CK+ sequences are
        emo, labelled = -1, False
        aus = np.zeros((len(AU_CODES), 2))
        for c in rng.choice(len(AU_CODES), size=int(rng.integers(1, 4)), replace=False):
            aus[c] = rng.integers(2, 6)
    scene = dom.scene(identity(seed, subj), aus, rng)
    n = int(rng.integers(frames[0], frames[1] + 1))
    colour = bool(quirks and rng.random() < 0.05)
    imgs, lms = [], []
    for t in range(n):
        ramp = 0.5 - 0.5 * np.cos(np.pi * t / (n - 1))  # neutral -> peak
        nz = replace(scene.nuisance, noise_seed=scene.nuisance.noise_seed + t)
        img, lm = render(replace(scene, aus=aus * ramp, nuisance=nz))
        if colour:
            img = np.clip(img[..., None] * np.array([0.88, 0.96, 1.04]), 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".png", img)  # encoded here, in the worker process
        if not ok:
            raise RuntimeError(f"PNG encoding failed for subject {subj}, sequence {seq}, "
                               f"frame {t + 1}")
        imgs.append(buf.tobytes())
        lms.append("".join(_sci(x, y) for x, y in np.round(lm, 2)))
    peak = aus.max(axis=1)
    present = np.flatnonzero(peak > 0)
    coded = {AU_CODES[i]: (0 if rng.random() < p_uncoded else int(peak[i])) for i in present}
    lat = ""
    if emo == 2:
        lat = "L" if aus[AU_CODES.index(12), 0] > 0 else "R"
    row = {"subject": f"S{subj + 5:03d}", "sequence": f"{seq + 1:03d}", "frames": n,
           "emotion": emo, "labelled": labelled, "laterality": lat, "colour": colour,
           "size": f"{dom.size[0]}x{dom.size[1]}",
           **{f"AU{c}": int(peak[i]) for i, c in enumerate(AU_CODES)},
           **{f"coded_AU{c}": coded.get(c, -1) for c in AU_CODES}}
    return imgs, lms, coded, row


def write_ckplus(root, n_subjects: int = 20, seed: int = 0, seqs_per_subject=(1, 6),
                 frames=(6, 12), p_emotion: float = 0.7, p_labelled: float = 0.85,
                 p_uncoded: float = 0.08, quirks: bool = True,
                 n_jobs: int | None = None):
    """Write a CK+ tree (``cohn-kanade-images``, ``Emotion``, ``FACS``, ``Landmarks``).

    Each subject is one synthetic identity; each sequence runs from neutral (first frame)
    to peak (last frame). Only the last frame gets ``Emotion`` and ``FACS`` files, every
    frame a ``Landmarks`` file. The ground truth (true peak intensities, the emotion of
    unlabelled sequences, contempt's side) goes to ``root/synthfacs_truth.csv``.

    Rendering runs in ``n_jobs`` spawned processes (default: all cores): in a script,
    call this under ``if __name__ == "__main__":``.

    Returns
    -------
    pandas.DataFrame
        The ground truth, one row per sequence.
    """
    rng = np.random.default_rng([seed, 99])
    jobs = []
    for s in range(n_subjects):
        k = int(rng.integers(seqs_per_subject[0], seqs_per_subject[1] + 1))
        seqs = np.sort(rng.choice(np.arange(12), size=k, replace=False))  # gaps, like CK+
        jobs += [(seed, s, int(q), p_emotion, p_labelled, p_uncoded, frames, quirks)
                 for q in seqs]
    n_jobs = n_jobs or os.cpu_count() or 1
    rows = []
    with atomic_path(root) as tmp:
        if n_jobs == 1:
            results = map(_ck_sequence, jobs)
            _write_ck(tmp, results, rows, quirks, rng)
        else:
            with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn")) as pool:
                _write_ck(tmp, pool.map(_ck_sequence, jobs, chunksize=4), rows, quirks, rng)
        import pandas as pd  # lazily: spawned render workers import this module

        truth = pd.DataFrame(rows)
        truth.to_csv(tmp / "synthfacs_truth.csv", index=False)
    return truth


def _write_ck(tmp: Path, results, rows, quirks: bool, rng) -> None:
    for imgs, lms, coded, row in results:
        s, q = row["subject"], row["sequence"]
        stem = f"{s}_{q}_{{:08d}}"
        img_dir = tmp / "cohn-kanade-images" / s / q
        lm_dir = tmp / "Landmarks" / s / q
        img_dir.mkdir(parents=True)
        lm_dir.mkdir(parents=True)
        for t, (png, lm_text) in enumerate(zip(imgs, lms, strict=True), start=1):
            (img_dir / (stem.format(t) + ".png")).write_bytes(png)
            (lm_dir / (stem.format(t) + "_landmarks.txt")).write_text(lm_text)
        last = stem.format(len(imgs))
        facs_dir = tmp / "FACS" / s / q
        facs_dir.mkdir(parents=True)
        (facs_dir / f"{last}_facs.txt").write_text(
            "".join(_sci(au, v) for au, v in sorted(coded.items())))
        emo_dir = tmp / "Emotion" / s / q
        if row["labelled"]:
            emo_dir.mkdir(parents=True)
            (emo_dir / f"{last}_emotion.txt").write_text(_sci(row["emotion"]))
        elif quirks and rng.random() < 0.5:
            emo_dir.mkdir(parents=True)  # CK+ ships empty Emotion folders
        if quirks and rng.random() < 0.1:
            (img_dir.parent / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
        rows.append(row)


def write_fer2013(path, n: int = 2000, seed: int = 0, split=(0.8, 0.1, 0.1),
                  ferplus_path=None, n_jobs: int | None = None):
    """Write a FER2013-format CSV (``emotion,pixels,Usage``) of 48x48 SynthFACS faces.

    Classes follow FER2013's seven (no contempt) with FER2013's class frequencies; rows
    run Training, then PublicTest, then PrivateTest. Optionally also writes a FER+ file
    (``fer2013new.csv`` format) aligned by row. Ground truth (identity, AUs) goes to
    ``<stem>_truth.csv`` beside ``path``.
    """
    path = Path(path)
    fer_names = FER2013.names
    faces = generate(n, "fer2013", seed, emotions=fer_names, weights=FER2013_COUNTS,
                     n_identities=max(1, n // 4), n_jobs=n_jobs)
    codes = CKPLUS.convert(faces.emotion, FER2013)
    cuts = np.round(np.cumsum(split)[:-1] / np.sum(split) * n).astype(int)
    usage = np.array(["Training"] * n, dtype=object)
    usage[cuts[0]:cuts[1]] = "PublicTest"
    usage[cuts[1]:] = "PrivateTest"
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
            f.write("emotion,pixels,Usage\n")
            for c, img, u in zip(codes, faces.images, usage, strict=True):
                w.writerow([int(c), " ".join(map(str, img.ravel().tolist())), u])
    import pandas as pd

    truth = pd.DataFrame({"row": np.arange(n), "identity": faces.identity,
                          "emotion_ckplus": faces.emotion, "emotion_fer2013": codes,
                          "Usage": usage})
    for i, c in enumerate(AU_CODES):
        truth[f"AU{c}"] = faces.au_intensity[:, i].astype(int)
    with atomic_path(path.with_name(path.stem + "_truth.csv")) as tmp:
        truth.to_csv(tmp, index=False)
    if ferplus_path is not None:
        _write_ferplus(ferplus_path, faces.emotion, usage, seed)
    return truth


def _write_ferplus(path, emotion_ck: np.ndarray, usage: np.ndarray, seed: int,
                   p_relabel: float = 0.15) -> None:
    """FER+ votes: 10 taggers; the majority goes to the face's emotion, except for a share
    ``p_relabel`` of rows where it goes to another class (FER+ relabelled many FER2013
    faces). Rows judged "not a face" get an empty name; names drift from row numbers."""
    rng = np.random.default_rng([seed, 77])
    cols = ["Usage", "Image name", *FERPLUS.names, "unknown", "NF"]
    rows, name = [], 0
    for e, u in zip(emotion_ck, usage, strict=True):
        votes = np.zeros(len(FERPLUS) + 2, int)
        if rng.random() < 0.004:  # "not a face": empty image name
            votes[-1] = 10
            rows.append([u, "", *votes])
            continue
        target = FERPLUS.code(EMOTIONS[int(e)])
        if rng.random() < p_relabel:  # taggers disagree with the FER2013 label, as in FER+
            target = int(rng.choice([c for c in range(len(FERPLUS)) if c != target]))
        top = int(rng.integers(5, 11))
        votes[target] = top
        for _ in range(10 - top):
            votes[rng.integers(len(votes) - 1)] += 1
        rows.append([u, f"fer{name:07d}.png", *votes])
        name += 1 + int(rng.random() < 0.01)  # names drift from row numbers
    import pandas as pd

    with atomic_path(path) as tmp:
        pd.DataFrame(rows, columns=cols).to_csv(tmp, index=False)
