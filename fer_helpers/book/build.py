"""Offline JavaScript and the strict HTML build (warnings are errors; every figure checked)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from ..io import atomic_path
from .profiles import repo_root
from .runner import toc_chapters

#: Offline JavaScript, fetched from package registries at build time (never committed).
NPM_ASSETS = {
    "requirejs@2.3.8": {"require.min.js": "package/require.js"},
    "@jupyter-widgets/html-manager@1.0.15": {"embed-amd.js": "package/dist/embed-amd.js",
                                             "html-manager/": "package/dist/"},
}
_FONTS = (".woff2", ".woff", ".ttf", ".eot", ".svg")


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
                    with atomic_path(dest / out) as part:
                        part.write_bytes(tar.extractfile(member).read())
    return dest


def _extract_fonts(tar: tarfile.TarFile, prefix: str, folder: Path) -> None:
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        for m in tar.getmembers():
            name = m.name[len(prefix):]
            if m.isfile() and m.name.startswith(prefix) and "/" not in name \
                    and name.endswith(_FONTS):
                (tmp / name).write_bytes(tar.extractfile(m).read())


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
    from ..io import write_text
    from ..results import page

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
