"""Book rails: profiles, data provisioning, the papermill runner and the strict HTML build.

Command line::

    python -m fer_helpers.book run --profile quick [--only 01] [--ckplus DIR] [--fer2013 CSV]
    python -m fer_helpers.book data --profile ci      # write the SynthFACS data if missing
    python -m fer_helpers.book vendor                 # fetch offline JS from npm / plotly
    python -m fer_helpers.book build                  # jupyter-book build -W, then check it
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: What each profile runs: SynthFACS sizes (real datasets are used whole), folds, epochs,
#: batch size and learning-rate schedule (the paper states neither batch nor epochs), the CK+
#: crop size, the FER2013 epochs, chapter 4's seeds and held-out counterfactual faces, and
#: the per-cell time limit of the runner.
#: quick: 300 SynthFACS subjects (about 1,400 training images per fold), batch 32 and a
#: one-cycle schedule over 20 epochs, because with ~500 images the paper's CNN memorises and
#: generalises slowly, and the paper's constant-rate Adam needs 60-150 epochs where one-cycle
#: needs 15-30; the book states the schedule beside the numbers. Measured on SynthFACS (Intel
#: Xeon, AMX, bf16, November 2026): batch 64 x 15 epochs 88.7 +- 2.6 %, batch 32 x 20 epochs
#: 91.7 +- 3.6 % mean test accuracy over the 3 folds. Chapter 4 trains two more networks per
#: fold (AU-trained, shuffled labels), and three per fold for each further seed (about 20 min
#: a seed here), so quick runs one seed and full three.
#: Quick's per-cell limit (3600 s) covers its longest cells (chapter 2's training, chapter 4's
#: study: 13-16 min here in bfloat16, about twice that on a float32-only CPU).
PROFILES = {
    "ci": {"ck_subjects": 10, "fer_rows": 700, "folds": 2, "epochs": 2, "batch_size": 32,
           "schedule": "one-cycle", "ck_size": 48, "fer_epochs": 1, "seeds": 1,
           "counterfactual_faces": 21, "cell_timeout": 600},
    "quick": {"ck_subjects": 300, "fer_rows": 3000, "folds": 3, "epochs": 20, "batch_size": 32,
              "schedule": "one-cycle", "ck_size": 48, "fer_epochs": 4, "seeds": 1,
              "counterfactual_faces": 150, "cell_timeout": 3600},
    "full": {"ck_subjects": 123, "fer_rows": 35887, "folds": 10, "epochs": 100,
             "batch_size": 32, "schedule": "paper", "ck_size": 96, "fer_epochs": 60,
             "seeds": 3, "counterfactual_faces": 300, "cell_timeout": None},
}
SEED = 0
#: Set in the environment of the kernels the runner starts (see :func:`headless`).
HEADLESS_ENV = "FER_HELPERS_HEADLESS"


def headless() -> bool:
    """True when the book's runner (:func:`run_notebooks`) executes this kernel: no
    frontend, no one to move a control, no one to watch a progress bar."""
    return os.environ.get(HEADLESS_ENV) == "1"
#: Offline JavaScript, fetched from package registries at build time (never committed).
NPM_ASSETS = {
    "requirejs@2.3.8": {"require.min.js": "package/require.js"},
    "@jupyter-widgets/html-manager@1.0.15": {"embed-amd.js": "package/dist/embed-amd.js",
                                             "html-manager/": "package/dist/"},
}
_FONTS = (".woff2", ".woff", ".ttf", ".eot", ".svg")
_PACKAGES = ("tensorflow-cpu", "tensorflow", "keras", "numpy", "pandas", "scikit-learn",
             "opencv-python-headless", "plotly", "ipywidgets", "papermill", "jupyter-book")


def repo_root(start: Path | None = None) -> Path:
    """The book's root folder (holding ``_toc.yml``), searched upwards from ``start``/cwd."""
    here = (start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "_toc.yml").is_file() and (p / "fer_helpers").is_dir():
            return p
    raise FileNotFoundError(f"no book root (a folder with _toc.yml) above {here}")


