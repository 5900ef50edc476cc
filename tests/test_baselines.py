"""Chance, majority baseline and AU ceiling on hand-made folds; the results file."""

import json

import numpy as np
import pytest

from fer_helpers import baselines, results


def test_reference_lines_on_hand_made_folds():
    rng = np.random.default_rng(0)
    n = 120
    presence = rng.random((n, 4)) < 0.4
    labels = presence[:, 0] * 1 + presence[:, 1] * 2  # a function of the AUs: 4 classes
    intensity = np.where(presence, rng.integers(1, 6, (n, 4)), 0).astype(float)
    intensity[0, presence[0]] = np.nan  # present, intensity not coded
    feats = baselines.au_features(presence, intensity)
    assert feats.shape == (n, 8) and np.isfinite(feats).all()
    idx = np.arange(n)
    triples = [(idx[40:100], idx[100:], idx[:40]), (idx[:60], idx[60:80], idx[80:])]
    lines = baselines.reference_lines(labels, triples, feats)
    assert list(lines.columns) == ["chance", "majority baseline", "AU ceiling"]
    assert (lines["AU ceiling"] == 1.0).all()  # the AUs determine the label
    for k, (fit, val, test) in enumerate(triples):
        train = np.concatenate([fit, val])
        top = np.bincount(labels[train]).argmax()
        assert lines.loc[k, "majority baseline"] == pytest.approx((labels[test] == top).mean())
        assert lines.loc[k, "chance"] == pytest.approx(1 / len(np.unique(labels[test])))
    # without AU codes there is no ceiling, and the table says n/a
    no_au = baselines.reference_lines(labels, triples)
    assert no_au["AU ceiling"].isna().all()

    class Run:  # what format_table reads of a CVResult
        accuracies = np.array([0.5, 0.7])

    table = baselines.format_table({"cnn": Run()}, no_au)
    assert table.loc["mean ± sd", "cnn"] == "60.0 ± 14.1 %"
    assert table.loc["fold 1", "cnn"] == "70.0%" and table.loc["mean ± sd", "AU ceiling"] == "n/a"


def test_results_are_recorded_per_chapter(tmp_path):
    results.record("02_training", {"ck_accuracy_mean": np.float32(0.9), "nan": float("nan"),
                                   "nested": {"a": np.int64(3)}}, root=tmp_path)
    results.record("04_facs_correlation", {"x": 1}, root=tmp_path)
    results.record_runtime("02_training", 12.34, "ci", root=tmp_path)
    results.record("04_facs_correlation", {"x": 2}, root=tmp_path)  # replaces its own only
    data = json.loads((tmp_path / "_build" / "results.json").read_text())
    assert data["02_training"]["ck_accuracy_mean"] == pytest.approx(0.9)
    assert data["02_training"]["nan"] is None and data["02_training"]["nested"] == {"a": 3}
    assert data["02_training"]["seconds"] == 12.3 and "keras" in data["02_training"]["versions"]
    assert data["04_facs_correlation"]["x"] == 2


def test_results_page_lists_every_chapter_with_provenance(tmp_path):
    results.record("02_training", {"ck_accuracy_mean": 0.9123, "ck_accuracy_std": 0.02,
                                   "ck_ceiling": 1.0, "majority_baseline": 0.25,
                                   "chance": 0.125, "data": "SynthFACS (synthetic), CK+ layout",
                                   "profile": "quick",
                                   "paper": {"ck_accuracy": "98.62 ± 0.11%"}}, root=tmp_path)
    results.record_runtime("02_training", 61.0, "quick", root=tmp_path)
    text = results.page(["01_data", "02_training"], root=tmp_path)
    assert "## 01 data" in text and "Not run in this build." in text
    assert "| paper CNN, CK+ layout, test accuracy | 91.2 ± 2.0 % | 98.62 ± 0.11%" in text
    assert "SynthFACS (synthetic)" in text and "ran in 61 s" in text and "profile `quick`" in text


def test_results_page_names_networks_and_lists_verdicts_below_the_table(tmp_path):
    results.record("04_facs_correlation", {
        "selective_filters": {"trained": 30.0, "au_trained": 20.0},
        "verdict": ["The measure passes its positive control.", "Emotion-trained: above."],
        "networks": {"trained": "emotion-trained", "au_trained": "AU-trained"},
        "data": {"CK+": "SynthFACS (synthetic), CK+ layout", "FER2013": "real data"}},
        root=tmp_path)
    text = results.page(["04_facs_correlation"], root=tmp_path)
    assert "| selective filters: emotion-trained | 30.0 |" in text
    assert "| selective filters: AU-trained | 20.0 |" in text
    table_end = max(i for i, line in enumerate(text.splitlines()) if line.startswith("|"))
    below = text.splitlines()[table_end + 1:]
    assert "- The measure passes its positive control." in below
    assert "- Emotion-trained: above." in below
    assert "verdict" not in "\n".join(line for line in text.splitlines() if line.startswith("|"))
    assert "Data: CK+: SynthFACS (synthetic), CK+ layout; FER2013: real data" in text
    assert "{'CK+'" not in text


def test_results_page_shows_chapter_5s_matrix_and_au_heads(tmp_path):
    results.record("05_transfer", {
        "in_domain": {"CK+": {"accuracy": 0.9, "majority": 0.25, "ceiling": 0.99}},
        "cross_dataset": {"CK+": {"CK+": 0.9, "FER2013": 0.7}},
        "cross_dataset_new_head": {"CK+": {"CK+": 0.88, "FER2013": 0.75}},
        "au_presence": {"emotion_frozen": {"accuracy": 0.9, "all_absent_accuracy": 0.87,
                                           "mean_f1": 0.68}},
        "au_intensity": {"emotion_frozen": {"mse": 0.64, "icc": 0.65, "all_zero_mse": 1.8}},
        "networks": {"emotion_frozen": "emotion-trained (frozen)"},
        "paper": {"table3": {"CK+": {"CK+": 98.62, "FER2013": 69.3}},
                  "au_presence_accuracy": 97.54, "au_intensity_mse": 0.2045}}, root=tmp_path)
    text = results.page(["05_transfer"], root=tmp_path)
    assert ("| CK+ on its own test folds (AU ceiling; majority) | 90.0 % (99.0 %; 25.0 %) | "
            "98.62 % (real data, Table 3) |") in text
    assert ("| train CK+, test FER2013: (a) as is / (b) new head | 70.0 % / 75.0 % | "
            "69.30 % (real data, Table 3) |") in text
    assert ("| AU presence, emotion-trained (frozen): mean per-AU accuracy / mean F1 | "
            "90.0 % / 68.0 % | 97.54 % accuracy (real CK+) |") in text
    assert "| AU presence, all-absent baseline: accuracy | 87.0 % |" in text
    assert "| AU intensity 0-5, emotion-trained (frozen): MSE / ICC(3,1) | 0.640 / 0.650 |" in text
    assert "| AU intensity 0-5, all-zero baseline: MSE | 1.800 |" in text
