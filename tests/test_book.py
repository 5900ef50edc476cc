"""The papermill runner and the build helpers."""

from __future__ import annotations

import json

import nbformat
import pytest

from fer_helpers import book


def _mini_book(root, cells):
    (root / "notebooks").mkdir(parents=True)
    (root / "fer_helpers").mkdir()
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n"
                                   "  - file: book/_generated/01_mini\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("profile = 'x'")] + \
        [nbformat.v4.new_code_cell(c) for c in cells]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, root / "notebooks" / "01_mini.ipynb")


def test_runner_executes_with_parameters(tmp_path):
    _mini_book(tmp_path, ["print('profile is', profile)"])
    times = book.run_notebooks("ci", root=tmp_path)
    assert [n for n, _ in times] == ["01_mini"]
    out = json.loads((tmp_path / "book" / "_generated" / "01_mini.ipynb").read_text())
    text = "".join("".join(o.get("text", "")) for c in out["cells"] for o in c.get("outputs", []))
    assert "profile is ci" in text


def test_runner_kernels_are_headless_and_build_no_live_explorer(tmp_path, monkeypatch):
    # the live explorer's Output widget could hang nbclient; headless it is never built
    monkeypatch.delenv(book.HEADLESS_ENV, raising=False)
    _mini_book(tmp_path, [
        "import keras\nfrom fer_helpers import models, widgets\n"
        "m = models.paper_cnn((48, 48, 1), 8)\n"
        "w = widgets.filter_explorer(m, __import__('numpy').zeros((2, 48, 48), 'uint8'))\n"
        "print(type(w).__name__, widgets.headless())\nw"])
    book.run_notebooks("ci", root=tmp_path)
    out = json.loads((tmp_path / "book" / "_generated" / "01_mini.ipynb").read_text())
    outputs = [o for c in out["cells"] for o in c.get("outputs", [])]
    assert "Markdown True" in "".join("".join(o.get("text", "")) for o in outputs)
    assert not [o for o in outputs
                if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert book.HEADLESS_ENV not in __import__("os").environ  # restored after the run


def test_runner_names_the_failing_notebook_and_cell(tmp_path):
    _mini_book(tmp_path, ["x = 1", "raise ValueError('bad cell')"])
    with pytest.raises(RuntimeError, match=r"notebooks/01_mini\.ipynb failed in cell \d+ .*"
                                           r"ValueError: bad cell"):
        book.run_notebooks("ci", root=tmp_path)
    gen = tmp_path / "book" / "_generated"
    assert (gen / "01_mini.failed.ipynb").is_file()
    assert not (gen / "01_mini.ipynb").exists()
    assert [p.name for p in gen.iterdir()] == ["01_mini.failed.ipynb"]  # no temp left


def test_a_hung_cell_fails_the_run_and_names_the_notebook(tmp_path):
    _mini_book(tmp_path, ["import time; time.sleep(120)"])
    with pytest.raises(RuntimeError, match=r"notebooks/01_mini\.ipynb: .*timed out"):
        book.run_notebooks("ci", root=tmp_path, cell_timeout=3)
    gen = tmp_path / "book" / "_generated"
    assert [p.name for p in gen.iterdir()] == ["01_mini.failed.ipynb"]  # no temp, no output


def test_only_filter_and_unknown_profile(tmp_path):
    _mini_book(tmp_path, [])
    with pytest.raises(ValueError, match="matches no chapter"):
        book.run_notebooks("ci", only=["07"], root=tmp_path)
    with pytest.raises(ValueError, match="unknown profile"):
        book.synthfacs_paths("huge", tmp_path)


def test_a_profile_key_overrides_the_chapters_default(monkeypatch):
    from fer_helpers import micro, transfer

    assert micro.settings("ci")["micro_subjects"] == micro.MICRO_DEFAULTS["ci"]["micro_subjects"]
    monkeypatch.setitem(book.PROFILES, "ci", {**book.PROFILES["ci"], "micro_subjects": 7,
                                              "nova_subjects": 5, "ck_size": 48})
    assert micro.settings("ci")["micro_subjects"] == 7
    assert transfer.settings("ci")["nova_subjects"] == 5
    assert "ck_size" not in micro.settings("ci")  # only the chapter's own prefix
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        micro.settings("huge")


def test_dataset_paths_reject_missing_real_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="ckplus_path=.*does not exist"):
        book.dataset_paths("ci", ckplus_path=tmp_path / "nope", fer2013_path=tmp_path,
                           ferplus_path=tmp_path)


def test_plotly_renderer_emits_html_and_json():
    import plotly.graph_objects as go
    import plotly.io as pio

    book.setup_notebook()
    bundle = pio.renderers["book"].to_mimebundle(go.Figure(go.Bar(y=[1, 2])).to_dict())
    assert 'class="plotly-graph-div"' in bundle["text/html"]
    assert "<script src=" not in bundle["text/html"]  # plotly.js comes once, from the page
    assert bundle["application/vnd.plotly.v1+json"]["data"][0]["type"] == "bar"


def test_versions_lists_the_stack():
    v = book.versions()
    assert {"python", "keras", "tensorflow-cpu", "plotly", "jupyter-book"} <= set(v)


