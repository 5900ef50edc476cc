"""Rendering SynthFACS faces, and the per-image AU region masks.

The renderer draws with OpenCV on a supersampled 8-bit canvas (anti-aliased polygons and
lines), then applies pixel-wise lighting, a small Gaussian blur and seeded noise. Every AU
changes only the landmarks it moves and its own shaded cues, so its effect on the pixels is
confined to :func:`au_region_masks` of the face without it (the tests check this).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import cv2
import numpy as np

from .face import (
    AU_CODES,
    CUES,
    DEPTH,
    N_POINTS,
    STABLE,
    TEMPLATE,
    cue_anchor,
    displacement_basis,
    identity_modes,
    region_parts,
)

_BASIS = displacement_basis()  # (A, 2, 68, 2)
_MODES = identity_modes()  # (K, 68, 2)
_SHIFT = 4  # fixed-point bits for cv2 drawing
_ONE = 1 << _SHIFT
_PARTS = {code: region_parts(code) for code in AU_CODES}
#: Half-width of an AU's region beyond its landmark hull, in face units (covers line
#: widths, the teeth band and anti-aliasing); the blur is added on top, in pixels.
REGION_MARGIN = 0.07


@dataclass(frozen=True)
class Identity:
    """What stays fixed for one synthetic person."""

    shape: np.ndarray  # (K,) identity mode coefficients
    jitter: np.ndarray  # (68, 2) small asymmetric landmark noise
    skin: float
    hair: float
    lips: float
    brows: float
    iris: float
    brow_width: float
    forehead: float  # forehead top, face units above the eye line
    hairline: float

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Identity:
        """Draw a random identity from ``rng``."""
        skin = rng.uniform(95, 205)
        dark_hair = rng.random() < 0.75
        return cls(
            shape=rng.normal(0.0, 1.0, len(_MODES)).clip(-2.5, 2.5),
            jitter=rng.normal(0.0, 0.008, (N_POINTS, 2)),
            skin=skin,
            hair=rng.uniform(15, 80) if dark_hair else rng.uniform(150, 215),
            lips=skin * rng.uniform(0.62, 0.82),
            brows=min(skin * rng.uniform(0.3, 0.6), 110.0),
            iris=rng.uniform(20, 90),
            brow_width=rng.uniform(0.055, 0.095),
            forehead=rng.uniform(1.3, 1.45),
            hairline=rng.uniform(1.02, 1.2),
        )

    @cached_property
    def neutral_shape(self) -> np.ndarray:
        """Neutral 68-point landmarks in face units (computed once per identity)."""
        return TEMPLATE + np.tensordot(self.shape, _MODES, axes=1) + self.jitter

    @cached_property
    def _outline(self) -> np.ndarray:
        """Face-unit points :func:`render` poses after the landmarks (rows 68: of
        ``_OUTLINE_SPLIT`` order): neutral landmarks, head, neck, forehead, hair fringe."""
        neutral = self.neutral_shape
        jaw_w = np.abs(neutral[[0, 16], 0]).mean()
        return np.concatenate([
            neutral, _arc(jaw_w * 1.08, self.forehead + 0.12, 21, 0.1),
            np.array([[-jaw_w * 1.05, 0.9], [jaw_w * 1.05, 0.9]]),
            np.array([[-0.55, 0.8], [0.55, 0.8], [0.6, 4.0], [-0.6, 4.0]]),
            _arc(jaw_w * 0.99, self.forehead, 15, 0.05)[1:-1],
            _arc(jaw_w * 1.0, self.forehead + 0.05, 15, 0.05),
            _arc(jaw_w * 0.7, self.hairline, 15, -0.25)[::-1]])



@dataclass(frozen=True)
class Pose:
    """Where the face sits in the image: centre (px), scale (px per face unit), roll, yaw."""

    cx: float
    cy: float
    scale: float
    roll: float = 0.0  # radians, clockwise on screen
    yaw: float = 0.0  # radians

    def apply(self, pts: np.ndarray, depth: np.ndarray | float) -> np.ndarray:
        """Map face-unit points (..., 2) with pseudo-depth to pixel coordinates."""
        x = pts[..., 0] * np.cos(self.yaw) + np.asarray(depth) * np.sin(self.yaw)
        y = pts[..., 1]
        c, s = np.cos(self.roll), np.sin(self.roll)
        return np.stack([self.cx + self.scale * (c * x - s * y),
                         self.cy + self.scale * (s * x + c * y)], axis=-1)

    def linear(self) -> np.ndarray:
        """2x2 matrix mapping a face-unit displacement to a pixel displacement."""
        c, s = np.cos(self.roll), np.sin(self.roll)
        return self.scale * np.array([[c, -s], [s, c]]) @ np.diag([np.cos(self.yaw), 1.0])


@dataclass(frozen=True)
class Nuisance:
    """Per-image lighting, blur, noise and background."""

    light_angle: float = 0.0
    light_strength: float = 0.0  # 0 = flat
    ambient: float = 1.0
    blur: float = 0.0  # Gaussian sigma, output pixels
    noise: float = 0.0  # Gaussian sigma, grey levels
    background: float = 128.0
    noise_seed: int = 0


@dataclass(frozen=True)
class Scene:
    """Everything needed to render one image."""

    identity: Identity
    aus: np.ndarray  # (A, 2) intensities 0-5 per AU, image-left and image-right halves
    pose: Pose
    nuisance: Nuisance = field(default_factory=Nuisance)
    size: tuple[int, int] = (48, 48)  # (width, height)
    supersample: int = 2


def landmarks_face_units(identity: Identity, aus: np.ndarray) -> np.ndarray:
    """68 landmarks in face units for ``identity`` showing ``aus`` ((A, 2) intensities)."""
    return identity.neutral_shape + np.einsum("as,aspx->px", np.asarray(aus) / 5.0, _BASIS)


def face_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Similarity transform (origin, 2x2 matrix) mapping face units to ``landmarks``' pixels.

    Fitted by least squares on :data:`~fer_helpers.synth.face.STABLE`, landmarks that no
    AU moves, so it is the same for a face with or without any AU; it works on real
    68-point annotations (CK+ ``Landmarks/``) too.
    """
    dst = np.asarray(landmarks, float)[_STABLE_IDX]
    dm = np.add.reduce(dst, 0) / len(STABLE)  # dst.mean(0), without its Python wrapper
    d0 = dst - dm
    s0, ss = _STABLE_S0, _STABLE_SS
    a = (s0 * d0).sum() / ss
    b = (s0[:, 0] * d0[:, 1] - s0[:, 1] * d0[:, 0]).sum() / ss
    mat = np.array([[a, -b], [b, a]])
    return dm - mat @ _STABLE_SM, mat