def versions() -> dict[str, str]:
    """Python, platform and package versions this process runs on."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for p in _PACKAGES:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            pass
    return out


def print_versions() -> None:
    """Print the versions (every chapter starts with this)."""
    print(" | ".join(f"{k} {v}" for k, v in versions().items()))


def setup_notebook() -> None:
    """Make plotly figures render both in JupyterLab and in the offline static book.

    The ``book`` renderer emits plotly's JSON mimetype (JupyterLab) *and* an HTML div
    without plotly.js (the book loads one local copy of plotly.js on every page).
    """
    import plotly.io as pio
    from plotly.io._base_renderers import MimetypeRenderer

    class BookRenderer(MimetypeRenderer):
        def to_mimebundle(self, fig_dict):
            html = pio.to_html(fig_dict, include_plotlyjs=False, full_html=False,
                               validate=False, config={"displaylogo": False})
            return {"application/vnd.plotly.v1+json": {"data": fig_dict.get("data", []),
                                                       "layout": fig_dict.get("layout", {})},
                    "text/html": html}

    pio.renderers["book"] = BookRenderer()
    pio.renderers.default = "book"
    pio.templates.default = "plotly_white"
    import logging

    # TensorFlow warns about retracing each time a chapter builds a new model (one per fold)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


class PlotlyJsonMime:
    """myst-nb mime renderer plugin (entry point ``myst_nb.mime_renderers``).

    Figures from :func:`setup_notebook` carry plotly JSON (for JupyterLab) beside an HTML
    div (for the book). The book shows the div; this plugin says the JSON needs no rendering,
    instead of myst-nb warning that it skips an unknown type. :func:`build` still checks that
    every figure reached its page.
    """

    mime_priority_overrides = (("*", "application/vnd.plotly.v1+json", None),)

    @staticmethod
    def handle_mime(renderer, data, inline):
        return [] if data.mime_type == "application/vnd.plotly.v1+json" else None


# --------------------------------------------------------------------------- data
def artifacts_dir(path=None) -> Path:
    """Where trained models and per-fold results go (default ``<book root>/artifacts``)."""
    return Path(path) if path else repo_root() / "artifacts"


def train_config(profile: str, precision: str = "float32"):
    """The CK+ training configuration of a profile (shared by chapters 2-4, so the later
    chapters load the models chapter 2 trained instead of training new ones)."""
    from .training import TrainConfig

    p = PROFILES[profile]
    return TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], precision=precision,
                       schedule=p["schedule"])


@dataclass
class TrainedChapter:
    """What chapters 3 and 4 start from: the CK+ (layout) data and chapter 2's model."""

    ck: object  # datasets.FaceDataset, aligned to the profile's crop size
    source: str  # "SynthFACS (synthetic)" or "real CK+"
    data: str  # one line: source, layout, subjects, images
    model: object  # keras.Model: chapter 2's paper_cnn, fold 0
    cv: object  # crossval.CVResult of that run
    policy: str  # the dtype policy in force
    cv_config: object  # training.TrainConfig chapter 2 trained with


def trained_chapter(profile: str, ckplus_path=None, data_dir=None, artifacts=None,
                    precision: str = "auto") -> TrainedChapter:
    """Set a chapter up on chapter 2's paper CNN: versions, plotly renderer, precision, the
    CK+ data (the user's, else SynthFACS) and the model, loaded from the artifacts (trained
    there if missing, with the same configuration chapter 2 uses)."""
    import keras

    from . import datasets, faces, training
    from .crossval import train_or_load

    setup_notebook()
    print_versions()
    paths = dataset_paths(profile, ckplus_path, None, None, data_dir)
    source = "SynthFACS (synthetic)" if paths["ckplus_synthetic"] else "real CK+"
    policy = training.set_precision(precision)
    ck = datasets.load_ckplus(paths["ckplus"], crop=faces.Crop(size=PROFILES[profile]["ck_size"]))
    data = f"{source}, CK+ layout, {len(set(ck.subjects))} subjects, {len(ck)} images"
    config = train_config(profile, policy)
    cv = train_or_load(ck, "paper_cnn", config, artifacts_dir(artifacts),
                       n_folds=PROFILES[profile]["folds"], data=data, quiet=True)
    model = keras.saving.load_model(cv.folds[0].model_path)
    print(f"profile {profile}: {data}; model: chapter 2's paper_cnn, fold 0 "
          f"(test accuracy {cv.folds[0].accuracy:.1%}, {source}); dtype policy {policy}")
    return TrainedChapter(ck, source, data, model, cv, policy, config)


