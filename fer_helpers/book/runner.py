"""The papermill runner: chapters in ``_toc.yml`` order, headless, cleaned for publishing."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path

from .profiles import HEADLESS_ENV, PROFILES, repo_root


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
    from ..results import record_runtime

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
