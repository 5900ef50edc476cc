"""Domain presets and deterministic, parallel generation of SynthFACS faces."""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing import get_context

import cv2
import numpy as np

from ..labels import EMOTIONS
from .emotions import sample_aus
from .face import AU_CODES
from .render import Identity, Nuisance, Pose, Scene, render


@dataclass(frozen=True)
class Domain:
    """How one real dataset looks: image size, framing, pose and nuisance ranges."""

    name: str
    key: int  # part of every per-image seed, so domains never share random streams
    size: tuple[int, int]  # (width, height)
    centre: tuple[float, float]  # eye midpoint, pixels
    centre_jitter: float  # pixels
    scale: tuple[float, float]  # pixels per face unit (inter-ocular distance)
    roll_deg: float
    yaw: float
    blur: tuple[float, float]
    noise: tuple[float, float]
    light: tuple[float, float]
    background: tuple[float, float]
    intensity: tuple[int, int]  # peak AU intensity range of core AUs
    n_unrelated: float
    supersample: int

    def scene(self, identity: Identity, aus: np.ndarray, rng: np.random.Generator) -> Scene:
        """Draw pose and nuisances for one image of ``identity`` showing ``aus``."""
        u = rng.uniform
        j = self.centre_jitter
        pose = Pose(self.centre[0] + u(-j, j), self.centre[1] + u(-j, j), u(*self.scale),
                    np.deg2rad(u(-self.roll_deg, self.roll_deg)), u(-self.yaw, self.yaw))
        nz = Nuisance(light_angle=u(0, 2 * np.pi), light_strength=u(*self.light),
                      ambient=u(0.85, 1.1), blur=u(*self.blur), noise=u(*self.noise),
                      background=u(*self.background), noise_seed=int(rng.integers(2**62)))
        return Scene(identity, aus, pose, nz, self.size, self.supersample)


DOMAINS: dict[str, Domain] = {
    # small in-the-wild faces, tightly cropped, 48x48 grey
    "fer2013": Domain("fer2013", 1, (48, 48), (24.0, 19.0), 1.5, (14.5, 17.5), 14.0, 0.4,
                      (0.3, 0.8), (1.0, 7.0), (0.0, 0.45), (20, 230), (2, 5), 0.8, 2),
    # posed lab sequences: 640x490 frames, frontal, even light
    "ckplus": Domain("ckplus", 2, (640, 490), (320.0, 200.0), 25.0, (95.0, 115.0), 5.0, 0.12,
                     (0.6, 1.2), (1.0, 3.0), (0.0, 0.15), (90, 170), (3, 5), 0.4, 1),
}


def identity(seed: int, ident: int) -> Identity:
    """The synthetic person number ``ident`` of dataset seed ``seed``."""
    return Identity.sample(np.random.default_rng([seed, 0, ident]))


@lru_cache(maxsize=2048)
def _identity(seed: int, ident: int) -> Identity:
    """:func:`identity`, kept: a dataset's people recur (about 8 images each), and an
    :class:`Identity` caches its posed-outline geometry for :func:`render`."""
    return identity(seed, ident)


@dataclass
class SynthFaces:
    """Faces with their exact ground truth.

    Attributes
    ----------
    images : (n, H, W) uint8
    emotion : (n,) int, codes in :data:`fer_helpers.labels.CKPLUS`
    aus : (n, A, 2) float, AU intensity per image half (image-left, image-right), columns
        in :data:`fer_helpers.synth.face.AU_CODES` order
    identity : (n,) int
    landmarks : (n, 68, 2) float, pixel coordinates
    blur : (n,) float, blur sigma in pixels (for :func:`au_region_masks`)
    """

    images: np.ndarray
    emotion: np.ndarray
    aus: np.ndarray
    identity: np.ndarray
    landmarks: np.ndarray
    blur: np.ndarray
    domain: str

    def __len__(self) -> int:
        return len(self.images)

    @property
    def au_intensity(self) -> np.ndarray:
        """(n, A) intensity, the larger of the two halves."""
        return self.aus.max(axis=2)


def _sample(seed: int, domain: Domain, i: int, emotions, weights, n_identities: int):
    rng = np.random.default_rng([seed, domain.key, i])
    ident = int(rng.integers(n_identities))
    emo = EMOTIONS.index(emotions[rng.choice(len(emotions), p=weights)])
    aus = sample_aus(EMOTIONS[emo], rng, domain.intensity, n_unrelated=domain.n_unrelated)
    scene = domain.scene(_identity(seed, ident), aus, rng)
    img, lm = render(scene)
    return img, emo, aus, ident, lm, scene.nuisance.blur


def _chunk(args):
    cv2.setNumThreads(1)
    seed, dname, lo, hi, emotions, weights, n_identities = args
    dom = DOMAINS[dname]
    rows = [_sample(seed, dom, i, emotions, weights, n_identities) for i in range(lo, hi)]
    cols = zip(*rows, strict=True)
    return [np.stack(col) if k != 5 else np.array(col) for k, col in enumerate(cols)]


# The worker pool, kept between calls (spawning a worker costs about half a second of
# imports, as long as rendering ~500 faces): (worker count, executor, shared state). The
# state is [call number, next unclaimed chunk] in shared memory; a task of an earlier call
# that runs late sees another call number and claims nothing.
_POOL = None
_state = None  # a worker's handle on the pool's shared state


def _set_state(state) -> None:
    global _state
    _state = state


def _claim(state, call: int, n_chunks: int) -> int | None:
    """The next chunk of call ``call`` nobody has claimed yet, or None."""
    with state.get_lock():
        if state[0] != call or state[1] >= n_chunks:
            return None
        i = state[1]
        state[1] = i + 1
    return i


