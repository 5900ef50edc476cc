"""Per-AU region masks on the reference face, in the book's aligned crop frame.

The frame is :class:`fer_helpers.faces.Crop`'s: eyes level, their midpoint at
``(0.5, EYE_Y)`` of the crop, inter-ocular distance ``EYE_DISTANCE`` of its width.
"""

from __future__ import annotations

import numpy as np

from ..faces import EYE_DISTANCE, EYE_Y
from .face import AU_CODES, N_POINTS, identity_modes
from .render import Identity, Pose, Scene, au_region_masks, render


def reference_identity() -> Identity:
    """The average SynthFACS person: every identity mode at 0, no asymmetry."""
    return Identity(shape=np.zeros(len(identity_modes())), jitter=np.zeros((N_POINTS, 2)),
                    skin=160.0, hair=50.0, lips=120.0, brows=60.0, iris=50.0,
                    brow_width=0.075, forehead=1.38, hairline=1.1)


def reference_face(size: int = 48, aus: np.ndarray | None = None):
    """Render the reference face (neutral unless ``aus`` is given) in the aligned frame.

    Returns
    -------
    image : (size, size) uint8
    landmarks : (68, 2) float
    """
    aus = np.zeros((len(AU_CODES), 2)) if aus is None else aus
    pose = Pose(size * 0.5 - 0.5, size * EYE_Y - 0.5, size * EYE_DISTANCE)
    return render(Scene(reference_identity(), aus, pose, size=(size, size), supersample=2))


def reference_region_masks(size: int = 48) -> np.ndarray:
    """``(len(AU_CODES), size, size)`` bool: where each AU acts on the reference face."""
    _, lm = reference_face(size)
    return au_region_masks(lm, (size, size))


def au_gallery(size: int = 96, intensities=(1, 2, 3, 4, 5)) -> np.ndarray:
    """Each AU alone, bilateral, at each intensity on the reference face.

    Returns
    -------
    numpy.ndarray
        ``(len(AU_CODES), len(intensities), size, size)`` uint8.
    """
    out = np.zeros((len(AU_CODES), len(intensities), size, size), np.uint8)
    for a in range(len(AU_CODES)):
        for k, v in enumerate(intensities):
            aus = np.zeros((len(AU_CODES), 2))
            aus[a] = v
            out[a, k] = reference_face(size, aus)[0]
    return out
