"""Nothing half-written: outputs appear whole or not at all."""

import pytest

from fer_helpers.io import atomic_path, write_text
from fer_helpers.synth import write_ckplus, write_fer2013


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    write_text(target, "whole")
    assert target.read_text() == "whole" and list(tmp_path.iterdir()) == [target]


def test_atomic_folder_replaces_whole(tmp_path):
    target = tmp_path / "tree"
    for content in ("one", "two"):
        with atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "f").write_text(content)
    assert (target / "f").read_text() == "two" and sorted(tmp_path.iterdir()) == [target]


def test_failed_writers_leave_no_partial_output(tmp_path, monkeypatch):
    import fer_helpers.synth.writers as w

    calls = {"n": 0}
    real = w.render

    def flaky(scene):
        calls["n"] += 1
        if calls["n"] > 5:
            raise RuntimeError("renderer died")
        return real(scene)

    monkeypatch.setattr(w, "render", flaky)
    with pytest.raises(RuntimeError, match="renderer died"):
        write_ckplus(tmp_path / "ck", n_subjects=2, n_jobs=1)
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setattr(w, "generate", lambda *a, **k: (_ for _ in ()).throw(OSError("disk")))
    with pytest.raises(OSError):
        write_fer2013(tmp_path / "fer.csv", n=10)
    assert list(tmp_path.iterdir()) == []
