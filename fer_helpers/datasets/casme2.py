"""CASME II micro-expression clips: the coding sheet and the frame folders.

Layout (see ``shared/design/dataset-formats.md``)::

    CASME2-coding-20140508.xlsx                      (other dates exist; ``sheet=`` to pick)
    CASME2_RAW_selected/sub01/EP02_01f/img46.jpg     (or CASME2-RAW/; absolute frame numbers)
    Cropped/sub01/EP02_01f/reg_img46.jpg             (registered crops)

Sheet columns: ``Subject``, ``Filename``, a blank one, ``OnsetFrame``, ``ApexFrame``,
``OffsetFrame``, a blank one, ``Action Units``, ``Estimated Emotion``. Rows are numbered as
a spreadsheet shows them (header = row 1). Every bad row is an error naming the sheet and
the row, or with ``errors="skip"`` a skipped row listed in :attr:`Casme2.report` (with a
warning); rows outside the class scheme and ``/`` apexes are listed there too.

Class schemes: ``"5class"`` (happiness, disgust, repression, surprise, others; sadness and
fear dropped, as usual for CASME II), ``"3class"`` (MEGC 2019: positive = happiness,
negative = disgust + repression, surprise; others, sadness and fear dropped) and
``"all"`` (the seven estimated emotions).

References
----------
Yan, W.-J. et al. (2014). CASME II: An improved spontaneous micro-expression database and
the baseline evaluation. PLOS ONE 9(1): e86041.
See, J. et al. (2019). MEGC 2019 - the second facial micro-expressions grand challenge. FG.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from .base import DatasetFormatError
from .images import is_image
from .microclips import (
    ActionUnit,
    CodingSheetError,
    MicroClip,
    parse_aus,
    read_clip,
    read_key_frames,
)

#: Estimated emotions of the CASME II coding sheet.
EMOTIONS = ("happiness", "disgust", "repression", "surprise", "others", "sadness", "fear")
#: Class scheme -> {estimated emotion: class}; emotions missing from a scheme are dropped.
SCHEMES: dict[str, dict[str, str]] = {
    "5class": {e: e for e in EMOTIONS[:5]},
    "3class": {"happiness": "positive", "disgust": "negative", "repression": "negative",
               "surprise": "surprise"},
    "all": {e: e for e in EMOTIONS},
}
#: Class names (label order) of each scheme.
CLASSES = {"5class": EMOTIONS[:5], "3class": ("positive", "negative", "surprise"),
           "all": EMOTIONS}
REQUIRED = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
            "Estimated Emotion")
FOLDERS = {"raw": ("CASME2_RAW_selected", "CASME2-RAW", "CASME2_RAW"), "cropped": ("Cropped",)}
_PREFIX = {"raw": "img", "cropped": "reg_img"}
_REPORT = ["file", "row", "subject", "episode", "problem", "action"]


@dataclass
class Casme2:
    """CASME II clips of one class scheme, with the report of every row not loaded as is.

    Attributes
    ----------
    clips : list of MicroClip
    scheme : str
        ``'5class'``, ``'3class'`` or ``'all'``.
    classes : tuple of str
        Class names; ``clip.label`` indexes them.
    variant : str
        ``'raw'`` (``img{n}``) or ``'cropped'`` (``reg_img{n}``).
    sheet, frames_dir : Path
    report : pandas.DataFrame
        ``file, row, subject, episode, problem, action``; action is ``skipped`` (bad row,
        ``errors='skip'``), ``dropped`` (emotion outside the scheme) or ``kept`` (a note,
        e.g. a ``/`` apex).
    """

    clips: list[MicroClip]
    scheme: str
    classes: tuple[str, ...]
    variant: str
    sheet: Path
    frames_dir: Path
    report: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_REPORT))

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def labels(self) -> np.ndarray:
        """``(n,)`` int class index per clip."""
        return np.array([c.label for c in self.clips], int)

    @property
    def subjects(self) -> np.ndarray:
        """``(n,)`` str subject per clip (the groups of leave-one-subject-out)."""
        return np.array([c.subject for c in self.clips], dtype=str)

    def subset(self, index) -> Casme2:
        """Clips ``index`` (indices or boolean mask), e.g. ``ds.subset(ds.subjects != "01")``."""
        idx = np.arange(len(self))[np.asarray(index)]
        return replace(self, clips=[self.clips[i] for i in idx])

    def to_frame(self) -> pd.DataFrame:
        """One row per clip: subject, episode, frame numbers, AUs, emotion, class, row."""
        return pd.DataFrame([{
            "subject": c.subject, "episode": c.episode, "first": c.first, "last": c.last,
            "onset": c.onset, "apex": c.apex, "offset": c.offset,
            "aus": "+".join(map(str, c.aus)), "emotion": c.emotion,
            "class": self.classes[c.label], "row": c.row} for c in self.clips])

    def key_frames(self, size: int | None = None, apex_fallback: str | None = None,
                   grey: bool = True) -> np.ndarray:
        """``(n, 5, H, W)`` uint8: the :data:`KEY_FRAMES` of every clip."""
        return _stack([read_key_frames(c, size, apex_fallback, grey) for c in self.clips],
                      self.frames_dir)

    def sequences(self, length: int, size: int | None = None, span: str = "clip",
                  grey: bool = True) -> np.ndarray:
        """``(n, length, H, W)`` uint8: every clip resampled to ``length`` frames."""
        return _stack([read_clip(c, length, size, span, grey) for c in self.clips],
                      self.frames_dir)

    def __repr__(self) -> str:
        counts = self.report["action"].value_counts().to_dict() if len(self.report) else {}
        return (f"Casme2({self.scheme}, {len(self)} clips of "
                f"{len(set(self.subjects.tolist()))} subjects, {self.variant} frames, "
                f"report={counts})")


def _stack(arrays: list[np.ndarray], where: Path) -> np.ndarray:
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"clips under {where} have different frame sizes {sorted(shapes)}; "
                         "pass size=... to resize them to one")
    return np.stack(arrays)


def read_coding_sheet(path) -> pd.DataFrame:
    """The coding sheet's first worksheet as cells (``object`` dtype), rows indexed as in a
    spreadsheet (header = row 1). Errors name the file: unreadable, missing columns, empty."""
    path = Path(path)
    try:
        df = pd.read_excel(path, sheet_name=0, dtype=object)
    except ImportError as e:
        raise DatasetFormatError(path, f"cannot read this spreadsheet format ({e}); save it "
                                 "as .xlsx or install the reader pandas names") from e
    except Exception as e:  # noqa: BLE001 - any reader failure is a format problem here
        raise DatasetFormatError(path, f"cannot read the coding sheet ({e})") from e
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise CodingSheetError(path, f"header lacks column(s) {missing}; found "
                               f"{list(df.columns)}", 1)
    if len(df) == 0:
        raise CodingSheetError(path, "the coding sheet has a header but no data rows", 2)
    df.index = np.arange(2, len(df) + 2)
    return df


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or \
        (isinstance(v, str) and not v.strip())


def _number(v, column: str, sheet: Path, row: int) -> int:
    if _blank(v):
        raise CodingSheetError(sheet, f"{column} is empty", row)
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and v.strip().isdigit():
        return int(v.strip())
    raise CodingSheetError(sheet, f"{column} must be a frame number, got {v!r}", row)


def _subject(v, sheet: Path, row: int) -> str:
    if _blank(v):
        raise CodingSheetError(sheet, "Subject is empty", row)
    if isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer()):
        text = str(int(v))
    else:
        text = str(v).strip().removeprefix("sub")
    if not text.isdigit():
        raise CodingSheetError(sheet, f"Subject must be a number such as '01', got {v!r}", row)
    return text.zfill(2)


def _frames(folder: Path, variant: str, sheet: Path, row: int) -> tuple[int, list[Path]]:
    """The folder's frames sorted by number; gaps and stray names are errors."""
    if not folder.is_dir():
        raise CodingSheetError(sheet, f"frame folder {folder} does not exist", row)
    prefix = _PREFIX[variant]
    found: dict[int, Path] = {}
    for f in folder.iterdir():
        if not is_image(f):
            continue
        m = re.fullmatch(rf"{prefix}(\d+)", f.stem)
        if not m:
            raise CodingSheetError(sheet, f"{f}: unexpected frame name (expected "
                                   f"{prefix}<number>{f.suffix})", row)
        n = int(m.group(1))
        if n in found:
            raise CodingSheetError(sheet, f"{folder}: frame {n} twice ({found[n].name}, "
                                   f"{f.name})", row)
        found[n] = f
    if not found:
        raise CodingSheetError(sheet, f"frame folder {folder} holds no {prefix}<n> images", row)
    numbers = sorted(found)
    first, last = numbers[0], numbers[-1]
    if len(numbers) != last - first + 1:
        gaps = sorted(set(range(first, last + 1)) - set(numbers))
        shown = ", ".join(f"{prefix}{n}" for n in gaps[:5]) + (" ..." if len(gaps) > 5 else "")
        raise CodingSheetError(sheet, f"frame numbers in {folder} have gaps: {len(gaps)} "
                               f"missing ({shown}) between {prefix}{first} and {prefix}{last}",
                               row)
    return first, [found[n] for n in numbers]


