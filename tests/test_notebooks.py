"""Every chapter runs headless under profile ci, and the strict book build succeeds."""

from __future__ import annotations

import json

import pytest

from .conftest import ROOT

pytestmark = [pytest.mark.notebooks]


def test_chapters_execute_and_label_synthetic_results(built_book):
    from fer_helpers.book import toc_chapters

    assert set(built_book["times"]) == set(toc_chapters(ROOT))
    for name in toc_chapters(ROOT):
        nb = json.loads((ROOT / "book" / "_generated" / f"{name}.ipynb").read_text())
        outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
        assert outputs and not [o for o in outputs if o["output_type"] == "error"]
        text = json.dumps(outputs)
        assert "SynthFACS (synthetic)" in text  # synthetic numbers say so
        params = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
        assert params and "profile = \"ci\"" in "".join(params[0]["source"])


def test_book_is_built(built_book):
    index = built_book["index"]
    assert index.is_file()
    pages = ROOT / "_build" / "html" / "book" / "_generated"
    for name, n_figures in (("01_data", 5), ("02_training", 3), ("05_transfer", 5),
                            ("06_micro_expressions", 4), ("07_apply", 2)):
        html = (pages / f"{name}.html").read_text()
        assert html.count('class="plotly-graph-div"') >= n_figures, name
        assert "cdn.jsdelivr" not in html and "cdnjs" not in html and "unpkg.com/@jup" not in html


def test_training_chapter_sets_ours_beside_the_paper(built_book):
    nb = json.loads((ROOT / "book" / "_generated" / "02_training.ipynb").read_text())
    text = json.dumps([o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]],
                      ensure_ascii=False)
    assert "98.62 ± 0.11%" in text and "72.1 ± 0.5%" in text  # the paper's, labelled as such
    assert "paper, Table 1" in text and "this run" in text
    assert "2-fold, subject-disjoint" in text  # profile ci ran 2 folds
    assert "AU ceiling" in text and "majority" in text  # the lines beside the accuracies



def test_chapters_record_their_numbers(built_book):
    data = json.loads((ROOT / "_build" / "results.json").read_text())
    ch2 = data["02_training"]
    for key in ("ck_accuracy_mean", "ck_accuracy_std", "ck_ceiling", "majority_baseline"):
        assert isinstance(ch2[key], float) and 0 <= ch2[key] <= 1, key
    assert "SynthFACS (synthetic)" in ch2["data"] and ch2["seconds"] > 0
    ch4 = data["04_facs_correlation"]
    for key in ("selective_filters", "au_coverage"):
        assert set(ch4[key]) == {"trained", "untrained", "shuffled", "au_trained"}, key
    assert set(ch4["accepted_pairs"]) == {"trained", "null_mean", "null_p95"}
    assert ch4["verdict"] and "SynthFACS (synthetic)" in ch4["data"]


def test_micro_chapter_records_three_methods_beside_its_ceiling(built_book):
    ch6 = json.loads((ROOT / "_build" / "results.json").read_text())["06_micro_expressions"]
    for m in ("cnn_lstm", "lbp_top", "apex_cnn", "majority", "au_ceiling",
              "reference_fold_size", "reference_all",  # the positive control
              "reference_lstm"):  # and its stage check
        assert {"accuracy", "uf1", "uar"} <= set(ch6[m]), m
    for m in ("cnn_lstm", "apex_cnn"):  # run from each chapter-2 model of the profile
        assert ch6[m]["runs"] == len(ch6[m]["uf1_runs"]) >= 1
        assert ch6[m]["uf1"] == pytest.approx(sum(ch6[m]["uf1_runs"]) / ch6[m]["runs"])
    assert len(ch6["classes"]) == 5 and "SynthFACS (synthetic)" in ch6["data"]
    nb = (ROOT / "book" / "_generated" / "06_micro_expressions.ipynb").read_text()
    assert "under the AU ceiling" in nb  # the computed verdict lines
    assert "Positive control, the apex - onset CNN" in nb
    assert "Stage check: the control's network" in nb
    assert "CNN stage on its own: on the selection subjects" in nb