# face_frame's template side, computed once (same arithmetic as per call)
_STABLE_IDX = np.array(STABLE)
_STABLE_SM = TEMPLATE[_STABLE_IDX].mean(0)
_STABLE_S0 = TEMPLATE[_STABLE_IDX] - _STABLE_SM
_STABLE_SS = (_STABLE_S0**2).sum()


def _cue_table():
    """Per (AU, side): list of (cue, anchor indices, face-unit offsets), precomputed."""
    table = {}
    for code in AU_CODES:
        for side in (0, 1):
            rows = []
            for cue in CUES[code]:
                idx, off = [], []
                for i, dx, dy in cue.points:
                    j, sgn = cue_anchor(i, side)
                    idx.append(j)
                    off.append((sgn * dx, dy))
                rows.append((cue, np.array(idx), np.array(off)))
            table[code, side] = rows
    return table


_CUE_TABLE = _cue_table()


def _cue_groups():
    """Per (AU, side): runs of consecutive cues drawn alike, as (dark, |shade|, width,
    closed, [(anchor indices, offsets), ...]); one polylines call draws a run."""
    groups = {}
    for key, rows in _CUE_TABLE.items():
        runs = []
        for cue, idx, off in rows:
            style = (cue.shade > 0, abs(cue.shade), cue.width, cue.closed)
            if runs and runs[-1][:4] == style:
                runs[-1][4].append((idx, off))
            else:
                runs.append((*style, [(idx, off)]))
        if runs:
            groups[key] = runs
    return groups


