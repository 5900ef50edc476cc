"""Pins agree, notebook sources carry no outputs, the code is ruff-clean."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

import yaml

from .conftest import ROOT


def _pins(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        m = re.match(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*==\s*([^\s;#]+)", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def test_environment_yml_pins_match_pyproject():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    py = _pins(meta["dependencies"] + meta["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda = _pins(pip)
    assert py == conda
    assert len(py) == len(meta["dependencies"]) + len(meta["optional-dependencies"]["test"])
    assert py["opencv-python-headless"].startswith("4.")  # 5.x has no Haar cascades
    assert py["jupyter-book"].startswith("1.")
    assert py["tensorflow-cpu"].startswith("2.21.")
    pyver = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert re.match(meta["requires-python"].split(",")[0].replace(">=", "python=").replace(".",
                    r"\."), pyver)


def test_notebook_sources_have_no_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for nb_path in notebooks:
        nb = json.loads(nb_path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, nb_path.name
        tags = [c.get("metadata", {}).get("tags", []) for c in nb["cells"]]
        assert any("parameters" in t for t in tags), f"{nb_path.name} has no parameters cell"


def test_every_toc_chapter_has_a_notebook():
    from fer_helpers.book import toc_chapters

    names = toc_chapters(ROOT)
    assert names and names == sorted(names)
    for n in names:
        assert (ROOT / "notebooks" / f"{n}.ipynb").is_file()


def test_ruff_clean():
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "fer_helpers", "tests"],
                         cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make book" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
