"""Chapter 6 put together: every method on the same LOSO folds of one class scheme
(:func:`run_scheme`; :class:`SchemeRun` with its table, record and computed verdict), Table 4
beside the paper's (:func:`table4`), and the chapter's set-up (:func:`setup_chapter`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import lbptop
from ..baselines import FAR_BELOW
from .baselines import apex_cnn, au_ceiling, lbp_top, majority
from .data import MicroData, ensure_casme2, load_data, settings
from .loso import COMPARED, METHODS, Fold, Repeated, _spread, loso_folds, uniform_guess
from .model import MicroConfig, cnn_lstm

#: Table 4 of the paper and the CASME II paper's own baseline (quoted, real CASME II).
PAPER_TABLE4 = (
    ("LBP-TOP (Zhao & Pietikainen 2007)", "44.12 %", "paper, Table 4"),
    ("LBP-TOP with adaptive magnification (Park et al. 2015)", "51.91 %", "paper, Table 4"),
    ("CNN + LSTM (Breuer & Kimmel)", "59.47 %", "paper, Table 4"),
    ("LBP-TOP + SVM, 5 classes, LOSO (Yan et al. 2014)", "63.41 %", "CASME II paper"),
)
#: The rows of :data:`PAPER_TABLE4` as ``results.json`` records them.
PAPER_RECORD = dict(zip(("lbp_top", "lbp_top_magnification", "cnn_lstm", "casme2_baseline"),
                        (a for _, a, _ in PAPER_TABLE4), strict=True))


@dataclass
class SchemeRun:
    """Every method of one class scheme on the same folds: the three compared, the majority
    baseline, the AU ceiling and, on SynthFACS, the positive control and the stage check
    (``results``, by method key), with each one's seconds."""

    data: MicroData
    folds: list[Fold]
    results: dict  # method -> MethodResult
    seconds: dict

    def table(self) -> pd.DataFrame:
        """Accuracy, UF1, UAR per method, with chance and the majority baseline."""
        rows = []
        k = len(self.data.classes)
        for name, r in self.results.items():
            s = r.scores()
            if sp := _spread(r):
                s["uf1 sd (chapter-2 models)"] = sp["uf1_sd"]
            rows.append({"method": METHODS.get(name, r.description), **s})
        rows.append({"method": "chance (uniform guess)",
                     **uniform_guess(self.data.labels, k)})
        return pd.DataFrame(rows).set_index("method")

    def record(self) -> dict:
        """Scores per method; a :class:`Repeated` one also its spread over the runs."""
        return {name: {**r.scores(), **(r.spread() if isinstance(r, Repeated) else {})}
                for name, r in self.results.items()}

    def verdict(self) -> list[str]:
        """Computed sentences: each method's UF1 against the majority baseline, the AU ceiling
        and (SynthFACS) the positive control trained on as many clips; then whether the
        positive control wins and how much of the gap to the ceiling more clips close; the
        stage check (:func:`_stage_check`); and the CNN stage on its own
        (:func:`_cnn_stage`)."""
        sc = {name: r.scores()["uf1"] for name, r in self.results.items()}
        top, base = sc.get("au_ceiling"), sc.get("majority")
        same, rich = sc.get("reference_fold_size"), sc.get("reference_all")
        guess = uniform_guess(self.data.labels, len(self.data.classes))["uf1"]
        out = []
        for name in COMPARED:
            if name not in sc:
                continue
            u, r = sc[name], self.results[name]
            runs = ""
            if sp := _spread(r):
                runs = (f" (mean of {sp['runs']} runs, one from each chapter-2 model: "
                        f"{', '.join(f'{v:.1%}' for v in sp['uf1_runs'])}; sd "
                        f"{100 * sp['uf1_sd']:.1f} points)")
            text = f"{METHODS[name]}: UF1 {u:.1%}{runs}, " + (
                ("only " if u - guess <= FAR_BELOW else "")
                + f"{100 * (u - guess):.1f} points above a uniform guess ({guess:.1%})"
                if u > guess else f"NOT above a uniform guess ({guess:.1%})")
            if base is not None:
                text += f", {'above' if u > base else 'NOT above'} the majority baseline " \
                        f"({base:.1%})"
            if top is not None:
                text += f"; {_against(u, top, 'the AU ceiling')}"
            if same is not None:
                text += (f"; the positive control given as many clips reaches {same:.1%}"
                         + (f" ({100 * (same - u):.1f} points more)" if same > u else "")
                         + ": " + ("this method is far below what these clips allow"
                                   if same - u > FAR_BELOW else "this method is close to it"
                                   if same > u else "this method is level with it or above"))
            elif top is not None and top - u > FAR_BELOW:
                text += ": an open problem rather than a finding"
            out.append(text + ".")
        compared = [sc[n] for n in COMPARED if n in sc]
        if rich is not None and same is not None and compared:
            from ..micro_reference import clips

            n_same, n_rich = clips(self).values()
            text = (f"Positive control, the apex - onset CNN trained on other SynthFACS people: "
                    f"UF1 {same:.1%} with {n_same} clips, {rich:.1%} with {n_rich}; "
                    + ("it wins over every method here" if rich > max(compared) else
                       "it does NOT beat every method here, so at this size it bounds nothing "
                       "(too few clips or epochs for it to learn)"))
            if top is not None:
                if top <= same:
                    text += f"; with {n_same} clips it already reaches the AU ceiling"
                elif rich <= same:
                    text += f"; {n_rich} clips do not improve on {n_same}"
                else:
                    closed = min(1.0, (rich - same) / (top - same))
                    text += (f"; {n_rich} clips close {closed:.0%} of the gap between "
                             f"{n_same} clips and the AU ceiling")
            out.append(text + ".")
        if same is not None and "reference_lstm" in sc:
            out.append(_stage_check(same, sc["reference_lstm"], sc.get("cnn_lstm")))
        if "cnn_lstm" in self.results:
            out.append(_cnn_stage(self.results["cnn_lstm"], self.data.labels, self.folds))
        return out


