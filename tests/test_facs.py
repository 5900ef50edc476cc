"""P(j,u) and the counts on hand-made tables; localization shares."""

import numpy as np
import pytest

from fer_helpers import facs


def test_p_matrix_on_a_hand_made_table():
    # 5 images x 3 AUs (1, 6, 12)
    presence = np.array([[1, 0, 1],
                         [1, 1, 1],
                         [0, 1, 1],
                         [1, 0, 0],
                         [0, 0, 1]], bool)
    top = np.array([[0, 1, 3],      # filter 0: AU1 in all three -> P = 1
                    [1, 2, 4],      # filter 1: AU12 in all three
                    [0, 2, -1],     # filter 2: fires on only two images -> no statistic
                    [3, 4, 0]])     # filter 3: AU1 2/3, AU12 2/3
    p = facs.p_matrix(top, presence, (1, 6, 12))
    assert list(p.columns) == ["AU1", "AU6", "AU12"]
    np.testing.assert_allclose(p.loc[0], [1, 1 / 3, 2 / 3])
    np.testing.assert_allclose(p.loc[1], [1 / 3, 2 / 3, 1])
    assert p.loc[2].isna().all()
    np.testing.assert_allclose(p.loc[3], [2 / 3, 0, 2 / 3])
    acc = facs.accepted_pairs(p)
    assert acc[["filter", "AU"]].values.tolist() == [[0, "AU1"], [1, "AU12"]]
    counts = facs.paper_counts(p, active=np.ones(4, bool))
    assert counts == {"filters": 4, "active": 4, "active_share": 1.0, "accepted": 2,
                      "rejected": 2}
    counts = facs.paper_counts(p, active=np.array([True, False, False, True]))
    assert counts["active"] == 2 and counts["accepted"] == 1 and counts["rejected"] == 1


def test_shuffle_null_and_one_frame_per_sequence():
    rng = np.random.default_rng(0)
    presence = rng.random((60, 5)) < 0.3
    presence[:20, 0] = True  # images 0-19 all show AU 0
    top = np.array([np.arange(9), np.arange(5, 14), rng.permutation(60)[:9]])
    observed = facs.accepted_count(top, presence)
    null = facs.shuffle_null(top, presence, n_perm=300, seed=1)
    assert null["observed"] == observed >= 2  # filters 0 and 1 see AU 0 every time
    assert null["null_mean"] < observed and null["null_p95"] < observed
    assert null["p_value"] < 0.05
    # a table with no link between AUs and images gives a null at its own level
    flat = facs.shuffle_null(top, np.ones((60, 5), bool), n_perm=20)
    assert flat["observed"] == flat["null_mean"] == 15 and flat["p_value"] == 1.0
    paths = np.array(["S1/001/a1.png", "S1/001/a8.png", "S1/001/a9.png", "S1/001/a10.png",
                      "S1/002/b9.png", "S1/002/b10.png"])
    coded = np.array([[0], [1], [1], [1], [1], [1]], bool)
    assert facs.one_frame_per_sequence(paths, coded).tolist() == [3, 5]


def _wired_model():
    """One conv layer 'conv3' of 3 filters over the whole 16x16 image: filter 0 sums the
    pixels of region A, filter 1 of region B, filter 2 of both."""
    import keras

    inp = keras.Input((16, 16, 1))
    conv = keras.layers.Conv2D(3, 16, padding="valid", name="conv3")
    model = keras.Model(inp, keras.layers.ReLU()(conv(inp)))
    w = np.zeros((16, 16, 1, 3), np.float32)
    w[2:6, 2:6, 0, 0] = 1.0
    w[10:14, 8:12, 0, 1] = 1.0
    w[2:6, 2:6, 0, 2] = w[10:14, 8:12, 0, 2] = 1.0
    conv.set_weights([w / 16, np.zeros(3, np.float32)])
    return model


def _counterfactuals(n=40, seed=0):
    """Faces with AU "A" (a bright square in region A) and/or "B" (in region B)."""
    from fer_helpers.synth import CounterfactualSet

    rng = np.random.default_rng(seed)
    base = rng.integers(40, 80, (n, 16, 16)).astype(np.uint8)
    has = rng.random((n, 2)) < 0.6
    strength = rng.integers(60, 150, (n, 2))
    full = base.copy()
    regions = [(slice(2, 6), slice(2, 6)), (slice(10, 14), slice(8, 12))]
    for i in range(n):
        for a, (r, c) in enumerate(regions):
            if has[i, a]:
                full[i, r, c] += strength[i, a].astype(np.uint8)
    removed, scene, au = [], [], []
    for i in range(n):
        for a, (r, c) in enumerate(regions):
            if has[i, a]:
                img = full[i].copy()
                img[r, c] = base[i, r, c]
                removed.append(img)
                scene.append(i)
                au.append(a)
    removed = np.stack(removed)
    masks = np.abs(full[scene].astype(int) - removed) >= 2
    aus = np.where(has, strength, 0).astype(float)
    return CounterfactualSet(full, aus, np.zeros(n, int), removed, np.array(scene),
                             np.array(au), masks, 2.0, au_codes=(1, 2))