def _clip(r, sheet: Path, row: int, frames_dir: Path, variant: str, notes: list,
          check_images: bool) -> MicroClip:
    subject = _subject(r["Subject"], sheet, row)
    episode = r["Filename"]
    if _blank(episode) or not isinstance(episode, str) or "/" in episode or "\\" in episode:
        raise CodingSheetError(sheet, f"Filename must be a clip folder name such as "
                               f"'EP02_01f', got {episode!r}", row)
    episode = episode.strip()
    onset = _number(r["OnsetFrame"], "OnsetFrame", sheet, row)
    offset = _number(r["OffsetFrame"], "OffsetFrame", sheet, row)
    if offset < onset:
        raise CodingSheetError(sheet, f"OffsetFrame {offset} is before OnsetFrame {onset}", row)
    apex_cell = r["ApexFrame"]
    if isinstance(apex_cell, str) and apex_cell.strip() == "/":
        apex = None
        notes.append((row, subject, episode, "ApexFrame is '/': apex unknown", "kept"))
    else:
        apex = _number(apex_cell, "ApexFrame", sheet, row)
        if not onset <= apex <= offset:
            raise CodingSheetError(sheet, f"ApexFrame {apex} is outside the clip "
                                   f"(OnsetFrame {onset} .. OffsetFrame {offset})", row)
    word = r["Estimated Emotion"]
    emotion = word.strip().lower() if isinstance(word, str) else word
    if emotion not in EMOTIONS:
        raise CodingSheetError(sheet, f"unknown Estimated Emotion {word!r}; expected one of "
                               f"{list(EMOTIONS)}", row)
    if _blank(r["Action Units"]):
        aus: tuple[ActionUnit, ...] = ()
        notes.append((row, subject, episode, "Action Units is empty", "kept"))
    else:
        try:
            aus = parse_aus(r["Action Units"])
        except ValueError as e:
            raise CodingSheetError(sheet, f"Action Units: {e}", row) from None
    first, paths = _frames(frames_dir / f"sub{subject}" / episode, variant, sheet, row)
    last = first + len(paths) - 1
    if onset < first or offset > last:
        raise CodingSheetError(sheet, f"OnsetFrame..OffsetFrame {onset}..{offset} is not "
                               f"within the frames of {frames_dir / f'sub{subject}' / episode} "
                               f"({_PREFIX[variant]}{first}..{_PREFIX[variant]}{last})", row)
    if check_images:
        for p in paths:
            if cv2.imread(str(p), cv2.IMREAD_UNCHANGED) is None:
                raise CodingSheetError(sheet, f"{p}: cannot read image", row)
    return MicroClip(subject, episode, tuple(paths), first, onset, apex, offset, aus, emotion,
                     -1, sheet, row)