def synthfacs_paths(profile: str, data_dir=None) -> dict[str, Path]:
    """Where the SynthFACS files of ``profile`` live."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(PROFILES)}")
    base = Path(data_dir) if data_dir else repo_root() / "data"
    d = base / "synthfacs" / profile
    return {"ckplus": d / "ckplus", "fer2013": d / "fer2013.csv",
            "ferplus": d / "fer2013new.csv"}


def _synth_spec(profile: str) -> dict:
    """What decides the bytes of a profile's SynthFACS files: sizes, seed, generator code."""
    import hashlib
    import inspect

    from . import synth

    h = hashlib.sha256()
    for mod in sorted(Path(inspect.getfile(synth)).parent.glob("*.py")):
        h.update(mod.read_bytes())
    cfg = PROFILES[profile]
    return {"ck_subjects": cfg["ck_subjects"], "fer_rows": cfg["fer_rows"], "seed": SEED,
            "generator": h.hexdigest()[:12]}


def ensure_synthfacs(profile: str, data_dir=None, verbose: bool = True) -> dict[str, Path]:
    """Write the SynthFACS data of ``profile`` unless the same data is there already.

    ``synthfacs.json`` beside the files records the sizes, seed and generator they were
    written with; files written with anything else (an older profile or generator) are
    written again.
    """
    from .io import write_text
    from .synth import write_ckplus, write_fer2013

    paths = synthfacs_paths(profile, data_dir)
    stamp = paths["ckplus"].parent / "synthfacs.json"
    spec = _synth_spec(profile)
    old = json.loads(stamp.read_text()) if stamp.is_file() else {}
    same = {k: old.get(k) == spec[k] for k in spec}
    if not (paths["ckplus"] / "synthfacs_truth.csv").is_file() or not all(
            same[k] for k in ("ck_subjects", "seed", "generator")):
        t = time.perf_counter()
        write_ckplus(paths["ckplus"], spec["ck_subjects"], SEED)
        if verbose:
            print(f"SynthFACS CK+ tree ({spec['ck_subjects']} subjects) written in "
                  f"{time.perf_counter() - t:.1f} s: {paths['ckplus']}")
    if not paths["fer2013"].is_file() or not paths["ferplus"].is_file() or not all(
            same[k] for k in ("fer_rows", "seed", "generator")):
        t = time.perf_counter()
        write_fer2013(paths["fer2013"], spec["fer_rows"], SEED, ferplus_path=paths["ferplus"])
        if verbose:
            print(f"SynthFACS FER2013/FER+ CSVs ({spec['fer_rows']} rows) written in "
                  f"{time.perf_counter() - t:.1f} s: {paths['fer2013']}")
    if old != spec:
        write_text(stamp, json.dumps(spec, indent=1))
    return paths


def dataset_paths(profile: str, ckplus_path=None, fer2013_path=None, ferplus_path=None,
                  data_dir=None) -> dict:
    """Paths a chapter reads: the user's real datasets where given, else SynthFACS.

    Returns a dict with ``ckplus``, ``fer2013``, ``ferplus`` paths and, for each,
    ``<name>_synthetic`` (True where the data is SynthFACS).
    """
    real = {"ckplus": ckplus_path, "fer2013": fer2013_path, "ferplus": ferplus_path}
    synth = ensure_synthfacs(profile, data_dir, verbose=False) \
        if not all(real.values()) else {}
    out = {}
    for k, v in real.items():
        if v and not Path(v).exists():
            raise FileNotFoundError(f"{k}_path={v!s} does not exist")
        out[k] = Path(v) if v else synth[k]
        out[f"{k}_synthetic"] = not v
    return out