def test_ablation_finds_the_filter_wired_to_an_au():
    model, cset = _wired_model(), _counterfactuals()
    abl = facs.ablation(model, cset, "conv3", min_effect=1.0, margin=0.5, min_scenes=3)
    assert list(abl.effect.columns) == ["AU1", "AU2"]
    e = abl.effect.to_numpy()
    assert e[0, 0] > 1.0 and abs(e[0, 1]) < 1e-6  # filter 0: only A moves it
    assert e[1, 1] > 1.0 and abs(e[1, 0]) < 1e-6
    sel = abl.selective.set_index("filter")["AU"].to_dict()
    assert sel == {0: "AU1", 1: "AU2"}  # filter 2 sees both: no margin, not selective
    assert abl.coverage == ["AU1", "AU2"] and abl.summary()["selective_filters"] == 2
    import pandas as pd

    pairs = pd.DataFrame({"filter": [0, 0, 2], "AU": ["AU1", "AU2", "AU9"]})
    causal = abl.causal(pairs)
    assert causal.iloc[0] == 1.0 and causal.iloc[1] == 0.0 and np.isnan(causal.iloc[2])
    # localization: filter 0's picture lies in A's exact mask, whose window is the image
    loc = facs.exact_localization(model, cset, pd.DataFrame({"filter": [0, 1],
                                                             "AU": ["AU1", "AU2"]}), "conv3")
    np.testing.assert_allclose(loc["inside"], 1.0)
    assert (loc["chance"] < 0.1).all() and (loc["lift"] > 0.9).all()


def test_receptive_field_of_the_paper_cnn():
    from fer_helpers import models

    m = models.paper_cnn((48, 48, 1), 8)
    assert facs.receptive_field(m, "conv1") == (5, 1, 0.0)
    assert facs.receptive_field(m, "conv2") == (14, 2, 0.5)
    assert facs.receptive_field(m, "conv3") == (32, 4, 1.5)
    masks = np.zeros((1, 48, 48), bool)
    masks[0, :8, :8] = True
    # unit (0, 0) of conv3: its window is rows/cols 0..17 of the image (clipped at 0)
    share = facs.window_share(masks, np.array([[0, 0]]), facs.receptive_field(m, "conv3"))
    assert share[0] == pytest.approx(64 / 18**2)


def test_verdict_is_computed_from_mean_and_sd():
    import pandas as pd

    from fer_helpers.facs import study

    def rows(values):
        return pd.DataFrame([{"network": n, "fold": k, "seed": 0, "selective filters": v}
                             for n, vs in values.items() for k, v in enumerate(vs)])

    good = rows({"trained": [20, 24, 22], "untrained": [1, 0, 2], "shuffled": [3, 2, 4],
                 "au_trained": [40, 44, 42]})
    text = study.verdict(good)
    assert text[0].startswith("The measure passes its positive control")
    assert "42.0 ± 2.0" in text[0] and "shuffled labels (3.0 ± 1.0)" in text[0]
    assert "22.0 ± 2.0 selective filters, above the untrained" in text[1]
    assert "above the shuffled labels control (3.0 ± 1.0)" in text[2]
    assert "are BELOW it: 52% of what training on AUs directly reaches" in text[3]
    # a tie with the positive control is a finding, not a failure of the measure
    tie = rows({"trained": [40, 44, 42], "untrained": [1, 0, 2], "shuffled": [3, 2, 4],
                "au_trained": [41, 43, 42]})
    text = study.verdict(tie)
    assert text[0].startswith("The measure passes") and "not distinguishable from it" in text[3]
    bad = rows({"trained": [20, 24, 22], "untrained": [21, 30, 12], "shuffled": [3, 2, 4],
                "au_trained": [10, 12, 11]})
    text = study.verdict(bad)
    assert "FAILED its positive control" in text[0]
    assert "not distinguishable from the untrained" in text[1]
    table = study.summary_table(good, ["selective filters"])
    assert table.loc["selective filters", "emotion-trained"] == "22.0 ± 2.0"
    assert list(table.columns)[-1] == "AU-trained (positive control)"


def test_per_au_and_co_occurring_count_selective_filters_per_run():
    import pandas as pd

    from fer_helpers.facs import study

    eff = pd.DataFrame({"AU6": [2.0, 0.1, 0.0, np.nan, 1.2, 0.2],
                        "AU12": [0.1, 1.5, 1.9, np.nan, 1.0, 0.0]})
    eff["network"] = ["trained", "trained", "trained", "untrained", "au_trained", "au_trained"]
    eff["fold"], eff["seed"] = [0, 0, 1, 0, 0, 0], 0
    counts = study.per_au(eff)
    assert counts.loc["emotion-trained"].tolist() == [0.5, 1.0]  # 2 runs: (1, 1) and (0, 1)
    assert counts.loc["AU-trained (positive control)"].tolist() == [0.0, 0.0]  # no margin
    table = study.co_occurring(eff, "AU6", "AU12").set_index("selective for")
    assert table.loc["AU12", "filters per network"] == "1.0 ± 0.0"
    assert table.loc["AU12", "effect of removing the other"] == "0.05 (AU6)"
    assert table.loc["AU6", "effect of removing that AU"] == "2.00"