_CUE_GROUPS = _cue_groups()


def _cue_points(code: int, side: int, lm_px: np.ndarray, mat: np.ndarray):
    for cue, idx, off in _CUE_TABLE[code, side]:
        yield cue, lm_px[idx] + off @ mat.T


def au_region_masks(landmarks: np.ndarray, shape: tuple[int, int], blur: float = 0.0,
                    margin: float = REGION_MARGIN, codes=AU_CODES) -> np.ndarray:
    """Boolean masks of the pixels each AU can change on a face with these landmarks.

    For each AU: per face half, the convex hull of the landmarks it moves and their
    neighbours, at their given positions and moved by the AU at intensity 5, plus its
    appearance cues at both, grown by ``margin`` face units and ``4 * blur`` pixels (the reach of
    OpenCV's Gaussian kernel).

    Parameters
    ----------
    landmarks : array (68, 2)
        Pixel coordinates (x, y) in iBUG order, from SynthFACS or a real annotation.
    shape : (height, width)
        Output mask shape.
    blur : float
        Gaussian blur sigma of the image, in pixels.
    margin : float
        Extra reach in face units (inter-ocular distance = 1).
    codes : sequence of int
        AUs to return, in this order.

    Returns
    -------
    numpy.ndarray
        ``(len(codes), height, width)`` bool.
    """
    lm = np.asarray(landmarks, float)
    _, mat = face_frame(lm)
    scale = float(np.sqrt(abs(np.linalg.det(mat))))
    grow = int(np.ceil(margin * scale + 4.0 * blur + 1.0))  # OpenCV float kernels reach 4 sigma
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    out = np.zeros((len(codes), *shape), bool)
    for k, code in enumerate(codes):
        a = AU_CODES.index(code)
        moved = lm + (_BASIS[a].sum(0)) @ mat.T  # both halves at intensity 5
        canvas = np.zeros(shape, np.uint8)
        for side, part in enumerate(_PARTS[code]):  # image-left, image-right
            pts = [lm[part], moved[part]]
            for at in (lm, moved):
                pts.extend(p for _, p in _cue_points(code, side, at, mat))
            hull = cv2.convexHull(np.round(np.concatenate(pts) * _ONE).astype(np.int32))
            cv2.fillConvexPoly(canvas, hull, 1, cv2.LINE_8, _SHIFT)
        out[k] = cv2.dilate(canvas, kernel).astype(bool)
    return out


def _fx(pts: np.ndarray) -> np.ndarray:
    p = pts * _ONE
    return np.rint(p, out=p).astype(np.int32)


_OUTLINE_SIZES = (N_POINTS, N_POINTS, 21, 2, 4, 13, 15, 15)
_OUTLINE_SPLIT = np.cumsum(_OUTLINE_SIZES)[:-1]
_OUTLINE_DEPTH = np.concatenate([DEPTH, DEPTH, np.zeros(23), np.full(4, -0.2),
                                 np.full(43, 0.1)])
_UNIT_ARCS = {n: np.stack([np.cos(np.linspace(0.0, np.pi, n)),
                            -np.sin(np.linspace(0.0, np.pi, n))], axis=1) for n in (15, 21)}


def _arc(rx: float, top: float, n: int = 15, y0: float = 0.0) -> np.ndarray:
    return _UNIT_ARCS[n] * (rx, top) + (0.0, y0)


