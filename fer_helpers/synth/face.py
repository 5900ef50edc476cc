"""The SynthFACS face model: a 68-point template, identity modes, action units.

Coordinates are in *face units*: the eye centres sit at ``(-0.5, 0)`` and ``(0.5, 0)``
(inter-ocular distance 1), ``x`` grows to the image right, ``y`` grows downwards.
Landmarks follow the iBUG 300-W 68-point order (0-16 jaw, 17-26 brows, 27-35 nose,
36-47 eyes, 48-59 outer lips, 60-67 inner lips). "Left"/"right" below are *image* sides.

Each action unit (AU) is a linear displacement field on the landmarks (at intensity 5,
scaled linearly with intensity) plus appearance cues (wrinkles, furrows, bulges) drawn
as shaded polylines anchored to the landmarks. Both are split into an image-left and an
image-right half, so unilateral AUs (contempt's one-sided AU12 + AU14) are possible.

References
----------
Ekman, P., Friesen, W. V., & Hager, J. C. (2002). Facial Action Coding System.
Sagonas, C. et al. (2013). 300 Faces in-the-Wild Challenge (the 68-point markup).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: AUs the generator renders, in column order of every AU matrix it produces.
AU_CODES: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 16, 17, 20, 23, 25, 26)
AU_NAMES: dict[int, str] = {
    1: "inner brow raiser", 2: "outer brow raiser", 4: "brow lowerer", 5: "upper lid raiser",
    6: "cheek raiser", 7: "lid tightener", 9: "nose wrinkler", 10: "upper lip raiser",
    12: "lip corner puller", 14: "dimpler", 15: "lip corner depressor",
    16: "lower lip depressor", 17: "chin raiser", 20: "lip stretcher", 23: "lip tightener",
    25: "lips part", 26: "jaw drop",
}
N_POINTS = 68

# ----------------------------------------------------------------------------- template
_t = np.linspace(0.0, np.pi, 17)
_JAW = np.stack([-1.0 * np.cos(_t), 0.05 + 1.5 * np.sin(_t) ** 0.85], axis=1)
_BROW_R = np.array([[-0.95, -0.27], [-0.8, -0.38], [-0.62, -0.42], [-0.43, -0.4], [-0.24, -0.34]])
_BROW_L = _BROW_R[::-1] * [-1, 1]
_NOSE = np.array([[0, -0.05], [0, 0.17], [0, 0.39], [0, 0.6],
                  [-0.24, 0.7], [-0.12, 0.74], [0, 0.76], [0.12, 0.74], [0.24, 0.7]])
_EYE_R = np.array([[-0.72, 0], [-0.57, -0.09], [-0.42, -0.09], [-0.28, 0], [-0.42, 0.07],
                   [-0.57, 0.07]])
_EYE_L = _EYE_R[[3, 2, 1, 0, 5, 4]] * [-1, 1]
_LIP_OUT = np.array([[-0.42, 1.02], [-0.27, 0.94], [-0.1, 0.9], [0, 0.92], [0.1, 0.9],
                     [0.27, 0.94], [0.42, 1.02], [0.27, 1.11], [0.12, 1.15], [0, 1.16],
                     [-0.12, 1.15], [-0.27, 1.11]])
_LIP_IN = np.array([[-0.34, 1.02], [-0.12, 1.005], [0, 1.01], [0.12, 1.005], [0.34, 1.02],
                    [0.12, 1.015], [0, 1.02], [-0.12, 1.015]])
TEMPLATE = np.concatenate([_JAW, _BROW_R, _BROW_L, _NOSE, _EYE_R, _EYE_L, _LIP_OUT, _LIP_IN])
assert TEMPLATE.shape == (N_POINTS, 2)

#: Landmark index groups drawn as one polyline or polygon (used for region neighbourhoods).
CHAINS: dict[str, tuple[list[int], bool]] = {
    "jaw": (list(range(0, 17)), False),
    "brow_r": (list(range(17, 22)), False),
    "brow_l": (list(range(22, 27)), False),
    "bridge": (list(range(27, 31)), False),
    "nostrils": (list(range(31, 36)), False),
    "eye_r": (list(range(36, 42)), True),
    "eye_l": (list(range(42, 48)), True),
    "lip_out": (list(range(48, 60)), True),
    "lip_in": (list(range(60, 68)), True),
}

#: Landmarks no AU moves: the face frame (position, scale, roll) is fitted to these.
STABLE = (0, 1, 15, 16, 27, 28, 39, 42)

#: -1 image-left, +1 image-right, 0 on the midline.
SIDE = np.sign(np.round(TEMPLATE[:, 0], 3)).astype(int)

#: Pseudo-depth of each landmark, used to fake yaw (nose tip sticks out, jaw sides recede).
DEPTH = np.full(N_POINTS, 0.15)
DEPTH[0:17] = -0.35 + 0.45 * np.sin(_t)
DEPTH[27:31] = [0.3, 0.4, 0.5, 0.6]
DEPTH[31:36] = [0.35, 0.42, 0.5, 0.42, 0.35]
DEPTH[48:68] = 0.3

# ---------------------------------------------------------------------- AU displacement
def _disp(entries: dict[tuple[int, ...], tuple[float, float]], mirror: bool = True) -> np.ndarray:
    """Build a (68, 2) displacement field; ``mirror`` copies image-left entries to the right."""
    d = np.zeros((N_POINTS, 2))
    for idx, (dx, dy) in entries.items():
        for i in idx:
            d[i] = (dx, dy)
            if mirror and SIDE[i] != 0:
                j = _MIRROR[i]
                d[j] = (-dx, dy)
    return d


def _mirror_index() -> np.ndarray:
    out = np.arange(N_POINTS)
    for i in range(N_POINTS):
        p = TEMPLATE[i] * [-1, 1]
        out[i] = int(np.argmin(np.linalg.norm(TEMPLATE - p, axis=1)))
    return out


_MIRROR = _mirror_index()

_DISPLACEMENTS: dict[int, np.ndarray] = {
    1: _disp({(21,): (0.0, -0.19), (20,): (0.0, -0.14), (19,): (0.0, -0.06)}),
    2: _disp({(17,): (0.0, -0.18), (18,): (0.0, -0.13), (19,): (0.0, -0.05)}),
    4: _disp({(17,): (0.0, 0.07), (18,): (0.02, 0.09), (19,): (0.04, 0.1),
              (20,): (0.07, 0.1), (21,): (0.09, 0.09)}),
    5: _disp({(37, 38): (0.0, -0.07), (36,): (0.0, -0.015)}),
    6: _disp({(40, 41): (0.0, -0.035), (36,): (0.0, -0.015)}),
    7: _disp({(40, 41): (0.0, -0.05), (37, 38): (0.0, 0.025)}),
    9: _disp({(31,): (0.02, -0.07), (32,): (0.0, -0.055), (33,): (0.0, -0.04),
              (29,): (0.0, -0.02), (50, 51): (0.0, -0.035), (49,): (0.0, -0.02)}),
    10: _disp({(49,): (0.0, -0.06), (50, 51): (0.0, -0.09), (61, 62): (0.0, -0.07),
               (48,): (0.0, -0.02), (60,): (0.0, -0.02)}),
    12: _disp({(48,): (-0.1, -0.13), (60,): (-0.09, -0.1), (49,): (-0.04, -0.07),
               (59,): (-0.03, -0.06), (61,): (-0.02, -0.04), (67,): (-0.02, -0.04)}),
    14: _disp({(48,): (0.035, -0.015), (60,): (0.035, -0.01), (49,): (0.01, 0.0),
               (59,): (0.01, -0.01)}),
    15: _disp({(48,): (0.0, 0.11), (60,): (0.0, 0.09), (59,): (0.0, 0.05), (49,): (0.0, 0.03),
               (67,): (0.0, 0.03)}),
    16: _disp({(57,): (0.0, 0.1), (58,): (0.0, 0.09), (59,): (0.0, 0.05), (66,): (0.0, 0.1),
               (67,): (0.0, 0.08)}),
    17: _disp({(57,): (0.0, -0.05), (58,): (0.0, -0.045), (59,): (0.0, -0.03),
               (66,): (0.0, -0.03), (67,): (0.0, -0.025), (8,): (0.0, -0.05),
               (7,): (0.0, -0.04)}),
    20: _disp({(48,): (-0.13, 0.03), (60,): (-0.11, 0.02), (49,): (-0.05, 0.0),
               (59,): (-0.05, 0.01), (61,): (-0.02, 0.0), (67,): (-0.02, 0.0)}),
    23: _disp({(49,): (0.01, 0.035), (50, 51): (0.0, 0.04), (59,): (0.01, -0.035),
               (58, 57): (0.0, -0.045), (48,): (0.025, 0.0), (60,): (0.02, 0.0)}),
    25: _disp({(65, 66): (0.0, 0.07), (67,): (0.0, 0.055), (61, 62): (0.0, -0.02),
               (57,): (0.0, 0.045), (58,): (0.0, 0.04), (59,): (0.0, 0.025)}),
    26: _disp({(8,): (0.0, 0.26), (7,): (0.0, 0.24), (6,): (0.0, 0.19), (5,): (0.0, 0.12),
               (4,): (0.0, 0.05), (57,): (0.0, 0.22), (58,): (0.0, 0.21), (59,): (0.0, 0.14),
               (65, 66): (0.0, 0.23), (67,): (0.0, 0.21), (48,): (0.0, 0.03),
               (60,): (0.0, 0.04)}),
}
# A midline landmark may only move vertically (it belongs to both halves of the face).
for _d in _DISPLACEMENTS.values():
    assert np.all(_d[SIDE == 0, 0] == 0)


def displacement_basis() -> np.ndarray:
    """Per-AU, per-side landmark displacement at intensity 5.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(AU_CODES), 2, 68, 2)``: AU, side (0 image-left, 1 image-right),
        landmark, xy. Midline landmarks get half of the move from each side.
    """
    out = np.zeros((len(AU_CODES), 2, N_POINTS, 2))
    for a, code in enumerate(AU_CODES):
        d = _DISPLACEMENTS[code]
        for s, sgn in enumerate((-1, 1)):
            out[a, s] = d * (SIDE == sgn)[:, None] + 0.5 * d * (SIDE == 0)[:, None]
    return out


# ------------------------------------------------------------------------ appearance cues
@dataclass(frozen=True)
class Cue:
    """One shaded polyline of an AU, anchored to landmarks.

    ``points`` are ``(anchor landmark, dx, dy)`` triples in face units on the image-left
    side (mirrored for the right half; anchors are mirrored too). ``shade`` > 0 darkens,
    < 0 brightens, at intensity 5; ``width`` is in face units.
    """

    points: tuple[tuple[int, float, float], ...]
    shade: float
    width: float
    closed: bool = False


def _line(*pts: tuple[int, float, float], shade: float = 0.35, width: float = 0.03,
          closed: bool = False) -> Cue:
    return Cue(tuple(pts), shade, width, closed)


CUES: dict[int, tuple[Cue, ...]] = {
    # forehead: horizontal wrinkles over the inner brows (AU1) or the outer brows (AU2)
    1: tuple(_line((21, -0.2, -0.22 - k), (21, 0.0, -0.26 - k), (21, 0.24, -0.24 - k))
             for k in (0.0, 0.1, 0.2)),
    2: tuple(_line((18, -0.2, -0.22 - k), (18, 0.0, -0.3 - k), (18, 0.2, -0.26 - k))
             for k in (0.0, 0.12)),
    # glabella: vertical furrows between the brows
    4: (_line((21, 0.12, -0.14), (21, 0.15, 0.12), shade=0.45, width=0.035),
        _line((21, 0.05, -0.05), (21, 0.07, 0.12), shade=0.3, width=0.025)),
    # widened eye: brighter upper sclera band
    5: (_line((37, 0.0, 0.025), (38, 0.0, 0.025), shade=-0.25, width=0.03),),
    # crow's feet at the outer eye corner, cheek bulge under the eye
    6: (_line((36, -0.06, -0.05), (36, -0.2, -0.1), width=0.022),
        _line((36, -0.07, 0.0), (36, -0.22, 0.0), width=0.022),
        _line((36, -0.06, 0.05), (36, -0.2, 0.11), width=0.022),
        _line((40, -0.2, 0.16), (40, 0.0, 0.2), (40, 0.16, 0.16), shade=-0.2, width=0.07)),
    # tensed lower lid
    7: (_line((41, -0.04, 0.005), (40, 0.04, 0.005), shade=0.4, width=0.025),),
    # nose bridge wrinkles
    9: tuple(_line((28, -0.13, k), (28, -0.02, k - 0.02), width=0.022)
             for k in (-0.02, 0.07, 0.16)),
    # deepened upper nasolabial furrow
    10: (_line((31, -0.02, 0.0), (31, -0.12, 0.12), (48, -0.06, -0.04), width=0.03),),
    # nasolabial fold pulled out towards the raised corner
    12: (_line((31, -0.05, 0.0), (31, -0.2, 0.13), (48, -0.12, 0.02), width=0.03),),
    # dimple beside the mouth corner
    14: (_line((48, -0.07, -0.06), (48, -0.09, 0.0), (48, -0.07, 0.06), shade=0.45,
               width=0.025),),
    # fold under the depressed corner
    15: (_line((48, -0.03, 0.04), (48, -0.07, 0.15), (48, -0.06, 0.26), width=0.025),),
    # lower lip turned out: bright lower lip highlight
    16: (_line((58, 0.0, -0.02), (57, 0.0, -0.025), (56, 0.0, -0.02), shade=-0.22, width=0.03),),
    # chin boss wrinkling
    17: (_line((7, 0.0, -0.17), (8, 0.0, -0.2), (9, 0.0, -0.17), shade=0.3, width=0.03),
         _line((7, 0.06, -0.1), (8, 0.0, -0.12), (9, -0.06, -0.1), shade=0.3, width=0.025)),
    # horizontal fold at the stretched corner
    20: (_line((48, -0.05, 0.0), (48, -0.17, 0.02), width=0.025),),
    # pressed lip border
    23: (_line((49, 0.0, -0.01), (50, 0.0, -0.01), (51, 0.0, -0.01), shade=0.4, width=0.025),
         _line((59, 0.0, 0.01), (58, 0.0, 0.01), (57, 0.0, 0.01), shade=0.4, width=0.025)),
    25: (),
    26: (),
}


def cue_anchor(index: int, side: int) -> tuple[int, float]:
    """Landmark index and x-sign of an image-left cue anchor for ``side`` (0 left, 1 right)."""
    return (index, 1.0) if side == 0 else (int(_MIRROR[index]), -1.0)


# ------------------------------------------------------------------------ identity modes
def identity_modes() -> np.ndarray:
    """Shape modes (k, 68, 2) that, scaled by identity coefficients, vary the face.

    Modes: jaw width, face length, eye size, eye spacing, brow height, nose length,
    nose width, mouth width, lip thickness, mouth height.
    """
    t = TEMPLATE
    modes = np.zeros((10, N_POINTS, 2))
    modes[0, 0:17, 0] = t[0:17, 0] * 0.12
    modes[1, 0:17, 1] = (t[0:17, 1] - 0.05) * 0.1
    modes[1, 48:68, 1] = 0.07
    for eye in (range(36, 42), range(42, 48)):
        idx = list(eye)
        c = t[idx].mean(axis=0)
        modes[2, idx] = (t[idx] - c) * 0.15
    for idx in (list(range(17, 27)) + list(range(36, 48)),):
        modes[3, idx, 0] = np.sign(t[idx, 0]) * 0.04
    modes[4, 17:27, 1] = -0.05
    modes[5, 29:36, 1] = [0.04, 0.07, 0.08, 0.08, 0.08, 0.08, 0.08]
    modes[6, 31:36, 0] = t[31:36, 0] * 0.15
    modes[7, 48:68, 0] = t[48:68, 0] * 0.12
    modes[8, 48:55, 1] = -(t[48:55, 1] - 1.02) * 0.3
    modes[8, 55:60, 1] = (t[55:60, 1] - 1.02) * 0.3
    modes[9, 48:68, 1] = 0.05
    return modes


def region_parts(code: int) -> list[list[int]]:
    """Landmark groups whose convex hulls (per side) form the region of AU ``code``.

    A group holds every landmark the AU moves plus its neighbours along the drawn chains,
    because moving a point redraws the segments that join it to its neighbours.
    """
    d = _DISPLACEMENTS[code]
    moved = set(np.flatnonzero(np.abs(d).sum(axis=1) > 0).tolist())
    grown = set(moved)
    for idx, closed in CHAINS.values():
        n = len(idx)
        for k, i in enumerate(idx):
            if i in moved:
                for dk in (-1, 1):
                    j = k + dk
                    if closed or 0 <= j < n:
                        grown.add(idx[j % n])
    parts = []
    for sgn in (-1, 1):
        part = sorted(i for i in grown if SIDE[i] in (sgn, 0))
        if part:
            parts.append(part)
    return parts
