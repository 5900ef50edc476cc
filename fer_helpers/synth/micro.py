"""SynthFACS micro-expressions: 200 fps clips with an onset -> apex -> offset envelope.

A clip is a neutral face in which a short, low-intensity expression rises from the onset
frame to the apex and falls back by the offset frame (at most 0.5 s), with neutral frames
before and after, small head motion and sometimes a blink as nuisances.

The estimated emotion of a clip follows from its AUs by one rule,
:func:`casme2_emotion`, modelled on the AU criteria CASME II's coders used (Yan et al.,
2014; recalled, not checked against the paper here). The rule is applied in this order:

============  ==================================  ============================
class         rule (first that matches wins)      patterns drawn
============  ==================================  ============================
happiness     AU6 or AU12                         12, 6+12, 6, 12+14
fear          AU20, or AU1+2+4                    20, 1+2+4, 4+20
disgust       AU9 or AU10, or AU4+7               9, 10, 4+7, 4+10+17, 4+9
surprise      AU2                                 1+2, 2, 1+2+5, 1+2+26
sadness       AU1                                 1, 1+4, 1+15, 1+4+15
repression    AU14, AU15 or AU17                  14, 15, 17, 15+17, 14+17
others        anything else                       4, 7, 5, 23, 4+23, 16
============  ==================================  ============================

So the class is a function of the AUs (learnable from them), though no single AU decides it
(AU4 occurs in four classes, AU1 in three, AU17 in two). Intensities are about 0.5-1.5 of 5;
AUs in :data:`LATERAL` are often one-sided, all on the same side within a clip.

Blinks: the renderer has no blink AU, so a blink is drawn by moving the identity's upper-lid
landmarks towards the lower lid for a few frames (the lid polygons close; nothing else moves).
It is a nuisance, recorded in the ground truth but not in the AU string.

References
----------
Yan, W.-J. et al. (2014). CASME II: An improved spontaneous micro-expression database and
the baseline evaluation. PLOS ONE 9(1): e86041.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..faces import EYE_DISTANCE, EYE_Y, warp
from .face import AU_CODES
from .render import Identity, Nuisance, Pose, Scene, face_frame, render

#: Random-stream key of the micro-expression clips (1 and 2 are the FER2013/CK+ domains).
KEY = 3
#: CASME II's estimated emotions, spelled as in its coding sheet.
CASME2_EMOTIONS = ("happiness", "disgust", "repression", "surprise", "others", "sadness", "fear")
#: Default class weights: roughly CASME II's clip counts (versions of the sheet differ).
CASME2_COUNTS = (32, 64, 27, 25, 99, 7, 2)
#: AU patterns drawn for each class (see the module docstring for the rule).
PATTERNS: dict[str, tuple[tuple[int, ...], ...]] = {
    "happiness": ((12,), (6, 12), (6,), (12, 14)),
    "fear": ((20,), (1, 2, 4), (4, 20)),
    "disgust": ((9,), (10,), (4, 7), (4, 10, 17), (4, 9)),
    "surprise": ((1, 2), (2,), (1, 2, 5), (1, 2, 26)),
    "sadness": ((1,), (1, 4), (1, 15), (1, 4, 15)),
    "repression": ((14,), (15,), (17,), (15, 17), (14, 17)),
    "others": ((4,), (7,), (5,), (23,), (4, 23), (16,)),
}
#: AUs that may be drawn on one side of the face only.
LATERAL = frozenset({2, 6, 7, 10, 12, 14, 15, 20})
_INDEX = {c: i for i, c in enumerate(AU_CODES)}
# upper-lid landmark -> the lower-lid landmark it closes onto (iBUG order)
_LIDS = ((37, 41), (38, 40), (43, 47), (44, 46))


def casme2_emotion(codes) -> str:
    """The estimated emotion of a clip showing the AUs ``codes`` (laterality ignored)."""
    a = {int(c) for c in codes}
    if a & {6, 12}:
        return "happiness"
    if 20 in a or {1, 2, 4} <= a:
        return "fear"
    if a & {9, 10} or {4, 7} <= a:
        return "disgust"
    if 2 in a:
        return "surprise"
    if 1 in a:
        return "sadness"
    if a & {14, 15, 17}:
        return "repression"
    return "others"


for _emo, _pats in PATTERNS.items():
    assert all(casme2_emotion(p) == _emo for p in _pats), _emo
assert set(PATTERNS) == set(CASME2_EMOTIONS)


def format_aus(aus: np.ndarray) -> str:
    """CASME II AU string (``4+L10+17``) of AU intensities ``aus`` ((A, 2), image halves).

    ``L``/``R`` are the *subject's* left/right, as in FACS: a face looking at the camera
    has its left side in the image-right half (column 1).
    """
    parts = []
    for a, code in enumerate(AU_CODES):
        left_img, right_img = aus[a] > 0
        if left_img and right_img:
            parts.append(str(code))
        elif right_img:
            parts.append(f"L{code}")
        elif left_img:
            parts.append(f"R{code}")
    return "+".join(parts)


@dataclass(frozen=True)
class MicroStyle:
    """How micro-expression clips look and move.

    Attributes
    ----------
    size : int
        Side of the registered crop (``Cropped/reg_img*.jpg``), and of the raw frames too
        unless ``raw_size`` is given: by default frames are rendered at crop size.
    raw_size : (width, height) or None
        Render full frames of this size (CASME II: 640x480, about 6x slower) and crop them.
    envelope : (int, int)
        Range of ``offset - onset`` in frames; at most ``fps / 2`` (0.5 s).
    neutral : (int, int)
        Range of neutral frames before the onset and, separately, after the offset.
    intensity : (float, float)
        Range of an AU's peak intensity (0-5 scale).
    p_one_sided : float
        Probability that an AU of :data:`LATERAL` is shown on one side only.
    p_blink : float
        Probability that a clip contains a blink.
    head_motion : float
        Largest head translation, face units (inter-ocular distance = 1); roll follows.
    fps : int
        Frame rate; CASME II's is 200.
    """

    size: int = 128
    raw_size: tuple[int, int] | None = None
    envelope: tuple[int, int] = (40, 100)
    neutral: tuple[int, int] = (10, 40)
    intensity: tuple[float, float] = (0.5, 1.5)
    p_one_sided: float = 0.4
    p_blink: float = 0.3
    head_motion: float = 0.02
    fps: int = 200

    def __post_init__(self):
        lo, hi = self.envelope
        if not 2 <= lo <= hi or hi > self.fps / 2:
            raise ValueError(f"envelope must satisfy 2 <= lo <= hi <= fps/2 = {self.fps / 2:g} "
                             f"frames (at most 0.5 s), got {self.envelope}")
        if not 0 <= self.neutral[0] <= self.neutral[1]:
            raise ValueError(f"neutral must be a range of non-negative frame counts, got "
                             f"{self.neutral}")
        if not 0 < self.intensity[0] <= self.intensity[1] <= 5:
            raise ValueError(f"intensity must lie in (0, 5], got {self.intensity}")


@dataclass(frozen=True)
class ClipSpec:
    """Everything that decides one clip's frames (frame indices 0-based within the clip)."""

    emotion: str
    pattern: tuple[int, ...]
    aus: np.ndarray  # (A, 2) peak intensities, image-left and image-right halves
    n_frames: int
    onset: int
    apex: int
    offset: int
    scene: Scene  # the neutral first frame
    motion: np.ndarray  # (n_frames, 3): dx, dy (face units), roll (radians)
    blink: tuple[int, int] | None  # (first frame, length) or None
    crop: int = 128

    @property
    def envelope(self) -> np.ndarray:
        """AU scale per frame: 0 outside onset..offset, raised-cosine rise and fall, 1 at apex."""
        return envelope(self.n_frames, self.onset, self.apex, self.offset)

    @property
    def closure(self) -> np.ndarray:
        """Eyelid closure per frame (0 open, 1 shut)."""
        out = np.zeros(self.n_frames)
        if self.blink is not None:
            start, n = self.blink
            t = np.arange(n)
            out[start:start + n] = np.sin(np.pi * (t + 0.5) / n)[: self.n_frames - start]
        return out