def test_transfer_chapter_records_its_matrix_and_au_heads(built_book):
    ch5 = json.loads((ROOT / "_build" / "results.json").read_text())["05_transfer"]
    domains = {"CK+", "FER2013", "NovaEmotions"}
    assert set(ch5["cross_dataset"]) == domains
    assert all(set(row) == domains for row in ch5["cross_dataset"].values())
    assert set(ch5["in_domain"]) == domains
    for d in ch5["in_domain"].values():
        assert {"accuracy", "majority", "ceiling"} <= set(d)
    for net in ("emotion_frozen", "untrained_frozen", "au_trained"):
        assert {"accuracy", "all_absent_accuracy", "mean_f1"} <= set(ch5["au_presence"][net])
        assert {"mse", "icc", "all_zero_mse"} <= set(ch5["au_intensity"][net])
    assert "SynthFACS (synthetic)" in json.dumps(ch5["data"])
    card = json.loads((ROOT / "artifacts" / "bundle" / "card.json").read_text())
    assert card["au_codes"] and card["profile"] == "ci"  # chapter 5 exported the bundle


def test_apply_chapter_scores_the_synthfacs_video(built_book):
    ch7 = json.loads((ROOT / "_build" / "results.json").read_text())["07_apply"]
    for key in ("emotion_accuracy", "majority", "chance", "faces_found"):
        assert isinstance(ch7[key], float) and 0 <= ch7[key] <= 1, key
    assert isinstance(ch7["au_mean_f1"], float)  # the bundle of chapter 5 has AU outputs
    assert ch7["frames"] == 200 and ch7["fps"] > 0 and ch7["faces_found"] >= 0.95
    assert "SynthFACS (synthetic)" in ch7["data"]
    nb = (ROOT / "book" / "_generated" / "07_apply.ipynb").read_text()
    assert "frame, face_id, timestamp, confidence, success" in nb
    assert "majority baseline" in nb


def test_no_live_widget_or_training_log_in_the_pages(built_book):
    for name in ("02_training", "03_visualization"):
        nb = json.loads((ROOT / "book" / "_generated" / f"{name}.ipynb").read_text())
        outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
        text = json.dumps(outputs)
        assert "epoch 1:" not in text and "it/s]" not in text  # no per-epoch lines, no bars
        if name == "03_visualization":
            assert "The live explorer runs in JupyterLab" in text


def test_executed_notebooks_are_clean_to_publish_and_download(built_book):
    from fer_helpers.book import toc_chapters

    for name in toc_chapters(ROOT):
        text = (ROOT / "book" / "_generated" / f"{name}.ipynb").read_text()
        assert str(ROOT) not in text, f"{name}: an absolute path of the build machine"
        nb = json.loads(text)
        tags = [c["metadata"].get("tags", []) for c in nb["cells"]]
        injected = [t for t in tags if "injected-parameters" in t]
        assert injected and all("remove-cell" in t for t in injected), name  # kept, hidden
        assert sum("parameters" in t for t in tags) == 1, name  # the chapter's own, shown
        pm = nb["metadata"]["papermill"]
        assert pm["input_path"] == f"notebooks/{name}.ipynb", name
        stderr = [o for c in nb["cells"] for o in c.get("outputs", [])
                  if o.get("name") == "stderr"]
        assert "oneDNN" not in json.dumps(stderr) and "absl" not in json.dumps(stderr), name


def test_main_figures_are_numbered_with_captions(built_book):
    import re

    pages = ROOT / "_build" / "html" / "book" / "_generated"
    for name in ("01_data", "02_training", "03_visualization", "04_facs_correlation"):
        html = (pages / f"{name}.html").read_text()
        figures = re.findall(r'<figure class="[^"]*" id="(fig-[^"]+)">(.*?)</figure>', html,
                             flags=re.S)
        assert len(figures) >= 3, name
        for fig_id, body in figures:
            assert re.search(r'<span class="caption-number">Fig\. \d+', body), fig_id
            assert "plotly-graph-div" in body, fig_id  # the glued figure itself arrived
            assert "SynthFACS (synthetic)" in body, fig_id  # ci runs on SynthFACS
