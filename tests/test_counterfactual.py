"""Counterfactual renders: the same face, one AU removed, the same crop; exact masks."""

import numpy as np

from fer_helpers.synth import AU_CODES, counterfactual_set


def test_counterfactuals_differ_only_where_the_au_acts():
    cs = counterfactual_set(7, seed=3, size=48, n_jobs=1)  # one face per emotion
    assert cs.images.shape == (7, 48, 48) and cs.removed.shape[1:] == (48, 48)
    assert cs.renders == 7 + len(cs.removed)
    assert sorted(set(cs.emotion.tolist())) == list(range(1, 8))  # no neutral faces
    # one removal per AU a face shows, in order, and nothing else
    for i in range(7):
        shown = np.flatnonzero(cs.aus[i] > 0)
        assert cs.au[cs.scene == i].tolist() == shown.tolist()
    diff = np.abs(cs.images[cs.scene].astype(int) - cs.removed.astype(int))
    # the mask is exactly the pixels the removal changed by >= threshold grey levels
    np.testing.assert_array_equal(cs.masks, diff >= cs.threshold)
    assert (diff[~cs.masks] < cs.threshold).all()
    # same identity, pose, light, noise and crop: an AU changes a small part of the face
    share = cs.masks.mean(axis=(1, 2))
    assert (share < 0.2).all() and (share > 0).mean() > 0.9
    # held-out identities: same seed, same bytes; another seed, other faces
    again = counterfactual_set(3, seed=3, size=48, n_jobs=1)
    np.testing.assert_array_equal(again.images, cs.images[:3])
    other = counterfactual_set(3, seed=4, size=48, n_jobs=1)
    assert not np.array_equal(other.images, cs.images[:3])
    assert cs.au_codes == AU_CODES