def envelope(n_frames: int, onset: int, apex: int, offset: int) -> np.ndarray:
    """Intensity envelope: 0 up to ``onset``, rising to 1 at ``apex``, 0 again at ``offset``."""
    t = np.arange(n_frames, dtype=float)
    out = np.zeros(n_frames)
    up = (t > onset) & (t <= apex)
    out[up] = 0.5 - 0.5 * np.cos(np.pi * (t[up] - onset) / max(1, apex - onset))
    down = (t > apex) & (t < offset)
    out[down] = 0.5 + 0.5 * np.cos(np.pi * (t[down] - apex) / max(1, offset - apex))
    return out


def clip_identity(seed: int, subject: int) -> Identity:
    """The synthetic person of micro-expression subject ``subject`` (1-based) of ``seed``.

    Drawn from their own random stream, so these people are not the CK+/FER2013 domains'.
    """
    return Identity.sample(np.random.default_rng([seed, KEY, subject]))


def _motion(rng: np.random.Generator, n: int, amplitude: float, fps: int) -> np.ndarray:
    t = np.arange(n)[:, None] / fps
    amp = amplitude * rng.uniform(0.3, 1.0, 3) * (1.0, 1.0, 1.5)  # roll: ~1.5 * amplitude rad
    f = rng.uniform(0.3, 2.5, (2, 3))
    ph = rng.uniform(0, 2 * np.pi, (2, 3))
    wave = 0.6 * np.sin(2 * np.pi * f[0] * t + ph[0]) + 0.4 * np.sin(2 * np.pi * f[1] * t + ph[1])
    return (wave - wave[0]) * amp  # starts at the clip's pose


