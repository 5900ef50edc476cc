"""Write SynthFACS micro-expression clips in CASME II's own layout.

Layout (see ``shared/design/dataset-formats.md``)::

    CASME2-coding-20140508.xlsx
    CASME2_RAW_selected/sub01/EP02_01f/img46.jpg     (absolute frame numbers)
    Cropped/sub01/EP02_01f/reg_img46.jpg             (registered crops; optional)
    synthfacs_truth.csv                               (ground truth, not part of CASME II)

The coding sheet has CASME II's columns, quirks included: two blank unnamed columns,
``Subject`` as zero-padded text (pandas reads it back as an int unless told otherwise), an
occasional ``/`` for ``ApexFrame``, AU strings such as ``4+L10+17`` and ``R12`` (single
bilateral AUs stored as numbers, as a spreadsheet does), and the seven estimated emotions.
How the clips move and which AUs make which class: :mod:`fer_helpers.synth.micro`.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from ..io import atomic_path
from .face import AU_CODES
from .micro import (
    CASME2_COUNTS,
    CASME2_EMOTIONS,
    KEY,
    MicroStyle,
    format_aus,
    render_clip,
    sample_clip,
)

SHEET = "CASME2-coding-20140508.xlsx"
RAW = "CASME2_RAW_selected"
CROPPED = "Cropped"
COLUMNS = ("Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
           "Action Units", "Estimated Emotion")


def _encode(frames: np.ndarray, quality: int, where: str) -> list[bytes]:
    out = []
    for t, img in enumerate(frames):
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError(f"JPEG encoding failed for {where}, frame {t}")
        out.append(buf.tobytes())
    return out


def _clip_job(args):
    """Render one clip in a worker; return its JPEG bytes and its ground-truth row."""
    cv2.setNumThreads(1)
    seed, subject, index, emotion, style, first, cropped, quality, name = args
    spec = sample_clip(seed, subject, index, emotion, style)
    frames, crops, _ = render_clip(spec, registered=cropped)
    where = f"sub{subject:02d}/{name}"
    raw = _encode(frames, quality, where)
    reg = _encode(crops, quality, where) if cropped else []
    row = {"subject": subject, "filename": name, "emotion": emotion,
           "pattern": "+".join(map(str, spec.pattern)), "aus": format_aus(spec.aus),
           "first_frame": first, "last_frame": first + spec.n_frames - 1,
           "onset": first + spec.onset, "apex": first + spec.apex,
           "offset": first + spec.offset,
           "blink_start": first + spec.blink[0] if spec.blink else -1,
           "blink_frames": spec.blink[1] if spec.blink else 0,
           "head_motion_px": float(np.abs(spec.motion[:, :2]).max() * spec.scene.pose.scale),
           "raw_size": f"{spec.scene.size[0]}x{spec.scene.size[1]}"}
    for a, code in enumerate(AU_CODES):  # subject's left = image-right half (column 1)
        row[f"AU{code}_L"] = round(float(spec.aus[a, 1]), 4)
        row[f"AU{code}_R"] = round(float(spec.aus[a, 0]), 4)
    return raw, reg, row


def _plan(seed: int, n_subjects: int, clips_per_subject, weights):
    """Per clip: subject, index, emotion, episode name, first frame number."""
    rng = np.random.default_rng([seed, KEY, 0])
    w = np.asarray(weights, float)
    w = w / w.sum()
    jobs = []
    for subject in range(1, n_subjects + 1):
        k = int(rng.integers(clips_per_subject[0], clips_per_subject[1] + 1))
        used: dict[int, int] = {}
        for index in range(k):
            ep = int(rng.integers(1, 20))
            used[ep] = used.get(ep, 0) + 1
            name = f"EP{ep:02d}_{used[ep]:02d}" + ("f" if rng.random() < 0.6 else "")
            emotion = CASME2_EMOTIONS[int(rng.choice(len(w), p=w))]
            jobs.append((subject, index, emotion, name, int(rng.integers(1, 300))))
    return jobs


def write_casme2(root, *, n_subjects: int = 26, seed: int = 0, clips_per_subject=(4, 15),
                 cropped: bool = True, weights=CASME2_COUNTS, p_slash_apex: float = 0.04,
                 quality: int = 90, n_jobs: int | None = None, **style):
    """Write a CASME II tree of SynthFACS micro-expression clips (200 fps, grey JPEG).

    Parameters
    ----------
    root : path
        Folder to create; written under a temporary name and renamed at the end, so it is
        never half-written (an existing folder is replaced).
    n_subjects : int
        Subjects ``sub01`` ...; each is one synthetic person.
    seed : int
        The same seed and arguments give the same bytes, whatever ``n_jobs``.
    clips_per_subject : (int, int)
        Inclusive range of clips per subject.
    cropped : bool
        Also write ``Cropped/subNN/<clip>/reg_img{n}.jpg``: each frame registered to the
        face frame, which removes the head motion.
    weights : sequence of 7 floats
        Class weights in :data:`~fer_helpers.synth.micro.CASME2_EMOTIONS` order (default:
        roughly CASME II's class sizes).
    p_slash_apex : float
        Share of rows whose ``ApexFrame`` is written as ``/`` (the truth keeps the apex).
    quality : int
        JPEG quality.
    n_jobs : int, optional
        Worker processes (default: all cores). Workers are spawned: in a script, call this
        under ``if __name__ == "__main__":``.
    **style
        Fields of :class:`~fer_helpers.synth.micro.MicroStyle` (crop ``size``, ``raw_size``
        (CASME II: ``(640, 480)``, about 6x slower), ``envelope``, ``neutral``,
        ``intensity``, ``p_one_sided``, ``p_blink``, ``head_motion``); the rest keep its
        defaults.

    Returns
    -------
    pandas.DataFrame
        The ground truth (also ``root/synthfacs_truth.csv``), one row per clip, in sheet
        order: subject (zero-padded text), filename, emotion, AU pattern and AU string,
        first/last frame, onset/apex/offset (absolute), ``apex_in_sheet``, blink, head
        motion and ``AU{n}_L``/``AU{n}_R`` peak intensities (subject's left/right).
    """
    unknown = sorted(set(style) - ({f.name for f in fields(MicroStyle)} - {"fps"}))
    if unknown:  # fps too: a CASME II tree is 200 fps
        raise TypeError(f"write_casme2 got unknown style argument(s) {unknown}; it takes the "
                        "fields of MicroStyle but fps")
    style = MicroStyle(**{k: tuple(np.asarray(v).tolist()) if isinstance(v, (list, np.ndarray))
                          else v for k, v in style.items()})
    if n_subjects < 1 or not 1 <= clips_per_subject[0] <= clips_per_subject[1]:
        raise ValueError(f"need n_subjects >= 1 and 1 <= clips_per_subject[0] <= [1], got "
                         f"{n_subjects} and {clips_per_subject}")
    if len(weights) != len(CASME2_EMOTIONS):
        raise ValueError(f"weights needs {len(CASME2_EMOTIONS)} values, one per emotion in "
                         f"{CASME2_EMOTIONS}")
    plan = _plan(seed, n_subjects, clips_per_subject, weights)
    jobs = [(seed, s, i, emo, style, first, cropped, quality, name)
            for s, i, emo, name, first in plan]
    n_jobs = n_jobs or os.cpu_count() or 1
    rows = []
    with atomic_path(root) as tmp:
        if n_jobs == 1 or len(jobs) < 2:
            _write_clips(tmp, map(_clip_job, jobs), rows)
        else:
            with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn")) as pool:
                _write_clips(tmp, pool.map(_clip_job, jobs, chunksize=2), rows)
        import pandas as pd  # lazily: spawned render workers import this module

        truth = pd.DataFrame(rows).sort_values(["subject", "filename"], kind="stable")
        slash = np.random.default_rng([seed, KEY, 1]).random(len(truth)) < p_slash_apex
        truth["subject"] = [f"{s:02d}" for s in truth["subject"]]
        truth["apex_in_sheet"] = np.where(slash, "/", truth["apex"].astype(str))
        truth = truth.reset_index(drop=True)
        _write_sheet(tmp / SHEET, truth)
        truth.to_csv(tmp / "synthfacs_truth.csv", index=False)
    return truth


def _write_clips(tmp: Path, results, rows) -> None:
    for raw, reg, row in results:
        rel = Path(f"sub{row['subject']:02d}") / row["filename"]
        for top, prefix, data in ((RAW, "img", raw), (CROPPED, "reg_img", reg)):
            if not data:
                continue
            folder = tmp / top / rel
            folder.mkdir(parents=True)
            for n, jpg in enumerate(data, start=row["first_frame"]):
                (folder / f"{prefix}{n}.jpg").write_bytes(jpg)
        rows.append(row)


def _sheet_cell_aus(text: str):
    """A single bilateral AU is a number in a spreadsheet cell; anything else stays text."""
    return int(text) if text.isdigit() else text


def _write_sheet(path: Path, truth) -> None:
    """The coding sheet via pandas + openpyxl, with fixed timestamps (same bytes per seed)."""
    import pandas as pd

    cells = [list(COLUMNS)]
    for r in truth.itertuples(index=False):
        apex = "/" if r.apex_in_sheet == "/" else int(r.apex)
        cells.append([r.subject, r.filename, None, int(r.onset), apex, int(r.offset), None,
                      _sheet_cell_aus(r.aus), r.emotion])
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        pd.DataFrame(cells).to_excel(xl, sheet_name="Sheet1", header=False, index=False)
    _stable_zip(buf.getvalue(), path)


def _stable_zip(data: bytes, path: Path) -> None:
    """Rewrite an .xlsx with fixed member times and document dates."""
    stamp = "2014-05-08T00:00:00Z"
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp.encode(), body)
            fixed = zipfile.ZipInfo(info.filename, date_time=(2014, 5, 8, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, body)
