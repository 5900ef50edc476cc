"""Counterfactual renders: the same face with one action unit taken away.

Each held-out scene (a new identity, never trained on, showing an emotion prototype at CK+
intensities) is rendered as CK+ frames are, then cropped with the book's alignment. Then the
same scene (same identity, pose, light, blur, noise, crop) is rendered once more for every
AU it shows, with that one AU removed. The pixel difference is exactly what the AU does to
that face (:attr:`CounterfactualSet.masks`), and a network's change of response is what it
does to the network (:mod:`fer_helpers.facs.ablation`).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing import get_context

import cv2
import numpy as np

from ..faces import Crop, eye_centres, eye_transform, warp
from ..labels import EMOTIONS
from .emotions import sample_aus
from .face import AU_CODES
from .generate import DOMAINS, identity
from .render import render

#: Added to the dataset seed for held-out identities, so no trained-on person comes back.
HELD_OUT = 1_000_003


@dataclass
class CounterfactualSet:
    """Held-out faces and their one-AU-removed renders, in the aligned crop frame.

    Attributes
    ----------
    images : (n, S, S) uint8, the full faces
    aus : (n, A) float, AU intensity (the larger half), columns ``au_codes``
    emotion : (n,) int, codes in :data:`fer_helpers.labels.CKPLUS`
    removed : (m, S, S) uint8, face ``scene[k]`` without AU ``au[k]``
    scene : (m,) int, index into ``images``
    au : (m,) int, column of ``au_codes`` that was removed
    masks : (m, S, S) bool, pixels the removal changed by at least ``threshold`` grey levels
    """

    images: np.ndarray
    aus: np.ndarray
    emotion: np.ndarray
    removed: np.ndarray
    scene: np.ndarray
    au: np.ndarray
    masks: np.ndarray
    threshold: float
    au_codes: tuple[int, ...] = AU_CODES

    @property
    def renders(self) -> int:
        """Faces rendered: the full ones and the counterfactuals."""
        return len(self.images) + len(self.removed)


def _scene(args):
    cv2.setNumThreads(1)
    seed, i, size = args
    rng = np.random.default_rng([seed + HELD_OUT, 7, i])
    dom = DOMAINS["ckplus"]
    emo = 1 + i % 7  # the seven non-neutral emotions in turn
    aus = sample_aus(EMOTIONS[emo], rng, dom.intensity, n_unrelated=dom.n_unrelated)
    scene = dom.scene(identity(seed + HELD_OUT, i), aus, rng)
    img, lm = render(scene)
    # the loader's alignment (faces.align_landmarks), fixed by the full face's landmarks
    # for the face and all its variants: the same crop, pixel for pixel
    mat = eye_transform(*eye_centres(lm), Crop(size=size))
    full = warp(img, mat, size)
    variants = []
    for a in np.flatnonzero(aus.max(axis=1) > 0):
        less = aus.copy()
        less[a] = 0.0
        other, _ = render(replace(scene, aus=less))
        variants.append((int(a), warp(other, mat, size)))
    return full, aus.max(axis=1), emo, variants


def counterfactual_set(n: int = 150, seed: int = 0, size: int = 48, threshold: float = 2.0,
                       n_jobs: int | None = None) -> CounterfactualSet:
    """Render ``n`` held-out faces and each with every AU it shows removed in turn.

    Parameters
    ----------
    n : int
        Scenes; emotions cycle through the seven non-neutral ones.
    seed : int
        Dataset seed; identities are drawn from ``seed + HELD_OUT``, never from the
        training data's.
    size : int
        Crop size (the book's :class:`~fer_helpers.faces.Crop` frame).
    threshold : float
        Grey levels a pixel must change by to count in an AU's exact mask.
    n_jobs : int, optional
        Worker processes (default: all cores). Workers are spawned: in a script, call this
        under ``if __name__ == "__main__":``.
    """
    jobs = [(seed, i, size) for i in range(n)]
    n_jobs = n_jobs or os.cpu_count() or 1
    if n_jobs == 1 or n < 8:
        rows = [_scene(j) for j in jobs]
    else:
        with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn")) as pool:
            rows = list(pool.map(_scene, jobs, chunksize=max(1, n // (4 * n_jobs))))
    images = np.stack([r[0] for r in rows])
    removed = [(i, a, img) for i, r in enumerate(rows) for a, img in r[3]]
    rem = np.stack([img for *_, img in removed]) if removed else np.zeros((0, size, size),
                                                                            np.uint8)
    scene = np.array([i for i, *_ in removed], int)
    diff = np.abs(images[scene].astype(np.int16) - rem.astype(np.int16))
    return CounterfactualSet(images, np.stack([r[1] for r in rows]),
                             np.array([r[2] for r in rows]), rem, scene,
                             np.array([a for _, a, _ in removed], int), diff >= threshold,
                             threshold)
