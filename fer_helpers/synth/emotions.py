"""EMFACS-style emotion prototypes and sampling of AU intensities for an emotion."""

from __future__ import annotations

import numpy as np

from ..labels import EMOTIONS
from .face import AU_CODES

#: emotion -> (core AUs, optional AUs), after EMFACS (Friesen & Ekman, 1983).
PROTOTYPES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "neutral": ((), ()),
    "happiness": ((6, 12), (25,)),
    "sadness": ((1, 4, 15), (17,)),
    "surprise": ((1, 2, 5, 26), (25,)),
    "fear": ((1, 2, 4, 5, 7, 20, 26), (25,)),
    "anger": ((4, 5, 7, 23), (17,)),
    "disgust": ((9, 15, 16), (10, 17, 25)),
    "contempt": ((12, 14), ()),  # unilateral
}
assert set(PROTOTYPES) == set(EMOTIONS)

_INDEX = {c: i for i, c in enumerate(AU_CODES)}


def sample_aus(emotion: str, rng: np.random.Generator, intensity: tuple[int, int] = (2, 5),
               p_optional: float = 0.4, p_drop: float = 0.15, n_unrelated: float = 0.6,
               unrelated_max: int = 2) -> np.ndarray:
    """Integer AU intensities (A, 2) for one face showing ``emotion``.

    Core AUs get an intensity drawn from ``intensity`` (inclusive); each optional AU joins
    with probability ``p_optional``; one core AU of a prototype with three or more may be
    dropped with probability ``p_drop``; a Poisson(``n_unrelated``) number of unrelated AUs
    (intensity 1..``unrelated_max``) is mixed in, so emotion and AUs are not one-to-one.
    Contempt is one-sided (image-left or image-right at random).
    """
    core, optional = PROTOTYPES[emotion]
    aus = np.zeros((len(AU_CODES), 2))
    chosen = list(core)
    if len(chosen) >= 3 and rng.random() < p_drop:
        chosen.pop(int(rng.integers(len(chosen))))
    chosen += [c for c in optional if rng.random() < p_optional]
    lo, hi = intensity
    sides = [int(rng.integers(2))] if emotion == "contempt" else [0, 1]
    for c in chosen:
        aus[_INDEX[c], sides] = rng.integers(lo, hi + 1)
    others = [c for c in AU_CODES if c not in core and c not in optional]
    for c in rng.choice(others, size=min(len(others), rng.poisson(n_unrelated)), replace=False):
        aus[_INDEX[int(c)], :] = rng.integers(1, unrelated_max + 1)
    return aus
