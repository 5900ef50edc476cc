"""LBP-TOP (Zhao & Pietikainen 2007) + linear SVM: the micro-expression baseline of Table 4.

Local binary patterns on Three Orthogonal Planes: for every voxel of a clip ``(T, H, W)``, the
LBP code of its neighbourhood in the XY plane (appearance), the XT plane (horizontal motion)
and the YT plane (vertical motion). Codes are counted in a grid of spatial blocks (the whole
clip in time), one histogram per block and plane, concatenated.

What is computed here (the CASME II paper's exact blocks and radii are not checked here, so
they are parameters):

- ``P = 8`` neighbours, the same radius ``R`` on all three planes (default 1; ``R`` is in
  pixels on XY and, on XT and YT, in pixels along the spatial axis and in *resampled frames*
  along time), scikit-image's ``local_binary_pattern(plane, 8, R, "nri_uniform")``: the 58
  uniform patterns plus one bin for every non-uniform one, 59 bins per plane, 177 per block.
  For equal radii these are the codes of Zhao's formulation (bin order differs; an SVM does
  not care).
- Codes only where the whole neighbourhood lies inside the clip (``R`` voxels from every
  border), so the three planes count the same voxels.
- ``5 x 5`` spatial blocks, one time block; each block-plane histogram normalised to sum 1.
- Clips are linearly resampled to a fixed number of frames first (the usual stand-in for the
  temporal interpolation model, TIM, which no maintained package provides).
- Classifier: scikit-learn's ``LinearSVC`` (C = 1, no model selection), one per
  leave-one-subject-out fold, fitted on that fold's training subjects only.

References
----------
Zhao, G. & Pietikainen, M. (2007). Dynamic texture recognition using local binary patterns
with an application to facial expressions. IEEE TPAMI 29(6).
Yan, W.-J. et al. (2014). CASME II: An improved spontaneous micro-expression database and
the baseline evaluation. PLOS ONE 9(1): e86041.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: Bins of ``nri_uniform`` LBP with 8 neighbours: 8 * 7 + 2 uniform patterns + 1 other.
N_BINS = 59


@dataclass(frozen=True)
class LBPTop:
    """LBP-TOP settings (module docstring).

    Attributes
    ----------
    radius : int
        Neighbourhood radius on all three planes (pixels; resampled frames in time).
    points : int
        Neighbours per plane (8: 59 bins per plane).
    blocks : (int, int)
        Spatial grid (rows, columns); time is one block.
    length : int
        Frames each clip is resampled to before the codes are computed.
    size : int
        Side the frames are resized to.
    C : float
        The linear SVM's regularisation constant (fixed: no model selection).
    """

    radius: int = 1
    points: int = 8
    blocks: tuple[int, int] = (5, 5)
    length: int = 10
    size: int = 64
    C: float = 1.0

    @property
    def n_bins(self) -> int:
        return self.points * (self.points - 1) + 3

    @property
    def n_features(self) -> int:
        return self.blocks[0] * self.blocks[1] * 3 * self.n_bins

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return (f"LBP-TOP: P = {self.points}, R = {self.radius} on XY, XT and YT, "
                f"{self.blocks[0]}x{self.blocks[1]} blocks, clips resampled to {self.length} "
                f"frames of {self.size}x{self.size}; linear SVM, C = {self.C:g}")


def plane_codes(volume: np.ndarray, points: int = 8, radius: int = 1) -> np.ndarray:
    """``(3, T', H', W')`` LBP codes of the XY, XT and YT planes through every inner voxel.

    ``volume`` is ``(T, H, W)`` uint8; ``T' = T - 2R`` etc. (voxels whose neighbourhood lies
    inside the clip on all three planes).
    """
    from skimage.feature import local_binary_pattern

    vol = np.ascontiguousarray(volume, dtype=np.uint8)
    t, h, w = vol.shape
    r = int(radius)
    if min(t, h, w) <= 2 * r:
        raise ValueError(f"a clip of shape {vol.shape} has no voxel {r} away from every border")

    def lbp(img):
        return local_binary_pattern(img, points, r, "nri_uniform")

    ts, hs, ws = slice(r, t - r), slice(r, h - r), slice(r, w - r)
    # Planes of one orientation are stacked along the rows of one image: inner rows only look
    # R rows up and down, so they never reach the neighbouring plane (one call per orientation
    # instead of one per plane; the same codes, checked in the tests).
    xy = lbp(vol.reshape(t * h, w)).reshape(t, h, w)[ts, hs, ws]  # (T', H', W')
    xt = lbp(vol.transpose(1, 0, 2).reshape(h * t, w)).reshape(h, t, w)[hs, ts, ws]
    yt = lbp(vol.transpose(2, 0, 1).reshape(w * t, h)).reshape(w, t, h)[ws, ts, hs]
    return np.stack([xy, xt.transpose(1, 0, 2), yt.transpose(1, 2, 0)]).astype(np.int16)


def _edges(n: int, k: int) -> np.ndarray:
    return np.linspace(0, n, k + 1).round().astype(int)


def lbp_top(volume: np.ndarray, points: int = 8, radius: int = 1, blocks=(5, 5)) -> np.ndarray:
    """LBP-TOP feature vector of one clip ``(T, H, W)`` uint8.

    Returns
    -------
    numpy.ndarray
        ``(blocks[0] * blocks[1] * 3 * n_bins,)`` float32, ordered (block row, block column,
        plane XY/XT/YT, bin); each block-plane histogram sums to 1.
    """
    codes = plane_codes(volume, points, radius)
    n_bins = points * (points - 1) + 3
    _, tt, h, w = codes.shape
    by = np.searchsorted(_edges(h, blocks[0])[1:], np.arange(h), side="right")
    bx = np.searchsorted(_edges(w, blocks[1])[1:], np.arange(w), side="right")
    block = (by[:, None] * blocks[1] + bx[None, :])  # (H', W') block of each pixel
    # one bincount over (block, plane, code)
    index = (block[None, None] * 3 + np.arange(3)[:, None, None, None]) * n_bins + codes
    out = np.bincount(index.ravel(), minlength=blocks[0] * blocks[1] * 3 * n_bins)
    out = out.reshape(blocks[0], blocks[1], 3, n_bins).astype(np.float32)
    out /= np.maximum(out.sum(axis=-1, keepdims=True), 1)
    return out.ravel()


def features(volumes, settings: LBPTop = LBPTop()) -> np.ndarray:
    """``(n, settings.n_features)`` LBP-TOP features of clips ``(n, T, H, W)`` uint8."""
    return np.stack([lbp_top(v, settings.points, settings.radius, settings.blocks)
                     for v in volumes])


def svm(settings: LBPTop = LBPTop(), seed: int = 0):
    """The linear SVM of the baseline (scikit-learn ``LinearSVC``)."""
    from sklearn.svm import LinearSVC

    return LinearSVC(C=settings.C, random_state=seed, max_iter=20000)


__all__ = ["N_BINS", "LBPTop", "features", "lbp_top", "plane_codes", "svm"]
