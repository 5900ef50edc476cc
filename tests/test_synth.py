"""SynthFACS: determinism, AU locality, unilateral AUs, emotion prototypes, CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fer_helpers.synth import (
    AU_CODES,
    PROTOTYPES,
    Identity,
    Nuisance,
    Pose,
    Scene,
    au_region_masks,
    generate,
    reference_region_masks,
    render,
    sample_aus,
    write_ckplus,
    write_fer2013,
)
from fer_helpers.synth.face import STABLE, displacement_basis

from .conftest import tree_digest


def test_same_seed_same_bytes_whatever_the_workers():
    a = generate(40, "fer2013", seed=5, n_jobs=1, chunk=16)
    b = generate(40, "fer2013", seed=5, n_jobs=2, chunk=16)
    c = generate(40, "fer2013", seed=6, n_jobs=1)
    assert a.images.tobytes() == b.images.tobytes()
    np.testing.assert_array_equal(a.aus, b.aus)
    assert a.images.tobytes() != c.images.tobytes()


def test_the_kept_pool_serves_later_calls_and_restarts():
    from fer_helpers.synth.generate import shutdown_pool

    one = [generate(100, "fer2013", seed=s, n_jobs=1, chunk=16) for s in (7, 8)]
    shutdown_pool()
    for _ in range(2):  # the second round reuses the workers of the first
        for ref, s in zip(one, (7, 8), strict=True):
            got = generate(100, "fer2013", seed=s, n_jobs=2, chunk=16)
            assert got.images.tobytes() == ref.images.tobytes()
            np.testing.assert_array_equal(got.landmarks, ref.landmarks)
    shutdown_pool()  # and a later call starts a new pool
    again = generate(100, "fer2013", seed=7, n_jobs=2, chunk=16)
    assert again.images.tobytes() == one[0].images.tobytes()


def test_a_killed_worker_is_replaced_by_the_next_call():
    import os
    import signal
    import time

    from fer_helpers.synth.generate import _pool, shutdown_pool

    ref = generate(100, "fer2013", seed=9, n_jobs=1, chunk=16)
    shutdown_pool()
    generate(100, "fer2013", seed=9, n_jobs=2, chunk=16)  # starts the kept worker
    pid = _pool(1)[1].submit(os.getpid).result(timeout=60)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)  # the pool notices its dead worker and marks itself broken
    got = generate(100, "fer2013", seed=9, n_jobs=2, chunk=16)
    assert got.images.tobytes() == ref.images.tobytes()
    shutdown_pool()


def test_writers_are_deterministic(tmp_path):
    for k, jobs in ((1, 1), (2, 2)):
        write_ckplus(tmp_path / f"ck{k}", n_subjects=3, seed=2, n_jobs=jobs)
        write_fer2013(tmp_path / f"f{k}.csv", n=50, seed=2, ferplus_path=tmp_path / f"p{k}.csv",
                      n_jobs=jobs)
    assert tree_digest(tmp_path / "ck1") == tree_digest(tmp_path / "ck2")
    for stem in ("f", "p"):
        assert (tmp_path / f"{stem}1.csv").read_bytes() == (tmp_path / f"{stem}2.csv").read_bytes()


def test_no_au_moves_the_stable_landmarks():
    basis = displacement_basis()
    assert np.abs(basis[:, :, list(STABLE)]).max() == 0
    assert (np.abs(basis).sum(axis=(1, 2, 3)) > 0).all()  # every AU moves something


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_au_changes_pixels_only_inside_its_region(seed):
    rng = np.random.default_rng(seed)
    idt = Identity.sample(rng)
    base = np.zeros((len(AU_CODES), 2))
    for c in rng.choice(len(AU_CODES), 3, replace=False):
        base[c] = rng.integers(1, 6)
    pose = Pose(48 + rng.uniform(-3, 3), 48, rng.uniform(26, 32), rng.uniform(-0.2, 0.2),
                rng.uniform(-0.3, 0.3))
    nz = Nuisance(blur=0.7, noise=3.0, light_strength=0.3, light_angle=1.0, noise_seed=9)
    for a, code in enumerate(AU_CODES):
        without = base.copy()
        without[a] = 0
        img0, lm0 = render(Scene(idt, without, pose, nz, (96, 96)))
        mask = au_region_masks(lm0, (96, 96), blur=nz.blur, codes=[code])[0]
        for sides in ([0], [1], [0, 1]):
            with_au = without.copy()
            with_au[a, sides] = rng.integers(1, 6)
            img1, _ = render(Scene(idt, with_au, pose, nz, (96, 96)))
            changed = img0 != img1
            assert changed.sum() >= 10, f"AU{code} side {sides} changed almost nothing"
            outside = changed & ~mask
            assert not outside.any(), f"AU{code} side {sides}: {outside.sum()} px outside"
        assert mask.mean() < 0.45, f"AU{code}'s region is most of the image"


def test_unilateral_au_stays_on_its_side():
    idt = Identity.sample(np.random.default_rng(3))
    pose = Pose(48, 48, 30)
    neutral, lm = render(Scene(idt, np.zeros((len(AU_CODES), 2)), pose))
    a = AU_CODES.index(12)
    for side in (0, 1):
        aus = np.zeros((len(AU_CODES), 2))
        aus[a, side] = 5
        img, _ = render(Scene(idt, aus, pose))
        cols = np.flatnonzero((img != neutral).any(axis=0))
        mid = lm[30, 0]
        assert (cols < mid + 2).all() if side == 0 else (cols > mid - 2).all()


def test_reference_regions_are_where_facs_says():
    masks = reference_region_masks(48)
    centre_y = {c: np.argwhere(m)[:, 0].mean() for c, m in zip(AU_CODES, masks, strict=True)}
    upper, lower = (1, 2, 4, 5, 6, 7), (10, 12, 15, 16, 17, 20, 23, 25, 26)
    assert max(centre_y[c] for c in upper) < min(centre_y[c] for c in lower)
    assert centre_y[2] < centre_y[6] and centre_y[12] < centre_y[17]


@pytest.mark.parametrize("emotion", sorted(PROTOTYPES))
def test_emotions_show_their_prototype(emotion):
    rng = np.random.default_rng(0)
    core, _ = PROTOTYPES[emotion]
    shown = np.mean([sample_aus(emotion, rng, n_unrelated=0.0, p_drop=0.0).max(axis=1) > 0
                     for _ in range(50)], axis=0)
    for c in core:
        assert shown[AU_CODES.index(c)] == 1.0
    if emotion == "contempt":
        aus = sample_aus(emotion, rng)
        assert (aus[AU_CODES.index(12)] > 0).sum() == 1  # one side only


def test_emotion_and_aus_are_not_one_to_one():
    faces = generate(300, "fer2013", seed=0, n_jobs=1)
    present = faces.au_intensity > 0
    happy = present[faces.emotion == 5]
    assert happy[:, AU_CODES.index(12)].all()
    assert present[faces.emotion == 5][:, [AU_CODES.index(c) for c in (1, 4, 9)]].any()


def test_cli_writes_and_helps(tmp_path):
    out = subprocess.run([sys.executable, "-m", "fer_helpers.synth", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "ckplus" in out and "fer2013" in out and "synthetic" in out.lower()
    subprocess.run([sys.executable, "-m", "fer_helpers.synth", "regions", str(tmp_path / "r.npz"),
                    "--size", "32"], check=True, capture_output=True)
    data = np.load(tmp_path / "r.npz")
    assert data["masks"].shape == (len(AU_CODES), 32, 32)
    assert data["au_codes"].tolist() == list(AU_CODES)