def find_sheet(root) -> Path:
    """The coding sheet in ``root``: the one ``.xlsx``/``.xls``, or ``CASME2-coding-*``."""
    root = Path(root)
    found = sorted(p for p in root.glob("*.xls*") if not p.name.startswith(("~$", ".")))
    if len(found) > 1:
        found = [p for p in found if p.name.lower().startswith("casme2-coding")] or found
    if len(found) != 1:
        what = "no" if not found else f"{len(found)} ({[p.name for p in found]})"
        raise DatasetFormatError(root, f"{what} coding sheet(s) (.xlsx/.xls) here; pass "
                                 "sheet=... to name the one to use")
    return found[0]


def load_casme2(root, scheme: str = "5class", variant: str = "raw", sheet=None,
                frames_dir=None, errors: str = "raise", check_images: bool = False) -> Casme2:
    """Load CASME II (or a SynthFACS tree in its layout) as coded clips.

    Parameters
    ----------
    root : path
        Folder with the coding sheet and the frame folders.
    scheme : {'5class', '3class', 'all'}
        Class scheme (module docstring); rows outside it are dropped and reported.
    variant : {'raw', 'cropped'}
        ``CASME2_RAW_selected/.../img{n}`` (or ``CASME2-RAW``) or ``Cropped/.../reg_img{n}``.
    sheet, frames_dir : path, optional
        Override the coding sheet (:func:`find_sheet`) or the frame folder.
    errors : {'raise', 'skip'}
        A bad row raises :class:`CodingSheetError` naming the sheet and row, or is skipped,
        listed in ``report`` and warned about. Problems of the whole file (unreadable, no
        data rows, missing columns) always raise. Real CASME II sheets have a few bad rows
        (an apex before its onset, an offset past the folder's frames): load them with
        ``errors="skip"`` and show ``report``.
    check_images : bool
        Decode every frame now, so an unreadable image is a row error (or skip) at load
        time rather than when the frames are read.

    Returns
    -------
    Casme2
        Clips in sheet order, labels in ``classes``, the report of every row not loaded as is.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {sorted(SCHEMES)}, got {scheme!r}")
    if variant not in FOLDERS:
        raise ValueError(f"variant must be one of {sorted(FOLDERS)}, got {variant!r}")
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    root = Path(root)
    sheet = Path(sheet) if sheet is not None else find_sheet(root)
    if frames_dir is None:
        frames_dir = next((root / n for n in FOLDERS[variant] if (root / n).is_dir()), None)
        if frames_dir is None:
            raise DatasetFormatError(root, f"no {variant} frame folder: expected one of "
                                     f"{list(FOLDERS[variant])}")
    frames_dir = Path(frames_dir)
    df = read_coding_sheet(sheet)
    mapping, classes = SCHEMES[scheme], CLASSES[scheme]
    clips, notes, seen = [], [], {}
    for row, r in df.iterrows():
        if all(_blank(v) for v in r.to_numpy()):
            notes.append((row, "", "", "blank row", "kept"))
            continue
        try:
            clip = _clip(r, sheet, row, frames_dir, variant, notes, check_images)
            key = (clip.subject, clip.episode)
            if key in seen:
                raise CodingSheetError(sheet, f"sub{key[0]}/{key[1]} is coded twice (rows "
                                       f"{seen[key]} and {row})", row)
            seen[key] = row
        except CodingSheetError as e:
            if errors == "raise":
                raise
            notes.append((row, str(r["Subject"]), str(r["Filename"]), str(e), "skipped"))
            continue
        if clip.emotion not in mapping:
            notes.append((row, clip.subject, clip.episode, f"{clip.emotion} is not a class of "
                          f"the {scheme} scheme", "dropped"))
            continue
        clips.append(replace(clip, label=classes.index(mapping[clip.emotion])))
    report = pd.DataFrame([(str(sheet), *n) for n in sorted(notes, key=lambda n: n[0])],
                          columns=_REPORT)
    skipped = int((report["action"] == "skipped").sum())
    if skipped:
        warnings.warn(f"{sheet}: {skipped} row(s) skipped (rows "
                      f"{report.loc[report['action'] == 'skipped', 'row'].tolist()}); see "
                      "Casme2.report", stacklevel=2)
    if not clips:
        counts = report["action"].value_counts().to_dict()
        raise DatasetFormatError(sheet, f"no clip left in the {scheme} scheme from {len(df)} "
                                 f"rows ({counts}); first problem: {report['problem'].iloc[0]}")
    return Casme2(clips, scheme, classes, variant, sheet, frames_dir, report)


__all__ = ["CLASSES", "EMOTIONS", "SCHEMES", "Casme2", "find_sheet", "load_casme2",
           "read_coding_sheet"]