def _cnn_stage(result, labels, folds) -> str:
    """The CNN stage's own score in words: the share of apex frames of each fold's selection
    subjects whose clip class it names (recorded by :func:`cnn_lstm`), pooled over the folds
    of every run, against naming the most frequent class of those same clips for every one
    (a generous constant answer: it is chosen on the clips it is scored on). The apex is the
    one key frame that shows the class; the score is taken at the epoch those subjects chose,
    so it leans high. Within :data:`FAR_BELOW` (in the points printed) it counts as no
    better than the constant answer."""
    right = sum(f.info["cnn_apex_accuracy"] * f.info["cnn_apex_clips"] for f in result.folds)
    neutral = sum(f.info["cnn_apex_neutral"] * f.info["cnn_apex_clips"] for f in result.folds)
    clips = sum(f.info["cnn_apex_clips"] for f in result.folds)
    pooled = np.concatenate([np.asarray(labels)[f.val] for f in folds])
    constant = float(np.bincount(pooled).max() / len(pooled))
    acc = right / clips
    d = round(100 * acc, 1) - round(100 * constant, 1)
    n_runs = len(result.runs) if isinstance(result, Repeated) else 1
    runs = f", {n_runs} runs" if n_runs > 1 else ""
    return (f"CNN stage on its own: on the selection subjects of each fold (which also chose its "
            f"epoch, so this leans high) it names the class of {acc:.1%} of the apex frames "
            f"({clips} apex frames over {len(result.folds)} folds{runs}), against "
            f"{constant:.1%} for naming the most frequent class of those clips every time "
            f"(it calls {neutral / clips:.1%} of them 'neutral'): "
            + (f"{d:.1f} points above it, so it tells some classes apart from single frames"
               if d > 100 * FAR_BELOW else
               f"{abs(d):.1f} points below it: worse than that constant answer"
               if d < -100 * FAR_BELOW else
               f"{d:+.1f} points, within the {100 * FAR_BELOW:g} points this chapter counts as "
               "noise: no better than that constant answer") + ".")


def _stage_check(control: float, check: float, cnn_lstm: float | None) -> str:
    """The stage check in words, as two steps in one order: the control's network read at
    the coded apex -> the same network read over the clip by the paper's LSTM (what the LSTM
    costs features known to carry the class) -> the CNN + LSTM (the paper's CNN stage, its
    training and its raw-frame input swapped in). The two signed steps sum to the CNN +
    LSTM's distance to the control; a step within :data:`FAR_BELOW` is called noise."""

    def step(a: float, b: float) -> str:  # from a to b, in the points printed
        d = round(100 * a, 1) - round(100 * b, 1)
        return (f"{abs(d):.1f} points {'down' if d > 0 else 'up'}"
                + (f" (under the {100 * FAR_BELOW:g} points this chapter counts as noise; the "
                   "spread over seeds is not measured here)" if abs(d) <= 100 * FAR_BELOW
                   else ""))

    text = (f"Stage check: the control's network (as many clips as a fold) read over the whole "
            f"clip, each frame as its change from the first, by the paper's LSTM refitted in "
            f"each fold on the fold's clips like the CNN + LSTM's, reaches UF1 {check:.1%} "
            f"against {control:.1%} read at the coded apex: this step moves it "
            f"{step(control, check)}")
    if cnn_lstm is not None:
        text += (f"; swapping in the paper's CNN stage (a chapter-2 model fine-tuned in each "
                 f"fold, on the frames) moves it a further {step(check, cnn_lstm)}, to the CNN "
                 f"+ LSTM's {cnn_lstm:.1%}")
    return text + "."