def _clip_fill(canvas: np.ndarray, poly: np.ndarray, draw) -> None:
    """Run ``draw(tile, offset)`` on a copy of the polygon's bounding box; keep it inside."""
    h, w = canvas.shape
    # poly is fixed point: pixel bounds floor(min / _ONE) - 1, ceil(max / _ONE) + 2
    bx, by, bw, bh = cv2.boundingRect(poly)  # min and max - min + 1
    x0, y0 = max((bx >> _SHIFT) - 1, 0), max((by >> _SHIFT) - 1, 0)
    x1, y1 = min(-(-(bx + bw - 1) >> _SHIFT) + 2, w), min(-(-(by + bh - 1) >> _SHIFT) + 2, h)
    if x1 <= x0 or y1 <= y0:
        return
    roi = canvas[y0:y1, x0:x1]
    off = np.array([x0 * _ONE, y0 * _ONE])
    tile = roi.copy()
    draw(tile, off)
    mask = np.zeros_like(roi)
    cv2.fillPoly(mask, [poly - off], 255, cv2.LINE_AA, _SHIFT)
    out = tile * _COVER[mask]
    out += roi * _UNCOVER[mask]
    roi[:] = np.rint(out, out=out)


#: _clip_fill's blend weights by mask level: float32 ``m = mask / 255`` and ``1 - m``
_COVER = np.arange(256, dtype=np.float32) / 255.0
_UNCOVER = 1.0 - _COVER