def test_synthfacs_is_written_again_when_its_profile_changes(tmp_path, monkeypatch):
    monkeypatch.setitem(book.PROFILES, "ci", {**book.PROFILES["ci"], "ck_subjects": 2,
                                              "fer_rows": 30})
    paths = book.ensure_synthfacs("ci", tmp_path, verbose=False)
    stamp = paths["ckplus"].parent / "synthfacs.json"
    first = {k: paths[k].stat().st_mtime_ns for k in ("fer2013", "ferplus")}
    ck_truth = (paths["ckplus"] / "synthfacs_truth.csv").stat().st_mtime_ns
    book.ensure_synthfacs("ci", tmp_path, verbose=False)  # same spec: nothing rewritten
    assert {k: paths[k].stat().st_mtime_ns for k in first} == first
    monkeypatch.setitem(book.PROFILES, "ci", {**book.PROFILES["ci"], "ck_subjects": 2,
                                              "fer_rows": 40})
    book.ensure_synthfacs("ci", tmp_path, verbose=False)
    assert len(paths["fer2013"].read_text().splitlines()) == 41  # header + 40 rows
    assert (paths["ckplus"] / "synthfacs_truth.csv").stat().st_mtime_ns == ck_truth
    assert json.loads(stamp.read_text())["fer2013"]["fer_rows"] == 40


def test_a_run_writes_only_the_synthfacs_it_reads(tmp_path, monkeypatch):
    monkeypatch.setitem(book.PROFILES, "ci", {**book.PROFILES["ci"], "ck_subjects": 2,
                                              "fer_rows": 30})
    real_ck, real_fer = tmp_path / "my_ckplus", tmp_path / "fer2013.csv"
    real_ck.mkdir()
    real_fer.write_text("emotion,pixels,Usage\n")
    data = tmp_path / "data"
    paths = book.dataset_paths("ci", ckplus_path=real_ck, data_dir=data)
    synth = book.synthfacs_paths("ci", data)
    assert paths["ckplus"] == real_ck and not paths["ckplus_synthetic"]
    assert not synth["ckplus"].exists()  # no CK+ tree the run would not read
    assert paths["fer2013_synthetic"] and paths["fer2013"].is_file()
    paths = book.dataset_paths("ci", ckplus_path=real_ck, fer2013_path=real_fer,
                               data_dir=tmp_path / "data2")
    assert paths["ferplus"] is None and not (tmp_path / "data2").exists()
    with pytest.raises(FileNotFoundError, match="ckplus_path="):
        book.dataset_paths("ci", ckplus_path=tmp_path / "missing", data_dir=data)


def test_the_novaemotions_stamp_covers_its_own_writer():
    from fer_helpers.book.data import OTHER_DOMAINS, generator_hash

    # editing synth/nova.py must rewrite the NovaEmotions-like tree, not the CK+/FER2013 files
    assert "nova.py" in OTHER_DOMAINS
    assert generator_hash("nova.py") != generator_hash()
    assert generator_hash() == generator_hash()
    # the CASME II trees (chapter 6's and its positive control's) stamp their own writers
    from fer_helpers.micro.data import _casme2_spec

    spec = _casme2_spec("ci")
    assert spec["generator"] == generator_hash("casme2.py", "micro.py") != generator_hash()
    ref = _casme2_spec("ci", reference=True)
    assert ref["seed"] != spec["seed"] and ref["generator"] == spec["generator"]


def test_the_data_step_writes_every_synthfacs_tree_the_user_does_not_give(tmp_path,
                                                                          monkeypatch):
    """``python -m fer_helpers.book data`` writes chapters 5 and 6's trees too (so the
    chapters' times are their computation's), and none for a dataset given by path."""
    from fer_helpers.book.__main__ import main

    monkeypatch.setitem(book.PROFILES, "ci", {**book.PROFILES["ci"], "ck_subjects": 2,
                                              "fer_rows": 30})
    from fer_helpers.micro import synthfacs_casme2_path
    from fer_helpers.transfer.domains import nova_path

    real = tmp_path / "real_casme2"
    real.mkdir()
    assert main(["data", "--profile", "ci", "--data-dir", str(tmp_path / "a")]) == 0
    assert (nova_path("ci", tmp_path / "a") / "labels.csv").is_file()
    for reference in (False, True):
        root = synthfacs_casme2_path("ci", tmp_path / "a", reference)
        assert (root / "synthfacs_casme2.json").is_file()
    assert main(["data", "--profile", "ci", "--data-dir", str(tmp_path / "b"),
                 "--casme2", str(real)]) == 0
    assert (nova_path("ci", tmp_path / "b") / "labels.csv").is_file()
    assert not synthfacs_casme2_path("ci", tmp_path / "b").exists()
    assert not synthfacs_casme2_path("ci", tmp_path / "b", True).exists()
    assert main(["data", "--profile", "ci", "--data-dir", str(tmp_path / "c"),
                 "--nova", str(real)]) == 0
    assert not nova_path("ci", tmp_path / "c").exists()
    assert (synthfacs_casme2_path("ci", tmp_path / "c") / "synthfacs_casme2.json").is_file()