def _against(u: float, ref: float, what: str) -> str:
    """``u`` beside ``ref`` in points: far below, close below, or at/above it."""
    if u >= ref:
        return f"{100 * (u - ref):.1f} points above {what} ({ref:.1%})"
    return (f"{100 * (ref - u):.1f} points under {what} ({ref:.1%}), "
            + ("far below it" if ref - u > FAR_BELOW else "close to it"))


def run_scheme(data: MicroData, source, config: MicroConfig, artifacts,
               lbp: lbptop.LBPTop | None = None, quiet: bool = True,
               with_cnn_lstm: bool = True, reference=None,
               reference_epochs: int | tuple[int, int] = 30, sources: dict | None = None
               ) -> SchemeRun:
    """All three methods (and the majority baseline and AU ceiling) on the same LOSO folds
    (``with_cnn_lstm=False``: the two baselines only); with a ``reference``
    (:class:`fer_helpers.micro_reference.Reference`, SynthFACS only) also the positive
    control, trained on as many clips as a fold and on all reference clips
    (``reference_epochs``: both fits' epoch budget, or a pair, one per fit).

    ``sources`` (name -> chapter-2 model, ``source`` among them): the CNN + LSTM and the apex
    probe are run from each, and are :class:`Repeated` results (means over the runs)."""
    from .. import micro_reference as mr

    epochs = mr.epoch_pair(reference_epochs) if reference is not None else None  # before any fit
    folds = loso_folds(data.subjects, config.cnn.val_fraction, config.seed)
    secs, res = {}, {}
    runs: dict[str, list] = {"cnn_lstm": [], "apex_cnn": []}
    for model in (sources or {"": source}).values():
        conv = {}
        if with_cnn_lstm:
            t = time.perf_counter()
            runs["cnn_lstm"].append(cnn_lstm(data, folds, model, config, artifacts, quiet))
            secs["cnn_lstm"] = secs.get("cnn_lstm", 0.0) + time.perf_counter() - t
            if config.input == "frames":  # the apex probe reads the frames' conv features
                conv = runs["cnn_lstm"][-1].conv
        t = time.perf_counter()
        runs["apex_cnn"].append(apex_cnn(data, folds, model,
                                         conv["key"][:, 1] if conv else None))
        secs["apex_cnn"] = secs.get("apex_cnn", 0.0) + time.perf_counter() - t

    def result(done):  # one run, or the runs from every source
        return Repeated(done, list(sources)) if sources else done[0]

    if runs["cnn_lstm"]:
        res["cnn_lstm"] = result(runs["cnn_lstm"])
    t = time.perf_counter()
    res["lbp_top"] = lbp_top(data, folds, lbp)
    secs["lbp_top"] = time.perf_counter() - t
    res["apex_cnn"] = result(runs["apex_cnn"])
    res["majority"] = majority(data, folds)
    res["au_ceiling"] = au_ceiling(data, folds)
    if reference is not None:
        t = time.perf_counter()
        n_fold = mr.fold_size(data, folds)
        if n_fold >= len(reference.labels):
            raise ValueError(f"the positive control's tree has {len(reference.labels)} clips, "
                             f"not more than a fold's {n_fold}: render more reference subjects "
                             "(micro_reference_subjects)")
        for key, n, e in zip(mr.FITS, (n_fold, len(reference.labels)), epochs, strict=True):
            res[key] = mr.positive_control(data, folds, reference, n,
                                           mr.train_config(e, config.cnn.precision), artifacts,
                                           quiet, method=key)
        secs["positive control"] = time.perf_counter() - t
        if with_cnn_lstm:
            t = time.perf_counter()
            res[mr.LSTM_CHECK] = mr.lstm_on_control(data, folds, res["reference_fold_size"],
                                                    config, quiet)
            secs["stage check"] = time.perf_counter() - t
    return SchemeRun(data, folds, res, secs)


def table4(runs: dict) -> pd.DataFrame:
    """Table 4 of the paper beside ours: each row names its data and where it comes from.
    Percentages keep their sign on the number's line (a no-break space)."""
    nbsp = "\u00a0"
    rows = [{"method": m, "accuracy": a.replace(" %", nbsp + "%"), "UF1": "", "UAR": "",
             "data": "real CASME II (classes not stated)" if src.startswith("paper")
             else "real CASME II, 5 classes, LOSO", "source": src}
            for m, a, src in PAPER_TABLE4]
    for run in runs.values():
        for name, r in run.results.items():
            if name not in (*COMPARED, "au_ceiling"):  # the controls have their own section
                continue
            s = r.scores()
            row = {k: f"{100 * s[m]:.2f}{nbsp}%" for k, m in
                   (("accuracy", "accuracy"), ("UF1", "uf1"), ("UAR", "uar"))}
            if sp := _spread(r):
                row["UF1"] = (f"{100 * s['uf1']:.2f}{nbsp}±{nbsp}{100 * sp['uf1_sd']:.2f}"
                              f"{nbsp}%")
            rows.append({"method": METHODS[name], **row,
                         "data": r.data + (f", mean of {len(r.runs)} chapter-2 models"
                                           if isinstance(r, Repeated) else ""),
                         "source": "this run"})
    return pd.DataFrame(rows)