def render(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Render one face.

    Returns
    -------
    image : numpy.ndarray
        ``(height, width)`` uint8 grey image.
    landmarks : numpy.ndarray
        ``(68, 2)`` float pixel coordinates of the landmarks in the image.
    """
    idt, pose, nz = scene.identity, scene.pose, scene.nuisance
    w, h = scene.size
    k = scene.supersample
    aus = np.asarray(scene.aus, float)
    lm_fu = landmarks_face_units(idt, aus)
    big = Pose(pose.cx * k + (k - 1) / 2, pose.cy * k + (k - 1) / 2, pose.scale * k,
               pose.roll, pose.yaw)
    # pose every point of the face at once: landmarks, neutral landmarks, head outline,
    # neck, forehead, hair fringe (in _OUTLINE_SPLIT order), and convert them to fixed
    # point once (fx; drawing calls take slices of it)
    posed = big.apply(np.concatenate([lm_fu, idt._outline]), _OUTLINE_DEPTH)
    lmk, posed_neutral = posed[:_O_NEUTRAL], posed[_O_NEUTRAL:_O_HEAD]
    fx = _fx(posed)
    lm = (lmk - (k - 1) / 2) / k  # output pixels
    _, mat = face_frame(lmk)
    # points derived from the posed landmarks: nose bridge line, nostril centres, eye
    # centres, lower edge of the teeth band (reversed), in fixed point too
    efx = _fx(np.concatenate([
        lmk[27:31] + mat @ _BRIDGE_OFF,
        (lmk[_NOSTRIL_A] + lmk[_NOSTRIL_B]) / 2 + mat @ _NOSTRIL_OFF,
        (lmk[_EYE_A] + lmk[_EYE_B]) / 2,
        (lmk[60:65] + mat @ _TEETH_OFF)[::-1]]))
    canvas = np.full((h * k, w * k), np.uint8(min(max(nz.background, 0), 255)))
    dark = np.zeros_like(canvas)
    light = np.zeros_like(canvas)
    aa = cv2.LINE_AA
    px = big.scale

    # head, hair, neck, face
    cv2.fillPoly(canvas, [fx[_O_HEAD:_O_NECK]], idt.hair, aa, _SHIFT)  # head + its base
    cv2.fillPoly(canvas, [fx[_O_NECK:_O_FOREHEAD]], idt.skin * 0.8, aa, _SHIFT)
    face = np.concatenate([fx[0:17], fx[_O_FOREHEAD:_O_FRINGE]])
    cv2.fillPoly(canvas, [face], idt.skin, aa, _SHIFT)
    cv2.fillPoly(canvas, [fx[_O_FRINGE:]], idt.hair, aa, _SHIFT)

    # brows (one call draws both, as two calls would)
    bw = max(1, int(round(idt.brow_width * px)))
    cv2.polylines(canvas, [fx[17:22], fx[22:27]], False, idt.brows, bw, aa, _SHIFT)

    # eyes: sclera + iris clipped to the lids, then the lid lines
    lid = max(1, int(round(0.03 * px)))
    r_iris, r_pupil = int(0.09 * px * _ONE), int(0.04 * px * _ONE)
    for a, b, centre in ((36, 42, efx[6]), (42, 48, efx[7])):
        poly = fx[a:b]

        def eye(tile, off, centre=centre):
            tile[:] = 215
            c = tuple(centre - off)
            cv2.circle(tile, c, r_iris, idt.iris, -1, aa, _SHIFT)
            cv2.circle(tile, c, r_pupil, 10, -1, aa, _SHIFT)

        _clip_fill(canvas, poly, eye)
        cv2.polylines(canvas, [poly[0:4]], False, 25, lid + 1, aa, _SHIFT)
        cv2.polylines(canvas, [poly[[3, 4, 5, 0]]], False, idt.skin * 0.55, lid, aa, _SHIFT)

    # nose
    cv2.polylines(dark, [efx[0:4]], False, 30, lid, aa, _SHIFT)
    cv2.polylines(dark, [fx[31:36]], False, 90, lid, aa, _SHIFT)
    axes = (int(0.05 * px * _ONE), int(0.025 * px * _ONE))
    for c in (efx[4], efx[5]):
        cv2.ellipse(canvas, tuple(c), axes, 0, 0, 360, idt.skin * 0.35, -1, aa, _SHIFT)

    # mouth: lips, then the opening with a band of upper teeth
    outer, inner = fx[48:60], fx[60:68]
    cv2.fillPoly(canvas, [outer], idt.lips, aa, _SHIFT)
    teeth = np.concatenate([fx[60:65], efx[8:13]])

    def mouth(tile, off):
        tile[:] = 28
        cv2.fillPoly(tile, [teeth - off], 205, aa, _SHIFT)

    _clip_fill(canvas, inner, mouth)
    cv2.polylines(canvas, [inner[0:5]], False, idt.lips * 0.45, lid, aa, _SHIFT)

    # AU appearance cues, anchored at neutral landmarks + the AU's own move only (the pose
    # is linear in a displacement, so the posed neutral face is shifted, not re-posed)
    levels = aus / 5.0
    active = [(a, side, level)
              for (a, side), level in zip(_AU_SIDES, levels.ravel().tolist(), strict=True)
              if not level <= 0 and (a, side) in _CUE_RUNS]
    if active:
        lin = big.linear().T
        mat_t = mat.T
    for a, side, level in active:
        idx, offs, runs = _CUE_RUNS[a, side]
        anchor = posed_neutral + (_BASIS[a, side] * level) @ lin
        # each cue's offsets @ mat.T, as one stacked matmul per cue length (the same
        # per-cue products), then all of this AU side's cue points to fixed point at once
        moved = [(off @ mat_t).reshape(-1, 2) for off in offs]
        pts = _fx(anchor[idx] + (moved[0] if len(moved) == 1 else np.concatenate(moved)))
        for is_dark, shade, width, closed, rows in runs:
            value = int(round(255 * min(1.0, shade * level)))
            width = max(1, int(round(width * px)))
            cv2.polylines(dark if is_dark else light, [pts[r] for r in rows], closed, value,
                          width, aa, _SHIFT)

    img = canvas.astype(np.float32)
    if dark.any():
        img *= cv2.LUT(dark, _DARKEN)
    if light.any():
        lift = 255.0 - img
        lift *= light.astype(np.float32)
        lift *= 0.6 / 255.0
        img += lift
    if k > 1:
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    if nz.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), nz.blur)
    if nz.light_strength or nz.ambient != 1.0:
        xx, yy = _grid(h, w)
        c, s = np.float32(np.cos(nz.light_angle)), np.float32(np.sin(nz.light_angle))
        r = np.float32(nz.light_strength / (max(w, h) / 2))
        img *= (xx * (c * r) + np.float32(nz.ambient)) + yy * (s * r)
    if nz.noise > 0:
        img += _noise(nz.noise_seed, h, w) * np.float32(nz.noise)
    np.rint(img, out=img)
    np.maximum(img, 0, out=img)  # np.clip(img, 0, 255), without its Python wrapper
    return np.minimum(img, 255, out=img).astype(np.uint8), lm


# render()'s fixed tables: row offsets into the posed points (_OUTLINE_SIZES order), the
# (AU column, side) pairs in aus.ravel() order, cue runs by AU column, the darkening factor
# by dark-layer level (the same float32 arithmetic as per pixel)
(_O_NEUTRAL, _O_HEAD, _O_NECK, _O_FOREHEAD, _O_FRINGE) = (int(_OUTLINE_SPLIT[i])
                                                           for i in (0, 1, 3, 4, 5))
_AU_SIDES = [(a, side) for a in range(len(AU_CODES)) for side in (0, 1)]


def _cue_plan(runs):
    """One AU side's cue runs for render(): anchor indices of all its cue points, their
    offsets stacked by cue length ((k, n, 2) arrays, in that order), and the runs with each
    cue as a row slice of the points."""
    cues = [(idx, off) for *_, run in runs for idx, off in run]
    lengths = sorted({len(idx) for idx, _ in cues})
    order = [c for n in lengths for c in cues if len(c[0]) == n]
    start, rows = 0, {}
    for idx, off in order:
        rows[id(off)] = slice(start, start + len(idx))
        start += len(idx)
    idx = np.concatenate([i for i, _ in order])
    offs = [np.stack([o for i, o in order if len(i) == n]) for n in lengths]
    return idx, offs, [(*style, [rows[id(off)] for _, off in run]) for *style, run in runs]


_CUE_RUNS = {(AU_CODES.index(code), side): _cue_plan(runs)
             for (code, side), runs in _CUE_GROUPS.items()}
_DARKEN = 1.0 - np.arange(256, dtype=np.float32) * (0.85 / 255.0)
_BRIDGE_OFF, _NOSTRIL_OFF, _TEETH_OFF = np.array([[0.07, 0.0], [0.0, -0.02], [0.0, 0.05]])
_NOSTRIL_A, _NOSTRIL_B, _EYE_A, _EYE_B = np.array([[31, 34], [32, 35], [36, 42], [39, 45]])


@lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates relative to the image centre, (1, w) and (h, 1) float32."""
    return (np.arange(w, dtype=np.float32)[None, :] - w / 2,
            np.arange(h, dtype=np.float32)[:, None] - h / 2)


# Pixel noise: standard-normal quantiles at 65,536 evenly spaced levels, picked by 16-bit
# draws of a PCG64 whose state is the scene's noise seed, mixed (splitmix64), so seeds
# ``s`` and ``s + 1`` (a sequence's frames) give unrelated noise. A third of the cost of
# ``default_rng(seed).standard_normal`` at 48x48 (most of that is seeding), and exact enough
# for noise that is rounded to grey levels.
_NOISE_BITS = np.random.PCG64(0)
_M64 = (1 << 64) - 1


@lru_cache(maxsize=1)
def _normal_table() -> np.ndarray:
    from statistics import NormalDist

    q = NormalDist().inv_cdf
    return np.array([q((i + 0.5) / 65536) for i in range(65536)], np.float32)


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _noise(seed: int, h: int, w: int) -> np.ndarray:
    """(h, w) float32 standard-normal noise; depends only on ``seed``."""
    a = _splitmix64(seed & _M64)
    _NOISE_BITS.state = {"bit_generator": "PCG64",
                         "state": {"state": (a << 64) | _splitmix64(a), "inc": _PCG_INC},
                         "has_uint32": 0, "uinteger": 0}
    n = h * w
    bits = _NOISE_BITS.random_raw(-(-n // 4)).view(np.uint16)[:n]
    return _normal_table()[bits].reshape(h, w)


_PCG_INC = 0xDA3E39CB94B95BDB0B9E63A3F0A2B5C1 | 1
