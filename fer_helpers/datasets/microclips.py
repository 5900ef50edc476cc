"""Micro-expression clips: coded AUs, the clip record, and reading its frames as arrays.

Used by the CASME II loader (:mod:`fer_helpers.datasets.casme2`); frame numbers are the
absolute numbers of the frame files (``img46.jpg`` is frame 46).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from .base import DatasetFormatError
from .images import read_image

#: The paper's five frames per clip (Breuer & Kimmel 2017, section 4), in this order.
KEY_FRAMES = ("onset", "apex", "offset", "first", "last")

_AU = re.compile(r"^(?:AU)?([LR]?)(?:AU)?(\d+)$", re.IGNORECASE)


class CodingSheetError(DatasetFormatError):
    """A coding-sheet row (spreadsheet numbering, header = row 1) is not usable."""

    def __init__(self, path, problem: str, row: int | None = None):
        super().__init__(path, problem)
        self.args = (f"{path}" + (f", row {row}" if row is not None else "") + f": {problem}",)
        self.line = row


class ActionUnit(NamedTuple):
    """One coded AU: its number and side (``""`` both, ``"L"``/``"R"`` subject's left/right)."""

    code: int
    side: str = ""

    def __str__(self) -> str:
        return f"{self.side}{self.code}"


def parse_aus(text) -> tuple[ActionUnit, ...]:
    """Parse an ``Action Units`` cell: ``4+L10+17``, ``R12``, ``AU4+AU7`` or a number.

    Raises
    ------
    ValueError
        For anything else, naming the offending part.
    """
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        text = str(int(text))
    elif isinstance(text, float) and text.is_integer():
        text = str(int(text))
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"expected AUs such as '4+L10+17', got {text!r}")
    out = []
    for part in text.split("+"):
        m = _AU.match(part.strip())
        if not m:
            raise ValueError(f"cannot read AU {part.strip()!r} in {text!r} (expected a number "
                             "with an optional L/R prefix, as in '4+L10+17')")
        out.append(ActionUnit(int(m.group(2)), m.group(1).upper()))
    return tuple(out)


@dataclass(frozen=True)
class MicroClip:
    """One coded micro-expression clip; frame numbers are the absolute ``img{n}`` numbers."""

    subject: str  # zero-padded, e.g. "01" (folder "sub01")
    episode: str  # the sheet's Filename, e.g. "EP02_01f"
    frames: tuple[Path, ...]  # every frame of the folder, in frame-number order
    first: int  # number of frames[0]
    onset: int
    apex: int | None  # None where the sheet says "/" (see Casme2.report)
    offset: int
    aus: tuple[ActionUnit, ...]
    emotion: str  # the sheet's estimated emotion
    label: int  # class index in the loaded scheme
    sheet: Path
    row: int  # spreadsheet row of the coding sheet

    @property
    def last(self) -> int:
        """Number of the folder's last frame."""
        return self.first + len(self.frames) - 1

    @property
    def source(self) -> str:
        """Where the clip is coded: sheet and row."""
        return f"{self.sheet}, row {self.row}"

    def frame(self, number: int) -> Path:
        """Path of frame ``img{number}``."""
        if not self.first <= number <= self.last:
            raise IndexError(f"frame {number} is outside img{self.first}..img{self.last} of "
                             f"sub{self.subject}/{self.episode}")
        return self.frames[number - self.first]

    def key_numbers(self, apex_fallback: str | None = None) -> tuple[int, ...]:
        """Frame numbers of :data:`KEY_FRAMES` (onset, apex, offset, first, last).

        ``apex_fallback="middle"`` uses ``(onset + offset) // 2`` where the apex is ``/``;
        by default an unknown apex is an error naming the sheet and row.
        """
        apex = self.apex
        if apex is None:
            if apex_fallback != "middle":
                raise CodingSheetError(self.sheet, f"ApexFrame is '/' for sub{self.subject}/"
                                       f"{self.episode}; pass apex_fallback='middle' to use "
                                       "the middle frame", self.row)
            apex = (self.onset + self.offset) // 2
        return (self.onset, apex, self.offset, self.first, self.last)


def _resize(img: np.ndarray, size: int | None) -> np.ndarray:
    if size is None or img.shape[:2] == (size, size):
        return img
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def _read(clip: MicroClip, path: Path, size: int | None, grey: bool) -> np.ndarray:
    try:
        return _resize(read_image(path, grey), size)
    except DatasetFormatError as e:
        raise DatasetFormatError(path, f"{e.problem} (frame of sub{clip.subject}/"
                                 f"{clip.episode}, {clip.source})") from None


def read_key_frames(clip: MicroClip, size: int | None = None,
                    apex_fallback: str | None = None, grey: bool = True) -> np.ndarray:
    """The five frames of :data:`KEY_FRAMES` as ``(5, H, W)`` uint8 (resized to ``size``)."""
    return np.stack([_read(clip, clip.frame(n), size, grey)
                     for n in clip.key_numbers(apex_fallback)])


def read_clip(clip: MicroClip, length: int | None = None, size: int | None = None,
              span: str = "clip", grey: bool = True) -> np.ndarray:
    """A clip's frames, optionally linearly resampled in time to ``length`` frames.

    Parameters
    ----------
    length : int, optional
        Output frames; each is a linear blend of its two neighbouring frames (the usual
        stand-in for a temporal interpolation model). ``None`` keeps every frame.
    span : {'clip', 'onset-offset'}
        The whole folder, or only the frames from onset to offset.

    Returns
    -------
    numpy.ndarray
        ``(T, H, W)`` uint8 (``(T, H, W, 3)`` with ``grey=False``).
    """
    if span not in ("clip", "onset-offset"):
        raise ValueError(f"span must be 'clip' or 'onset-offset', got {span!r}")
    lo, hi = (clip.first, clip.last) if span == "clip" else (clip.onset, clip.offset)
    paths = [clip.frame(n) for n in range(lo, hi + 1)]
    if length is None:
        return np.stack([_read(clip, p, size, grey) for p in paths])
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    pos = np.linspace(0.0, len(paths) - 1, length)
    below = np.floor(pos).astype(int)
    above = np.minimum(below + 1, len(paths) - 1)
    cache: dict[int, np.ndarray] = {}

    def frame(i: int) -> np.ndarray:
        if i not in cache:
            cache[i] = _read(clip, paths[i], size, grey).astype(np.float32)
        return cache[i]

    out = [(1.0 - w) * frame(a) + w * frame(b)
           for a, b, w in zip(below, above, pos - below, strict=True)]
    return np.clip(np.round(np.stack(out)), 0, 255).astype(np.uint8)


__all__ = ["KEY_FRAMES", "ActionUnit", "CodingSheetError", "MicroClip", "parse_aus", "read_clip",
           "read_key_frames"]