# ------------------------------------------------------------------------- runner
def toc_chapters(root: Path) -> list[str]:
    """Notebook names (``01_data`` ...) in ``_toc.yml`` order (generated pages that are not
    notebooks, such as the results page, are left out)."""
    text = (root / "_toc.yml").read_text()
    names = re.findall(r"file:\s*book/_generated/(\S+?)\s*$", text, flags=re.M)
    return [n for n in names if (root / "notebooks" / f"{n}.ipynb").is_file()]


def run_notebooks(profile: str, only=None, params: dict | None = None,
                  root: Path | None = None, cell_timeout: float | str | None = "profile"
                  ) -> list[tuple[str, float]]:
    """Execute the chapters with papermill, in ``_toc.yml`` order.

    Each output goes to ``book/_generated/<name>.ipynb`` only when the notebook ran
    through; a failed run is kept as ``<name>.failed.ipynb`` and raises ``RuntimeError``
    naming the notebook and the cell. A cell running longer than the profile's
    ``cell_timeout`` seconds (``None``: no limit; default: the profile's) fails the same
    way, so a hang cannot stall a build. The kernels run with ``FER_HELPERS_HEADLESS=1``,
    so live widgets and progress bars are not built (:func:`headless`).
    """
    root = root or repo_root()
    names = toc_chapters(root)
    if only:
        names = [n for n in names if any(n.startswith(o) for o in only)]
        if not names:
            raise ValueError(f"--only {only} matches no chapter of {toc_chapters(root)}")
    out_dir = root / "book" / "_generated"
    out_dir.mkdir(parents=True, exist_ok=True)
    if cell_timeout == "profile":
        cell_timeout = PROFILES.get(profile, {}).get("cell_timeout")
    parameters = {"profile": profile, **{k: v for k, v in (params or {}).items() if v}}
    times = []
    # the kernels inherit it: chapters know they run headless and build no live widgets
    before = os.environ.get(HEADLESS_ENV)
    os.environ[HEADLESS_ENV] = "1"
    try:
        for i, name in enumerate(names, 1):
            times.append(_run_one(root, name, f"[{i}/{len(names)}]", profile, parameters,
                                  cell_timeout))
    finally:
        if before is None:
            os.environ.pop(HEADLESS_ENV, None)
        else:
            os.environ[HEADLESS_ENV] = before
    total = sum(t for _, t in times)
    print(f"executed {len(times)} notebook(s) in {total:.1f} s: "
          + ", ".join(f"{n} {t:.1f} s" for n, t in times))
    return times


