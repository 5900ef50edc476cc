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


def test_localization_shares_and_summary():
    pictures = np.zeros((3, 4, 4, 1))
    pictures[0, 0, 0] = 2.0  # all mass inside
    pictures[1, 0, 0], pictures[1, 3, 3] = 1.0, -3.0  # a quarter inside
    masks = np.zeros((3, 4, 4), bool)
    masks[:, :2, :2] = True
    share = facs.localization(pictures, masks)
    np.testing.assert_allclose(share[:2], [1.0, 0.25])
    assert np.isnan(share[2])  # no mass at all
    import pandas as pd

    pairs = pd.DataFrame({"filter": [0, 1, 2], "AU": ["AU1", "AU1", "AU12"],
                          "inside": [0.9, 0.2, 0.6]})
    s = facs.localization_summary(pairs, (1, 6, 12), threshold=0.5)
    assert s["localized_pairs"] == 2 and s["precision"] == pytest.approx(2 / 3)
    assert s["aus_recovered"] == 2 and s["recovery"] == pytest.approx(2 / 3)


def test_versus_control_says_which_side_wins():
    t = {"precision": 0.2, "recovery": 0.5}
    c = {"precision": 0.4, "recovery": 0.5}
    text = facs.versus_control(t, c).splitlines()
    assert "trained 0.20, untrained control 0.40: the trained network is BELOW" in text[0]
    assert "equals the control" in text[1]
    assert "cannot be compared" in facs.versus_control({**t, "precision": float("nan")}, c)