def _job(spec, i: int):
    """Chunk ``i`` of ``spec = (seed, domain, n, chunk, emotions, weights, n_identities)``."""
    seed, domain, n, chunk, emotions, w, n_identities = spec
    lo = i * chunk
    return seed, domain, lo, min(n, lo + chunk), emotions, w, n_identities


def _claim_chunks(spec, call: int, n_chunks: int) -> list:
    """Worker task: render chunks of call ``call`` until none is left unclaimed."""
    out = []
    while (i := _claim(_state, call, n_chunks)) is not None:
        out.append((i, _chunk(_job(spec, i))))
    return out


def _pool(n_workers: int):
    """The kept pool of ``n_workers`` spawned workers (started on demand; a broken one is
    replaced by :func:`_run_pool`)."""
    global _POOL
    if _POOL is not None and _POOL[0] != n_workers:
        shutdown_pool()
    if _POOL is None:
        ctx = get_context("spawn")
        state = ctx.Array("q", 2)
        _POOL = (n_workers, ProcessPoolExecutor(n_workers, mp_context=ctx,
                                                initializer=_set_state, initargs=(state,)),
                 state)
    return _POOL


def shutdown_pool() -> None:
    """Stop the kept worker processes of :func:`generate` (they also end with Python)."""
    global _POOL
    if _POOL is not None:
        _POOL[1].shutdown(wait=False, cancel_futures=True)
        _POOL = None


def _submit(spec, n_workers: int, n_chunks: int):
    """Start a call on the kept pool: a new call number, one claiming task per worker."""
    _, pool, state = _pool(n_workers)
    with state.get_lock():
        state[0] += 1
        state[1] = 0
        call = int(state[0])
    return [pool.submit(_claim_chunks, spec, call, n_chunks) for _ in range(n_workers)], \
        state, call


def _run_pool(spec, n_jobs: int):
    """Render the chunks of ``spec`` (see :func:`_job`) with ``n_jobs - 1`` kept workers
    and this process.

    Chunks are claimed from shared memory when a process is ready for one, so this process
    renders from the start while new workers boot (imports), and no chunk waits for a busy
    or still-starting worker. The workers stay for the next call.
    """
    n_chunks = -(-spec[2] // spec[3])
    try:
        futures, state, call = _submit(spec, n_jobs - 1, n_chunks)
    except BrokenProcessPool:  # a worker died in an earlier call: start a new pool
        shutdown_pool()
        futures, state, call = _submit(spec, n_jobs - 1, n_chunks)
    parts = [None] * n_chunks
    while (i := _claim(state, call, n_chunks)) is not None:
        parts[i] = _chunk(_job(spec, i))
    # the rest were claimed by workers; a task that has not started claims nothing now
    pending = {f for f in futures if not f.cancel()}
    while any(p is None for p in parts):
        if not pending:
            raise RuntimeError("a claimed chunk was never returned")
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for f in done:
            for j, part in f.result():
                parts[j] = part
    return parts


def generate(n: int, domain: str = "fer2013", seed: int = 0, emotions=None, weights=None,
             n_identities: int | None = None, n_jobs: int | None = None,
             chunk: int = 256) -> SynthFaces:
    """Render ``n`` faces of a domain; image ``i`` depends only on ``(seed, domain, i)``.

    Parameters
    ----------
    n : int
        Number of faces.
    domain : {'fer2013', 'ckplus'}
        Preset from :data:`DOMAINS`.
    seed : int
        Dataset seed; the same seed gives the same bytes, whatever ``n_jobs``.
    emotions : sequence of str, optional
        Canonical emotion names to draw from (default: all eight).
    weights : sequence of float, optional
        Their probabilities (default: uniform).
    n_identities : int, optional
        Size of the pool of synthetic people (default ``max(1, n // 8)``).
    n_jobs : int, optional
        Worker processes (default: all cores); 1 renders in this process. Workers are
        *spawned* and kept for the next call (:func:`shutdown_pool` stops them): in a
        script, call this under ``if __name__ == "__main__":`` (notebooks and
        ``python -m fer_helpers.synth`` need nothing).
    """
    emotions = tuple(emotions or EMOTIONS)
    for e in emotions:
        if e not in EMOTIONS:
            raise ValueError(f"unknown emotion {e!r}; expected one of {EMOTIONS}")
    w = np.full(len(emotions), 1.0) if weights is None else np.asarray(weights, float)
    w = w / w.sum()
    n_identities = n_identities or max(1, n // 8)
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; expected one of {sorted(DOMAINS)}")
    n_jobs = n_jobs or os.cpu_count() or 1
    parallel = n_jobs > 1 and n > chunk
    if parallel:  # smaller chunks in a pool: less idle time at the end
        chunk = min(chunk, max(32, -(-n // (16 * n_jobs))))
    spec = (seed, domain, n, chunk, emotions, w, n_identities)
    threads = cv2.getNumThreads()
    try:
        parts = (_run_pool(spec, n_jobs) if parallel else
                 [_chunk(_job(spec, i)) for i in range(-(-n // chunk))])
    finally:
        cv2.setNumThreads(threads)  # _chunk sets one thread (for workers)
    if not parts:
        dw, dh = DOMAINS[domain].size
        parts = [[np.zeros((0, dh, dw), np.uint8), np.zeros(0, int),
                  np.zeros((0, len(AU_CODES), 2)), np.zeros(0, int), np.zeros((0, 68, 2)),
                  np.zeros(0)]]
    cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
    return SynthFaces(*cols, domain=domain)