def _run_one(root: Path, name: str, tag: str, profile: str, parameters: dict,
             cell_timeout) -> tuple[str, float]:
    """Execute one chapter (see :func:`run_notebooks`); returns (name, seconds)."""
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError

    out_dir = root / "book" / "_generated"
    src = root / "notebooks" / f"{name}.ipynb"
    print(f"{tag} {name} (profile {profile}) ...", flush=True)
    fd, tmp = tempfile.mkstemp(suffix=".ipynb", dir=out_dir, prefix=f".{name}.")
    os.close(fd)
    t = time.perf_counter()
    try:
        pm.execute_notebook(str(src), tmp, parameters=parameters, cwd=str(root / "notebooks"),
                            progress_bar=False, log_output=False, kernel_name="python3",
                            execution_timeout=cell_timeout)
    except pm.PapermillExecutionError as e:
        failed = out_dir / f"{name}.failed.ipynb"
        os.replace(tmp, failed)
        raise RuntimeError(f"{src.relative_to(root)} failed in cell {e.cell_index} "
                           f"(execution count {e.exec_count}): {e.ename}: {e.evalue}\n"
                           f"executed copy with the error: {failed}") from None
    except CellTimeoutError as e:
        failed = out_dir / f"{name}.failed.ipynb"
        os.replace(tmp, failed)
        raise RuntimeError(f"{src.relative_to(root)}: {e}\nexecuted copy up to the hung "
                           f"cell: {failed}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    clean_executed(Path(tmp), root, name)
    os.replace(tmp, out_dir / f"{name}.ipynb")
    dt = time.perf_counter() - t
    from .results import record_runtime

    record_runtime(name, dt, profile, root)
    print(f"{tag} {name} done in {dt:.1f} s", flush=True)
    return name, dt


def clean_executed(path: Path, root: Path, name: str) -> None:
    """Make an executed chapter fit to publish and to download.

    - papermill's injected-parameters cell is tagged ``remove-cell``: the page shows the
      chapter's own parameters cell (explained in the text above it) once; the notebook keeps
      both.
    - No absolute path of the build machine: the book root becomes ``..`` (relative to
      ``notebooks/``, where the chapters run) in the injected cell, papermill's metadata and
      the outputs, so a downloaded notebook runs from ``notebooks/`` as it is.
    """
    nb = json.loads(path.read_text())
    prefix = str(root.resolve())

    def rel(text):
        if isinstance(text, list):
            return [rel(t) for t in text]
        if not isinstance(text, str) or prefix not in text:
            return text
        return re.sub(re.escape(prefix) + r"(?![\w-])", "..", text)

    meta = nb.get("metadata", {}).get("papermill", {})
    meta["input_path"] = f"notebooks/{name}.ipynb"
    meta["output_path"] = f"book/_generated/{name}.ipynb"
    meta["parameters"] = {k: rel(v) for k, v in meta.get("parameters", {}).items()}
    for cell in nb["cells"]:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags:
            if "remove-cell" not in tags:
                tags.append("remove-cell")
            cell["source"] = rel(cell["source"])
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = rel(out["text"])
            if "traceback" in out:
                out["traceback"] = rel(out["traceback"])
            for mime, data in out.get("data", {}).items():
                if mime.startswith("text/") or mime.endswith(("json", "markdown", "html")):
                    out["data"][mime] = rel(data)
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------- vendor + build
def vendor(root: Path | None = None) -> Path:
    """Put the offline JS (plotly.js, require.js, the widgets HTML manager) in book/_vendor.

    Taken from the plotly Python package and from the npm registry (``npm pack``), at
    build time; the folder is git-ignored and never committed.
    """
    import plotly

    root = root or repo_root()
    dest = root / "book" / "_vendor"
    dest.mkdir(parents=True, exist_ok=True)
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not (dest / "plotly.min.js").is_file():
        shutil.copyfile(plotly_js, dest / "plotly.min.js")
    for spec, files in NPM_ASSETS.items():
        if all((dest / f).exists() for f in files):
            continue
        if shutil.which("npm") is None:
            raise RuntimeError("npm is needed once to fetch the offline widget JS "
                               f"({spec}); install Node.js/npm")
        with tempfile.TemporaryDirectory() as tmp:
            try:
                res = subprocess.run(["npm", "pack", "--silent", spec], cwd=tmp, text=True,
                                     capture_output=True, timeout=600)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"npm pack {spec} got no answer from the registry in "
                                   "600 s") from None
            if res.returncode != 0:
                raise RuntimeError(f"npm pack {spec} failed: {res.stderr.strip()}")
            tgz = Path(tmp) / res.stdout.strip().splitlines()[-1]
            with tarfile.open(tgz) as tar:
                for out, member in files.items():
                    if out.endswith("/"):  # a folder: the font files the bundle loads
                        _extract_fonts(tar, member, dest / out)
                        continue
                    data = tar.extractfile(member).read()
                    part = dest / f".{out}.tmp"
                    part.write_bytes(data)
                    os.replace(part, dest / out)
    return dest


