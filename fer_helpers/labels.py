"""Emotion label spaces and the explicit mappings between them.

Every dataset in the book stores emotion labels as integer codes *in a named space*; the
spaces are converted by emotion name, never by code, so FER2013's ``0`` (angry) can never be
mistaken for CK+'s ``0`` (neutral).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Canonical emotion names used across the package.
EMOTIONS = ("neutral", "anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")

SYNONYMS = {
    "angry": "anger", "anger": "anger", "mad": "anger",
    "contempt": "contempt", "contemptuous": "contempt",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happiness", "happiness": "happiness", "joy": "happiness",
    "neutral": "neutral", "calm": "neutral",
    "sad": "sadness", "sadness": "sadness",
    "surprise": "surprise", "surprised": "surprise",
}


def canonical(name: str) -> str:
    """Canonical emotion name for ``name`` (case-insensitive, common synonyms accepted)."""
    key = str(name).strip().lower()
    if key not in SYNONYMS:
        raise ValueError(f"unknown emotion name {name!r}; expected one of "
                         f"{sorted(set(SYNONYMS))}")
    return SYNONYMS[key]


@dataclass(frozen=True)
class LabelSpace:
    """A named, ordered set of emotion classes; code ``i`` means ``names[i]``."""

    name: str
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.names)

    def code(self, emotion: str) -> int:
        """Integer code of ``emotion`` (any accepted spelling) in this space."""
        c = canonical(emotion)
        if c not in self.names:
            raise ValueError(f"{emotion!r} has no class in label space {self.name!r} "
                             f"({', '.join(self.names)})")
        return self.names.index(c)

    def mapping_to(self, other: LabelSpace) -> np.ndarray:
        """Array ``m`` with ``m[code_here] = code_there``, ``-1`` where ``other`` lacks it."""
        return np.array([other.names.index(n) if n in other.names else -1 for n in self.names])

    def convert(self, labels, other: LabelSpace) -> np.ndarray:
        """Convert integer ``labels`` to ``other``; ``-1`` stays ``-1`` (unknown)."""
        lab = np.asarray(labels, int)
        if lab.size and (lab.max() >= len(self) or lab.min() < -1):
            raise ValueError(f"labels outside 0..{len(self) - 1} for space {self.name!r}")
        m = np.append(self.mapping_to(other), -1)
        return m[lab]


#: CK+ ``Emotion/`` codes: 0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy,
#: 6 sadness, 7 surprise. The book's main 8-class space.
CKPLUS = LabelSpace("ckplus", EMOTIONS)
#: FER2013 ``emotion`` column: 0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral.
FER2013 = LabelSpace("fer2013", ("anger", "disgust", "fear", "happiness", "sadness", "surprise",
                                 "neutral"))
#: FER+ vote columns, in file order (``unknown`` and ``NF`` are not emotions).
FERPLUS = LabelSpace("ferplus", ("neutral", "happiness", "surprise", "sadness", "anger",
                                 "disgust", "fear", "contempt"))
SPACES = {s.name: s for s in (CKPLUS, FER2013, FERPLUS)}
