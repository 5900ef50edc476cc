"""Domain presets and deterministic, parallel generation of SynthFACS faces."""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
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


_counter = None  # a worker's handle on the pool's shared next-chunk counter


def _set_counter(counter) -> None:
    global _counter
    _counter = counter


def _claim(counter) -> int:
    with counter.get_lock():
        i = counter.value
        counter.value = i + 1
    return i


def _job(spec, i: int):
    """Chunk ``i`` of ``spec = (seed, domain, n, chunk, emotions, weights, n_identities)``."""
    seed, domain, n, chunk, emotions, w, n_identities = spec
    lo = i * chunk
    return seed, domain, lo, min(n, lo + chunk), emotions, w, n_identities


def _claim_chunk(spec, n_chunks: int):
    """Worker task: render the next chunk nobody has claimed yet, if any is left."""
    i = _claim(_counter)
    return (i, _chunk(_job(spec, i))) if i < n_chunks else None


def _run_pool(spec, n_jobs: int):
    """Render the chunks of ``spec`` (see :func:`_job`) with ``n_jobs - 1`` spawned
    workers and this process.

    Chunks are claimed from a shared counter when a process is ready for one, so this
    process renders from the start while the workers boot (imports), and no chunk waits
    in a queue for a busy or still-starting worker.
    """
    ctx = get_context("spawn")
    counter = ctx.Value("q", 0)
    n_chunks = -(-spec[2] // spec[3])
    parts = [None] * n_chunks
    pool = ProcessPoolExecutor(n_jobs - 1, mp_context=ctx, initializer=_set_counter,
                               initargs=(counter,))
    try:
        futures = [pool.submit(_claim_chunk, spec, n_chunks) for _ in range(n_chunks)]
        while (i := _claim(counter)) < n_chunks:
            parts[i] = _chunk(_job(spec, i))
        # the rest were claimed by workers; tasks that never started are not needed, nor
        # are queued ones that will find nothing left (a worker may still be starting)
        pending = {f for f in futures if not f.cancel()}
        while any(p is None for p in parts):
            if not pending:
                raise RuntimeError("a claimed chunk was never returned")
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                if (got := f.result()) is not None:
                    parts[got[0]] = got[1]
    finally:
        # every chunk is in: don't wait for a worker that is still starting up to exit
        pool.shutdown(wait=False, cancel_futures=True)
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
        *spawned*: in a script, call this under ``if __name__ == "__main__":`` (notebooks
        and ``python -m fer_helpers.synth`` need nothing).
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