def _extract_fonts(tar: tarfile.TarFile, prefix: str, folder: Path) -> None:
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for m in tar.getmembers():
        name = m.name[len(prefix):]
        if m.isfile() and m.name.startswith(prefix) and "/" not in name \
                and name.endswith(_FONTS):
            (tmp / name).write_bytes(tar.extractfile(m).read())
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def plotly_outputs(nb_path: Path) -> int:
    """Number of plotly figures a chapter's page shows: those among the outputs of cells not
    tagged ``remove-output`` / ``remove-cell``, and every glued one (myst-nb ``glue``; each is
    pasted once, by a ``{glue:figure}`` with its caption and number)."""
    nb = json.loads(nb_path.read_text())
    n = 0
    for cell in nb["cells"]:
        tags = set(cell.get("metadata", {}).get("tags", []))
        hidden = bool(tags & {"remove-output", "remove-cell"})
        for out in cell.get("outputs", []):
            glued = "scrapbook" in out.get("metadata", {})
            if hidden and not glued:
                continue
            for mime, html in out.get("data", {}).items():
                if mime.endswith("text/html"):  # also application/papermill.record/text/html
                    html = "".join(html) if isinstance(html, list) else html
                    n += html.count('class="plotly-graph-div"')
    return n


def build(root: Path | None = None) -> Path:
    """``jupyter-book build`` with warnings as errors, then check every figure arrived."""
    root = root or repo_root()
    vendor(root)
    from .io import write_text
    from .results import page

    results_md = page(toc_chapters(root), root)
    write_text(root / "book" / "_generated" / "results.md", results_md)
    print(results_md, flush=True)
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(root), "-W", "-n",
           "--keep-going"]
    print(" ".join(cmd), flush=True)
    if subprocess.run(cmd, cwd=root).returncode != 0:
        raise RuntimeError("jupyter-book build failed (warnings count as errors)")
    html = root / "_build" / "html"
    for name in toc_chapters(root):
        want = plotly_outputs(root / "book" / "_generated" / f"{name}.ipynb")
        page = html / "book" / "_generated" / f"{name}.html"
        got = page.read_text().count('class="plotly-graph-div"')
        if got != want:
            raise RuntimeError(f"{page}: {got} plotly figures in the HTML, {want} in the "
                               "executed notebook")
    index = html / "index.html"
    print(f"book built: {index}")
    return index


def _param_path(value):
    """A path for a chapter's parameters: relative to ``notebooks/`` (where the chapters run)
    when it lies inside the book root, so executed notebooks name no folder of this machine;
    the user's own absolute path otherwise."""
    if not value:
        return value
    path, root = Path(value).resolve(), repo_root()
    if path.is_relative_to(root):
        return os.path.relpath(path, root / "notebooks")
    return str(path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fer_helpers.book")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="execute the chapters with papermill")
    r.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    r.add_argument("--only", nargs="*", help="chapter name prefixes, e.g. 01 02")
    for k in ("ckplus", "fer2013", "ferplus", "data-dir", "artifacts-dir"):
        r.add_argument(f"--{k}", default=None, help=f"path to {k} (default: SynthFACS)")
    d = sub.add_parser("data", help="write the profile's SynthFACS data if missing")
    d.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    sub.add_parser("vendor", help="fetch the offline JS into book/_vendor")
    sub.add_parser("build", help="strict jupyter-book build + figure check")
    a = p.parse_args(argv)
    try:
        if a.cmd == "run":
            params = {"ckplus_path": a.ckplus, "fer2013_path": a.fer2013,
                      "ferplus_path": a.ferplus, "data_dir": a.data_dir,
                      "artifacts_dir": a.artifacts_dir}
            params = {k: _param_path(v) for k, v in params.items()}
            run_notebooks(a.profile, a.only, params)
        elif a.cmd == "data":
            ensure_synthfacs(a.profile)
        elif a.cmd == "vendor":
            print(f"offline assets in {vendor()}")
        else:
            build()
    except (RuntimeError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
