"""Each chapter's headline numbers, gathered in ``_build/results.json`` for the results page.

A chapter calls :func:`record` with its numbers (computed in that run); the file holds one
object per chapter, and a chapter that runs again replaces its own object only.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from .io import write_text


def results_path(root=None) -> Path:
    """``<book root>/_build/results.json``."""
    from .book import repo_root

    return (Path(root) if root else repo_root()) / "_build" / "results.json"


def _plain(value):
    """JSON-ready: numpy scalars and arrays to Python, NaN to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def load(root=None) -> dict:
    """All chapters' recorded numbers (empty if none yet)."""
    path = results_path(root)
    return json.loads(path.read_text()) if path.is_file() else {}


def _update(chapter: str, change, root=None) -> None:
    """Apply ``change`` to chapter ``chapter``'s entry and write the file atomically."""
    allv = load(root)
    allv[chapter] = change(allv.get(chapter, {}))
    write_text(results_path(root), json.dumps(allv, indent=1, allow_nan=False))


def record(chapter: str, values: dict, root=None) -> None:
    """Store ``values`` as chapter ``chapter``'s numbers (with the date and the package
    versions), replacing what it recorded before. Returns nothing, so a notebook cell ending
    with it shows nothing.
    """
    from .book import versions

    entry = {**_plain(values), "recorded": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
             "versions": versions()}
    _update(chapter, lambda _: entry, root)


def record_runtime(chapter: str, seconds: float, profile: str, root=None) -> None:
    """Add the chapter's wall time (as the runner measured it) to its recorded numbers."""
    _update(chapter, lambda e: {**e, "seconds": round(float(seconds), 1),
                                "profile": e.get("profile", profile)}, root)


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def _rows(chapter: str, r: dict) -> list[tuple[str, str, str]]:
    """(measure, this run, the paper) rows of one chapter's headline numbers."""
    if chapter == "02_training":
        sd = r.get("ck_accuracy_std")
        return [
            ("paper CNN, CK+ layout, test accuracy",
             f"{_pct(r.get('ck_accuracy_mean'))[:-2]} ± {100 * (sd or 0):.1f} %",
             r.get("paper", {}).get("ck_accuracy", "") + " (real CK+, Table 1)"),
            ("AU ceiling (classifier on the FACS codes)", _pct(r.get("ck_ceiling")), ""),
            ("majority baseline / chance",
             f"{_pct(r.get('majority_baseline'))} / {_pct(r.get('chance'))}", ""),
            ("zero-bias CNN, CK+ layout", _pct(r.get("zero_bias_accuracy_mean")), ""),
            ("paper CNN, FER2013 format, PrivateTest", _pct(r.get("fer_accuracy")),
             r.get("paper", {}).get("fer_accuracy", "") + " (real FER2013, Table 2)"),
            ("recipe", r.get("recipe", ""), "Adam, lr 1e-3, decay 1e-5"),
        ]
    if chapter == "01_data":
        return [("CK+ layout: subjects, images (protocol frames)",
                 f"{r.get('ck_subjects')}, {r.get('ck_images')}", "123, 593 sequences (CK+)"),
                ("FER2013 format: images", str(r.get("fer_images")), "35,887 (FER2013)")]
    if chapter == "03_visualization":
        return [(f"active filters, {k}", _pct(v), r.get("paper", {}).get(k, ""))
                for k, v in r.get("active_share", {}).items()]
    if chapter == "04_facs_correlation":
        sel, cov = r.get("selective_filters", {}), r.get("au_coverage", {})
        acc = r.get("accepted_pairs", {})

        def num(v):
            return "n/a" if v is None else f"{v:.1f}"

        name = r.get("networks", {})  # the chapter's own names of its networks
        rows = [(f"selective filters: {name.get(k, k)}", num(v), "") for k, v in sel.items()]
        rows += [(f"AUs covered: {name.get(k, k)}", num(v), "") for k, v in cov.items()]
        rows += [("accepted P(j,u) pairs (emotion-trained) vs shuffle null",
                  f"{num(acc.get('trained'))} vs {num(acc.get('null_mean'))} "
                  f"(95 %: {num(acc.get('null_p95'))})",
                  r.get("paper", {}).get("rejected", "") + " rejected (real CK+)")]
        return rows
    if chapter == "05_transfer":
        return _transfer_rows(r)
    if chapter == "06_micro_expressions":
        p = r.get("paper", {})
        paper = {"cnn_lstm": f"{p.get('cnn_lstm', '')} (real CASME II, Table 4)",
                 "lbp_top": f"{p.get('lbp_top', '')} (real CASME II, Table 4); CASME II paper "
                            f"{p.get('casme2_baseline', '')}"}
        from .micro import METHODS

        def spread(rec):  # a method run from several chapter-2 models: means, and the sd
            return (f" (means of {rec['runs']} runs, one per chapter-2 model; UF1 sd "
                    f"{100 * rec['uf1_sd']:.1f} points)" if rec.get("runs", 1) > 1 else "")

        return [(f"{METHODS[name]}, {len(r.get('classes', []))} classes: accuracy / UF1 / UAR",
                 " / ".join(_pct(r[name].get(m)) for m in ("accuracy", "uf1", "uar"))
                 + spread(r[name]), paper.get(name, ""))
                for name in METHODS if isinstance(r.get(name), dict)]
    if chapter == "07_apply":
        fps = r.get("fps")
        return [("per-frame emotion accuracy (SynthFACS video with truth)",
                 _pct(r.get("emotion_accuracy")), ""),
                ("majority baseline / chance",
                 f"{_pct(r.get('majority'))} / {_pct(r.get('chance'))}", ""),
                ("AU presence, mean F1",
                 "n/a (no AU outputs)" if r.get("au_mean_f1") is None
                 else f"{r['au_mean_f1']:.2f}", ""),
                ("faces found", _pct(r.get("faces_found")), ""),
                ("frames/s, end to end", "n/a" if fps is None
                 else f"{fps:.0f} ({r.get('frames')} frames; {r.get('cpu', 'CPU not recorded')})",
                 "")]
    skip = {"recorded", "versions", "seconds", "profile", "data", "paper"}
    return [(k, _pct(v) if isinstance(v, float) and 0 <= v <= 1 else str(v), "")
            for k, v in r.items() if k not in skip and not isinstance(v, dict | list)]


