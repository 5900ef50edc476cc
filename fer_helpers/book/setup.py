"""What every chapter does first: versions, the plotly renderer, chapter 2's model."""

from __future__ import annotations

import importlib.metadata as md
import platform
from dataclasses import dataclass

from .data import dataset_paths
from .profiles import PROFILES, artifacts_dir, train_config

_PACKAGES = ("tensorflow-cpu", "tensorflow", "keras", "numpy", "pandas", "scikit-learn",
             "opencv-python-headless", "plotly", "ipywidgets", "papermill", "jupyter-book")


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

    from .. import datasets, faces, training
    from ..crossval import train_or_load

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
