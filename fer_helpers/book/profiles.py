"""What each profile runs, the book root, the artifacts folder and the headless flag."""

from __future__ import annotations

import os
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
#: Quick's FER2013-format model trains 12 epochs: with 4 it stayed far below the AU
#: ceiling (59.7 % PrivateTest accuracy against a ceiling of 99.7 %); 12 reach 89.0 %
#: (2,400 Training rows, one-cycle, batch 32, bf16: 102 s on the Intel Xeon above).
#: Quick's per-cell limit (3600 s) covers its longest cells (chapter 2's training, chapter 4's
#: study: 13-16 min here in bfloat16, about twice that on a float32-only CPU).
PROFILES = {
    "ci": {"ck_subjects": 10, "fer_rows": 700, "folds": 2, "epochs": 2, "batch_size": 32,
           "schedule": "one-cycle", "ck_size": 48, "fer_epochs": 1, "seeds": 1,
           "counterfactual_faces": 21, "cell_timeout": 600},
    "quick": {"ck_subjects": 300, "fer_rows": 3000, "folds": 3, "epochs": 20, "batch_size": 32,
              "schedule": "one-cycle", "ck_size": 48, "fer_epochs": 12, "seeds": 1,
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


def repo_root(start: Path | None = None) -> Path:
    """The book's root folder (holding ``_toc.yml``), searched upwards from ``start``/cwd."""
    here = (start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "_toc.yml").is_file() and (p / "fer_helpers").is_dir():
            return p
    raise FileNotFoundError(f"no book root (a folder with _toc.yml) above {here}")


# --------------------------------------------------------------------------- data
def artifacts_dir(path=None) -> Path:
    """Where trained models and per-fold results go (default ``<book root>/artifacts``)."""
    return Path(path) if path else repo_root() / "artifacts"


def chapter_settings(profile: str, defaults: dict[str, dict], prefixes: tuple[str, ...]
                     ) -> dict:
    """A chapter's sizes for ``profile``: its own ``defaults[profile]``, overridden by any key of
    :data:`PROFILES` ``[profile]`` that starts with one of ``prefixes`` (``micro_``, ...), so
    one place can pin them all."""
    if profile not in defaults:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(defaults)}")
    out = dict(defaults[profile])
    out.update({k: v for k, v in PROFILES.get(profile, {}).items() if k.startswith(prefixes)})
    return out


def train_config(profile: str, precision: str = "float32"):
    """The CK+ training configuration of a profile (shared by chapters 2-4, so the later
    chapters load the models chapter 2 trained instead of training new ones)."""
    from ..training import TrainConfig

    p = PROFILES[profile]
    return TrainConfig(epochs=p["epochs"], batch_size=p["batch_size"], precision=precision,
                       schedule=p["schedule"])
