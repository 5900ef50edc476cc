"""Extended Cohn-Kanade (CK+): images, Emotion, FACS and Landmarks folders.

Layout (see ``shared/design/dataset-formats.md``)::

    cohn-kanade-images/S005/001/S005_001_00000011.png
    Emotion/S005/001/S005_001_00000011_emotion.txt     (or Emotion_labels/)
    FACS/S005/001/S005_001_00000011_facs.txt
    Landmarks/S005/001/S005_001_00000011_landmarks.txt

References
----------
Lucey, P. et al. (2010). The Extended Cohn-Kanade Dataset (CK+). CVPR Workshops.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..faces import Crop, align_many
from ..labels import CKPLUS
from .base import DatasetFormatError, FaceDataset
from .images import is_image, read_image

_FRAME = re.compile(r"^(S\d+)_(\d+)_(\d+)\.\w+$")


def read_numbers(path: Path, ncols: int, what: str) -> np.ndarray:
    """Parse a whitespace-separated numeric table with ``ncols`` columns per line.

    Written by hand rather than with ``numpy.loadtxt`` so that every error names the line,
    and a one-row file stays 2-D (CK+ FACS files with a single AU).
    """
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetFormatError(path, f"cannot read {what} file ({e})") from e
    rows = []
    for ln, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != ncols:
            raise DatasetFormatError(path, f"expected {ncols} number(s) per line in a {what} "
                                     f"file, got {len(parts)}: {line.strip()!r}", ln)
        try:
            rows.append([float(p) for p in parts])
        except ValueError:
            raise DatasetFormatError(path, f"not a number in {what} file: {line.strip()!r}",
                                     ln) from None
    if not rows:
        raise DatasetFormatError(path, f"empty {what} file; expected {ncols} number(s) per line")
    return np.array(rows)


@dataclass(frozen=True)
class Sequence:
    """One CK+ sequence: its frames (sorted) and annotations."""

    subject: str
    name: str
    frames: tuple[Path, ...]
    emotion: int  # -1: no Emotion file
    facs: dict[int, float]  # AU -> intensity (0 = present, not coded)
    facs_file: Path | None


def _subfolder(root: Path, names: tuple[str, ...], required: bool) -> Path | None:
    for n in names:
        if (root / n).is_dir():
            return root / n
    if required:
        found = sorted(p.name for p in root.iterdir()) if root.is_dir() else "nothing"
        raise DatasetFormatError(root, f"not a CK+ folder: expected a subfolder named "
                                 f"{' or '.join(names)}; found {found}")
    return None


def _one_file(folder: Path, suffix: str) -> Path | None:
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.iterdir() if p.name.endswith(suffix))
    if len(files) > 1:
        raise DatasetFormatError(folder, f"expected at most one *{suffix} file, found "
                                 f"{[f.name for f in files]}")
    return files[0] if files else None


def _emotion(path: Path) -> int:
    v = read_numbers(path, 1, "Emotion")
    if v.shape[0] != 1 or v[0, 0] != round(v[0, 0]) or not 0 <= v[0, 0] <= 7:
        raise DatasetFormatError(path, f"expected one emotion code 0-7, got {v.ravel().tolist()}")
    return int(v[0, 0])


def _facs(path: Path) -> dict[int, float]:
    v = read_numbers(path, 2, "FACS")
    out = {}
    for ln, (au, inten) in enumerate(v, 1):
        if au != round(au) or au < 1 or inten != round(inten) or not 0 <= inten <= 5:
            raise DatasetFormatError(path, f"expected 'AU intensity' with a positive integer AU "
                                     f"and intensity 0-5, got {au:g} {inten:g}", ln)
        out[int(au)] = float(inten)
    return out


def scan_ckplus(root) -> list[Sequence]:
    """List every sequence of a CK+ tree with its Emotion and FACS annotations."""
    root = Path(root)
    images = _subfolder(root, ("cohn-kanade-images",), True)
    emotion_dir = _subfolder(root, ("Emotion", "Emotion_labels"), False)
    facs_dir = _subfolder(root, ("FACS",), False)
    seqs = []
    for subj in sorted(p for p in images.iterdir() if p.is_dir()):
        for seq in sorted(p for p in subj.iterdir() if p.is_dir()):
            frames = []
            for f in seq.iterdir():
                if not is_image(f):
                    continue
                m = _FRAME.match(f.name)
                if not m or m.group(1) != subj.name or m.group(2) != seq.name:
                    raise DatasetFormatError(f, f"expected a frame named {subj.name}_{seq.name}"
                                             "_NNNNNNNN.png in this folder")
                frames.append((int(m.group(3)), f))
            if not frames:
                continue
            rel = Path(subj.name) / seq.name
            emo_file = _one_file(emotion_dir / rel, "_emotion.txt") if emotion_dir else None
            facs_file = _one_file(facs_dir / rel, "_facs.txt") if facs_dir else None
            seqs.append(Sequence(subj.name, seq.name, tuple(f for _, f in sorted(frames)),
                                 _emotion(emo_file) if emo_file else -1,
                                 _facs(facs_file) if facs_file else {}, facs_file))
    if not seqs:
        raise DatasetFormatError(images, "no sequences found (expected S###/###/*.png)")
    return seqs


def _landmarks(root: Path, frame: Path) -> np.ndarray:
    rel = frame.relative_to(root / "cohn-kanade-images").parent
    path = root / "Landmarks" / rel / f"{frame.stem}_landmarks.txt"
    if not path.is_file():
        raise DatasetFormatError(path, "missing landmarks file for this frame")
    lm = read_numbers(path, 2, "Landmarks")
    if lm.shape != (68, 2):
        raise DatasetFormatError(path, f"expected 68 lines 'x y', got {lm.shape[0]}")
    return lm


def load_ckplus(root, frames: str = "protocol", n_peak: int = 3, crop: Crop | None = Crop(),
                labelled_only: bool = True, grey: bool = True) -> FaceDataset:
    """Load CK+ (or a SynthFACS tree in CK+ format).

    Parameters
    ----------
    root : path
        Folder holding ``cohn-kanade-images`` and the annotation folders.
    frames : {'protocol', 'peak', 'all'}
        ``'protocol'``: the first frame of each sequence as neutral (label 0, no AUs) plus
        its last ``n_peak`` frames with the sequence's label and FACS codes (the common
        CK+ protocol). ``'peak'``: only the last ``n_peak``. ``'all'``: every frame; frames
        between the first and the last ``n_peak`` get label ``-1`` and no AU coding.
    crop : Crop or None
        Align with the ``Landmarks/`` files when present, else by face detection (frames
        with no face found are listed in ``rejected``). ``None`` keeps the raw frames
        (they must all have one size).
    labelled_only : bool
        Skip sequences without an Emotion file.

    Returns
    -------
    FaceDataset
        Labels in :data:`fer_helpers.labels.CKPLUS`; subjects; AU presence and intensity
        (NaN = present but not coded); landmarks.
    """
    root = Path(root)
    if frames not in ("protocol", "peak", "all"):
        raise ValueError(f"frames must be 'protocol', 'peak' or 'all', got {frames!r}")
    _subfolder(root, ("cohn-kanade-images",), True)  # is it CK+ at all?
    if labelled_only and _subfolder(root, ("Emotion", "Emotion_labels"), False) is None:
        raise DatasetFormatError(root, "no Emotion/ (or Emotion_labels/) folder, so no sequence "
                                 "is labelled; pass labelled_only=False to load them unlabelled")
    seqs = [s for s in scan_ckplus(root) if s.emotion >= 0 or not labelled_only]
    if not seqs:
        raise DatasetFormatError(root, "no labelled sequence (no *_emotion.txt file) found")
    au_codes = tuple(sorted({au for s in seqs for au in s.facs}))
    has_lm = (root / "Landmarks").is_dir()
    picks = []  # (sequence, frame path, label, coded?)
    for s in seqs:
        n = len(s.frames)
        peak = set(range(max(1, n - n_peak), n)) if n > 1 else {0}
        for t in range(n):
            if t == 0 and frames != "peak" and n > 1:
                picks.append((s, s.frames[t], 0, False))
            elif t in peak:
                picks.append((s, s.frames[t], s.emotion, True))
            elif frames == "all":
                picks.append((s, s.frames[t], -1, False))
    imgs = [read_image(p, grey) for _, p, _, _ in picks]
    paths = np.array([str(p) for _, p, _, _ in picks])
    lms = [_landmarks(root, p) for _, p, _, _ in picks] if has_lm else None
    presence = np.zeros((len(picks), len(au_codes)), bool)
    intensity = np.zeros((len(picks), len(au_codes)))
    for i, (s, _, _, coded) in enumerate(picks):
        if coded:
            for au, v in s.facs.items():
                j = au_codes.index(au)
                presence[i, j] = True
                intensity[i, j] = v if v > 0 else np.nan
    rejected = pd.DataFrame(columns=["path", "reason"])
    if crop is not None:
        arr, keep, lm_arr, report = align_many(imgs, paths, lms, crop)
        rejected = report.failed.rename(columns={"method": "reason"})[["path", "reason"]]
    else:
        shapes = {im.shape for im in imgs}
        if len(shapes) > 1:
            raise ValueError(f"CK+ frames under {root} have different sizes {sorted(shapes)}; "
                             "pass crop=Crop(...) to align them to one size")
        arr, keep = np.stack(imgs), np.arange(len(imgs))
        lm_arr = np.stack(lms) if lms is not None else None
    return FaceDataset(
        images=arr, labels=np.array([p[2] for p in picks], int)[keep], label_space=CKPLUS,
        paths=paths[keep], subjects=np.array([p[0].subject for p in picks])[keep],
        au_codes=au_codes, au_presence=presence[keep], au_intensity=intensity[keep],
        landmarks=lm_arr, name=f"CK+ ({root.name}, frames={frames})", rejected=rejected)