@dataclass
class Chapter:
    """Chapter 6's set-up: chapter 2's model, the CASME II tree, the settings."""

    trained: object  # book.TrainedChapter
    root: Path
    source: str  # "SynthFACS (synthetic)" or "real CASME II"
    config: MicroConfig
    lbp: lbptop.LBPTop
    settings: dict
    artifacts: Path
    reference_root: Path | None = None  # the positive control's SynthFACS tree
    _sources: dict | None = field(default=None, init=False, repr=False)

    def load(self, scheme: str) -> tuple[object, MicroData]:
        """(Casme2, MicroData) of one class scheme (cropped frames; bad rows skipped and
        reported)."""
        import warnings

        from ..datasets import load_casme2

        cropped = (self.root / "Cropped").is_dir()
        if not cropped:
            warnings.warn(f"{self.root} has no Cropped/ folder: the raw frames are used whole "
                          "(resized, not face-cropped); with real CASME II use its Cropped/ "
                          "frames", stacklevel=2)
        ds = load_casme2(self.root, scheme=scheme, variant="cropped" if cropped else "raw",
                         errors="skip")
        size = self.trained.model.input_shape[1]
        return ds, load_data(ds, size, self.config.seq_length, self.lbp, self.source)

    def run(self, data: MicroData) -> SchemeRun:
        """The methods of the profile on ``data`` (the CNN + LSTM where the profile runs it
        on this scheme)."""
        main = data.scheme in self.settings["micro_cnn_lstm_schemes"]
        return run_scheme(data, self.trained.model, self.config, self.artifacts, self.lbp,
                          with_cnn_lstm=main,
                          reference=self.reference(data.scheme) if main else None,
                          reference_epochs=self.settings["micro_reference_epochs"],
                          sources=self.sources())

    def sources(self) -> dict:
        """Chapter 2's fold models the CNN + LSTM and the apex probe start from (the profile's
        ``micro_sources``, at most chapter 2's folds), by name; fold 0 is
        ``self.trained.model``."""
        import keras

        if self._sources is None:  # loaded once, for every scheme
            folds = self.trained.cv.folds[:self.n_sources]
            self._sources = {f"fold {k}": self.trained.model if k == 0 else
                             keras.saving.load_model(f.model_path) for k, f in enumerate(folds)}
        return self._sources

    @property
    def n_sources(self) -> int:
        """How many of chapter 2's fold models :meth:`sources` gives."""
        return min(self.settings["micro_sources"], len(self.trained.cv.folds))

    def reference(self, scheme: str):
        """The positive control's clips of ``scheme`` (SynthFACS only; ``None`` for real
        CASME II, which has no second tree of the same distribution)."""
        if self.reference_root is None:
            return None
        from ..micro_reference import Reference

        return Reference.load(self.reference_root, scheme, self.trained.model.input_shape[1])


def setup_chapter(profile: str, casme2_path=None, ckplus_path=None, data_dir=None,
                  artifacts_dir=None, precision: str = "auto") -> Chapter:
    """Versions, plotly renderer and precision (via :func:`fer_helpers.book.trained_chapter`,
    which also loads chapter 2's model), the CASME II tree (the user's, else SynthFACS) and
    the profile's settings."""
    from .. import book

    tc = book.trained_chapter(profile, ckplus_path, data_dir, artifacts_dir, precision)
    s = settings(profile)
    ref = None
    if casme2_path:
        root, source = Path(casme2_path), "real CASME II"
        if not root.exists():
            raise FileNotFoundError(f"casme2_path={casme2_path!s} does not exist")
    else:
        root, source = ensure_casme2(profile, data_dir), "SynthFACS (synthetic)"
        ref = ensure_casme2(profile, data_dir, reference=True)
    config = MicroConfig.for_profile(profile, tc.policy)
    lbp = lbptop.LBPTop(size=s["micro_lbp_size"], length=s["micro_lbp_length"])
    print(f"CASME II: {source} ({root.name}); schemes {', '.join(s['micro_schemes'])}")
    return Chapter(tc, root, source, config, lbp, s, book.artifacts_dir(artifacts_dir), ref)