def _transfer_rows(r: dict) -> list[tuple[str, str, str]]:
    """Chapter 5: each dataset on its own folds, the off-diagonal cells of both matrix
    variants, and the AU heads of every feature set, beside the paper's Table 3 and AU
    numbers."""
    paper = r.get("paper", {})
    t3, name = paper.get("table3", {}), r.get("networks", {})

    def cell(tr, te):
        v = t3.get(tr, {}).get(te)
        return "" if v is None else f"{v:.2f} % (real data, Table 3)"

    def num(v):
        return "n/a" if v is None else f"{v:.3f}"

    rows = [(f"{d} on its own test folds (AU ceiling; majority)",
             f"{_pct(v.get('accuracy'))} ({_pct(v.get('ceiling'))}; {_pct(v.get('majority'))})",
             cell(d, d)) for d, v in r.get("in_domain", {}).items()]
    b = r.get("cross_dataset_new_head", {})
    rows += [(f"train {tr}, test {te}: (a) as is / (b) new head",
              f"{_pct(v)} / {_pct(b.get(tr, {}).get(te))}", cell(tr, te))
             for tr, row in r.get("cross_dataset", {}).items() for te, v in row.items()
             if tr != te]
    specs = [{"key": "au_presence", "what": "AU presence",
              "label": "mean per-AU accuracy / mean F1", "cols": ("accuracy", "mean_f1"),
              "fmt": _pct, "base": ("all_absent_accuracy", "all-absent baseline: accuracy"),
              "paper": ("au_presence_accuracy", "{} % accuracy (real CK+)")},
             {"key": "au_intensity", "what": "AU intensity 0-5", "label": "MSE / ICC(3,1)",
              "cols": ("mse", "icc"), "fmt": num,
              "base": ("all_zero_mse", "all-zero baseline: MSE"),
              "paper": ("au_intensity_mse", "MSE {} (real CK+)")}]
    for sp in specs:
        heads, fmt, (ref, ref_text) = r.get(sp["key"], {}), sp["fmt"], sp["paper"]
        rows += [(f"{sp['what']}, {name.get(k, k)}: {sp['label']}",
                  " / ".join(fmt(v.get(c)) for c in sp["cols"]),
                  ref_text.format(paper[ref]) if k == "emotion_frozen" and ref in paper else "")
                 for k, v in heads.items()]
        if heads:
            rows.append((f"{sp['what']}, {sp['base'][1]}",
                         fmt(next(iter(heads.values())).get(sp["base"][0])), ""))
    return rows


def page(chapters, root=None) -> str:
    """The results page (MyST markdown): every chapter's numbers beside the paper's."""
    allv = load(root)
    out = ["# Results at a glance", "",
           "Every number below was computed by the chapters in the build that made this page "
           "(`_build/results.json`), beside the paper's where it reports one. Results on "
           "SynthFACS are synthetic-data results; the paper's were measured on real data.", ""]
    for name in chapters:
        r = allv.get(name)
        out += [f"## {_title(name, root)}", ""]
        if not r:
            out += ["Not run in this build.", ""]
            continue
        v = r.get("versions", {})
        data = r.get("data")
        if isinstance(data, dict):  # one line per dataset (chapter 5)
            data = "; ".join(f"{k}: {d}" for k, d in data.items())
        facts = [f"Data: {data}" if data else "",
                 f"profile `{r['profile']}`" if r.get("profile") else "",
                 f"recorded {r['recorded']}" if r.get("recorded") else "",
                 f"ran in {r['seconds']:.0f} s" if r.get("seconds") else "",
                 (f"TensorFlow {v.get('tensorflow-cpu', v.get('tensorflow'))}, Keras "
                  f"{v.get('keras')}") if v else ""]
        out += ["; ".join(f for f in facts if f) + ".", ""]
        rows = _rows(name, r)
        if rows:
            out += ["| measure | this run | the paper |", "|---|---|---|"]
            out += [f"| {m} | {t} | {p} |".replace("\n", " ") for m, t, p in rows]
        if r.get("verdict"):  # sentences the chapter computed from its numbers
            out += ["", "Verdict, computed from these numbers:", ""]
            out += [f"- {line}" for line in r["verdict"]]
        out.append("")
    return "\n".join(out)


def _title(name: str, root=None) -> str:
    """A chapter's title: the first heading of its notebook (else its name)."""
    from .book import repo_root

    path = (Path(root) if root else repo_root()) / "notebooks" / f"{name}.ipynb"
    if path.is_file():
        for cell in json.loads(path.read_text())["cells"]:
            src = "".join(cell["source"])
            if cell["cell_type"] == "markdown" and src.startswith("# "):
                return src.splitlines()[0][2:].strip()
    return name.replace("_", " ")