def sample_clip(seed: int, subject: int, index: int, emotion: str,
                style: MicroStyle = MicroStyle()) -> ClipSpec:
    """Draw clip ``index`` of ``subject`` showing ``emotion``; depends only on its arguments."""
    if emotion not in PATTERNS:
        raise ValueError(f"unknown CASME II emotion {emotion!r}; expected one of "
                         f"{CASME2_EMOTIONS}")
    rng = np.random.default_rng([seed, KEY, subject, index])
    u = rng.uniform
    pats = PATTERNS[emotion]
    pattern = pats[int(rng.integers(len(pats)))]
    aus = np.zeros((len(AU_CODES), 2))
    side = int(rng.integers(2))
    for code in pattern:
        sides = [side] if code in LATERAL and rng.random() < style.p_one_sided else [0, 1]
        aus[_INDEX[code], sides] = u(*style.intensity)
    span = int(rng.integers(style.envelope[0], style.envelope[1] + 1))
    lead, tail = (int(rng.integers(style.neutral[0], style.neutral[1] + 1)) for _ in range(2))
    onset, offset = lead, lead + span
    apex = int(np.clip(onset + round(u(0.25, 0.6) * span), onset + 1, offset - 1))
    n = offset + tail + 1
    s = style.size
    if style.raw_size is None:
        w, h = s, s
        pose = Pose(s / 2 + u(-0.01, 0.01) * s, EYE_Y * s + u(-0.01, 0.01) * s,
                    EYE_DISTANCE * s * u(0.97, 1.03), np.deg2rad(u(-2, 2)), u(-0.05, 0.05))
    else:
        w, h = style.raw_size
        pose = Pose(w / 2 + u(-0.03, 0.03) * w, 0.42 * h + u(-0.03, 0.03) * h,
                    0.16 * w * u(0.9, 1.1), np.deg2rad(u(-3, 3)), u(-0.08, 0.08))
    nz = Nuisance(light_angle=u(0, 2 * np.pi), light_strength=u(0.0, 0.15),
                  ambient=u(0.9, 1.05), blur=u(0.4, 0.8) * pose.scale / (EYE_DISTANCE * 128),
                  noise=u(0.8, 2.0), background=u(60, 180), noise_seed=int(rng.integers(2**62)))
    scene = Scene(clip_identity(seed, subject), np.zeros_like(aus), pose, nz, (w, h), 1)
    motion = _motion(rng, n, style.head_motion, style.fps)
    blink = None
    if rng.random() < style.p_blink:
        length = min(n, int(round(u(0.1, 0.2) * style.fps)))
        blink = (int(rng.integers(0, n - length + 1)), length)
    return ClipSpec(emotion, pattern, aus, n, onset, apex, offset, scene, motion, blink, s)


def _blinking(identity: Identity, closure: float) -> Identity:
    """``identity`` with its upper lids lowered by ``closure`` of the way to the lower lids."""
    shape = identity.neutral_shape
    jitter = identity.jitter.copy()
    for up, low in _LIDS:
        jitter[up] += 0.92 * closure * (shape[low] - shape[up])
    return replace(identity, jitter=jitter)


def register(image: np.ndarray, landmarks: np.ndarray, size: int) -> np.ndarray:
    """Crop ``image`` so the face frame of ``landmarks`` lands at a fixed place.

    The face frame (:func:`~fer_helpers.synth.face_frame`) is fitted to landmarks no AU
    and no blink moves, so every frame of a clip maps to the same crop coordinates: head
    motion is removed, as CASME II's registered ``Cropped`` frames intend.
    """
    origin, mat = face_frame(landmarks)
    scale = EYE_DISTANCE * size
    a = scale * np.linalg.inv(mat)
    b = np.array([0.5 * size, EYE_Y * size]) - a @ origin
    return warp(image, np.hstack([a, b[:, None]]), size)


def render_clip(spec: ClipSpec, registered: bool = True):
    """Render every frame of a clip.

    Returns
    -------
    frames : numpy.ndarray
        ``(n_frames, H, W)`` uint8, the raw frames.
    crops : numpy.ndarray or None
        ``(n_frames, size, size)`` uint8 registered crops (``None`` unless ``registered``).
    landmarks : numpy.ndarray
        ``(n_frames, 68, 2)`` pixel coordinates in the raw frames.
    """
    sc = spec.scene
    env, closure = spec.envelope, spec.closure
    frames, crops, lms = [], [], []
    for t in range(spec.n_frames):
        dx, dy, droll = spec.motion[t]
        p = sc.pose
        pose = replace(p, cx=p.cx + dx * p.scale, cy=p.cy + dy * p.scale, roll=p.roll + droll)
        idt = _blinking(sc.identity, closure[t]) if closure[t] > 0 else sc.identity
        nz = replace(sc.nuisance, noise_seed=sc.nuisance.noise_seed + t)
        img, lm = render(replace(sc, identity=idt, aus=spec.aus * env[t], pose=pose,
                                 nuisance=nz))
        frames.append(img)
        lms.append(lm)
        if registered:
            crops.append(register(img, lm, spec.crop))
    return np.stack(frames), (np.stack(crops) if registered else None), np.stack(lms)
