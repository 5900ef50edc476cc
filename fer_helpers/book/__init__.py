"""Book rails, one module per concern.

- :mod:`~fer_helpers.book.profiles`: what each profile runs, the book root, the artifacts
  folder, the headless flag;
- :mod:`~fer_helpers.book.data`: the SynthFACS data a run uses, written once;
- :mod:`~fer_helpers.book.setup`: what every chapter does first (versions, plotly renderer,
  chapter 2's model);
- :mod:`~fer_helpers.book.runner`: papermill over the chapters, headless, cleaned to publish;
- :mod:`~fer_helpers.book.build`: offline JavaScript and the strict HTML build.

Command line::

    python -m fer_helpers.book run --profile quick [--only 01] [--ckplus DIR] [--fer2013 CSV]
    python -m fer_helpers.book data --profile ci [--ckplus DIR] [--casme2 DIR]  # its SynthFACS
    python -m fer_helpers.book vendor                 # fetch offline JS from npm / plotly
    python -m fer_helpers.book build                  # jupyter-book build -W, then check it
"""

from .build import NPM_ASSETS, build, plotly_outputs, vendor
from .data import _synth_spec, dataset_paths, ensure_synthfacs, synthfacs_paths
from .profiles import (
    HEADLESS_ENV,
    PROFILES,
    SEED,
    artifacts_dir,
    chapter_settings,
    headless,
    repo_root,
    train_config,
)
from .runner import clean_executed, run_notebooks, toc_chapters
from .setup import (
    PlotlyJsonMime,
    TrainedChapter,
    print_versions,
    setup_notebook,
    trained_chapter,
    versions,
)

__all__ = ["HEADLESS_ENV", "NPM_ASSETS", "PROFILES", "SEED", "PlotlyJsonMime",
           "TrainedChapter", "_synth_spec", "artifacts_dir", "build", "chapter_settings",
           "clean_executed",
           "dataset_paths", "ensure_synthfacs", "headless", "plotly_outputs", "print_versions",
           "repo_root", "run_notebooks", "setup_notebook", "synthfacs_paths", "toc_chapters",
           "train_config", "trained_chapter", "vendor", "versions"]
