"""Chapter 6's data: the profile sizes, the SynthFACS CASME II trees (the chapter's and the
positive control's, written once per profile) and a class scheme as arrays
(:class:`MicroData`)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import lbptop
from ..io import write_text

#: Per-profile sizes of chapter 6 (until :data:`fer_helpers.book.PROFILES` carries them):
#: SynthFACS subjects and clips per subject, the frame size clips are rendered at, the class
#: schemes the baselines run on and those the CNN + LSTM runs on (each of its folds trains two
#: networks, ~3-4 s a fold under quick on 2 cores with one compiled model per stage reused by
#: the folds: quick runs it on 5 classes only), frames per clip for the LSTM, LSTM width,
#: epochs of both stages, the fine-tuning mode, the LBP-TOP frame size and length, the
#: positive control's other SynthFACS subjects and
#: epochs (:mod:`fer_helpers.micro_reference`; a pair: the fit on as many clips as a fold,
#: then the fit on all reference clips, which takes five times the steps per epoch), and how
#: many of chapter 2's fold models the two methods that start from one (the CNN + LSTM and the
#: apex probe) are run from: one run each is no result, since the same recipe retrained gave
#: the CNN + LSTM a UF1 anywhere from 15.5 to 30.2 % and the apex probe 25.1 to 39.1 % (quick,
#: five retrainings, November 2026).
#:
#: Quick's budgets, measured (Intel Xeon, 2 cores, bf16, November 2026; the chapter took 197 s
#: with three chapter-2 models and 30 epochs for both control fits, against "well under 3
#: minutes"): each chapter-2 model costs the chapter about 33 s (ten folds of two networks), so
#: quick runs two (full three). The all-clips control fit chose epoch 14 of 30 on its held-out
#: reference subjects (deterministic: the same in 16 reruns), with training accuracy 0.98 by epoch
#: 20; the paper's schedule does not depend on the epoch budget, so 20 epochs give the same
#: network in two thirds of the time. The fold-size fit chose epoch 24 and keeps 30. The CNN
#: stage had 4 epochs; on the selection subjects it peaked by epoch 2 in 18 of 20 folds (two
#: chapter-2 models, 10 folds each) and at epoch 3 and 4 once each, so it gets 3.
MICRO_DEFAULTS: dict[str, dict] = {
    "ci": {"micro_subjects": 4, "micro_clips": (3, 5), "micro_render_size": 64,
           "micro_schemes": ("5class",), "micro_cnn_lstm_schemes": ("5class",),
           "micro_seq_length": 8, "micro_lstm_units": 16,
           "micro_cnn_epochs": 2, "micro_lstm_epochs": 3, "micro_finetune": "top",
           "micro_lbp_size": 48, "micro_lbp_length": 8,
           "micro_reference_subjects": 8, "micro_reference_epochs": (2, 2), "micro_sources": 1},
    "quick": {"micro_subjects": 10, "micro_clips": (4, 15), "micro_render_size": 96,
              "micro_schemes": ("5class", "3class"), "micro_cnn_lstm_schemes": ("5class",),
              "micro_seq_length": 16, "micro_lstm_units": 64, "micro_cnn_epochs": 3,
              "micro_lstm_epochs": 15,
              "micro_finetune": "top", "micro_lbp_size": 64, "micro_lbp_length": 10,
              "micro_reference_subjects": 40, "micro_reference_epochs": (30, 20),
              "micro_sources": 2},
    "full": {"micro_subjects": 26, "micro_clips": (4, 15), "micro_render_size": 128,
             "micro_schemes": ("5class", "3class"),
             "micro_cnn_lstm_schemes": ("5class", "3class"), "micro_seq_length": 16,
             "micro_lstm_units": 64, "micro_cnn_epochs": 10, "micro_lstm_epochs": 40,
             "micro_finetune": "top", "micro_lbp_size": 64, "micro_lbp_length": 10,
             "micro_reference_subjects": 120, "micro_reference_epochs": (40, 40),
             "micro_sources": 3},
}
#: Seed of the SynthFACS CASME II tree.
SEED = 0


def settings(profile: str) -> dict:
    """Chapter 6's sizes for ``profile``: :data:`MICRO_DEFAULTS`, overridden by any ``micro_*``
    key of :data:`fer_helpers.book.PROFILES`."""
    from ..book import chapter_settings

    return chapter_settings(profile, MICRO_DEFAULTS, ("micro_",))


def synthfacs_casme2_path(profile: str, data_dir=None, reference: bool = False) -> Path:
    """Where the SynthFACS CASME II tree of ``profile`` lives (beside the CK+ tree), or with
    ``reference`` the positive control's tree of other people."""
    from ..book import synthfacs_paths

    root = synthfacs_paths(profile, data_dir)["ckplus"].parent
    return root / ("casme2-reference" if reference else "casme2")


def _casme2_spec(profile: str, reference: bool = False) -> dict:
    from ..book.data import generator_hash
    from ..micro_reference import REFERENCE_SEED

    s = settings(profile)
    return {"subjects": s["micro_reference_subjects" if reference else "micro_subjects"],
            "clips": list(s["micro_clips"]), "size": s["micro_render_size"],
            "seed": REFERENCE_SEED if reference else SEED,
            "generator": generator_hash("casme2.py", "micro.py")}


def ensure_casme2(profile: str, data_dir=None, verbose: bool = True,
                  reference: bool = False) -> Path:
    """Write the SynthFACS CASME II tree of ``profile`` unless the same one is there
    (``reference``: the positive control's tree of other people, another seed).

    ``synthfacs_casme2.json`` in the tree records what it was written with (sizes, seed,
    generator code); anything else is written again. One process (measured faster here
    than a pool on 2 cores).
    """
    from ..synth import write_casme2

    root = synthfacs_casme2_path(profile, data_dir, reference)
    stamp = root / "synthfacs_casme2.json"
    spec = _casme2_spec(profile, reference)
    if stamp.is_file() and json.loads(stamp.read_text()) == spec:
        return root
    t = time.perf_counter()
    write_casme2(root, n_subjects=spec["subjects"], seed=spec["seed"],
                 clips_per_subject=tuple(spec["clips"]), size=spec["size"], n_jobs=1)
    write_text(stamp, json.dumps(spec, indent=1))
    if verbose:
        print(f"SynthFACS CASME II tree ({spec['subjects']} subjects, seed {spec['seed']}) "
              f"written in {time.perf_counter() - t:.1f} s: {root}")
    return root


@dataclass
class MicroData:
    """A CASME II class scheme as arrays: what every method of this package reads.

    Attributes
    ----------
    key : (n, 5, S, S) uint8
        Onset, apex, offset, first, last frame of each clip (CNN input size).
    seq : (n, T, S, S) uint8
        Each clip resampled to ``T`` frames (CNN input size).
    lbp : (n, T', S', S') uint8
        Each clip resampled for LBP-TOP.
    labels, subjects : (n,) arrays
    classes : tuple of str
    scheme : str
        The class scheme of :func:`fer_helpers.datasets.load_casme2` (``'5class'``,
        ``'3class'`` or ``'all'``).
    description : str
        One line: source, layout, scheme, subjects, clips.
    clips : list of MicroClip
    """

    key: np.ndarray
    seq: np.ndarray
    lbp: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    classes: tuple[str, ...]
    scheme: str
    description: str
    clips: list = field(repr=False, default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for a in (self.key, self.seq, np.asarray(self.labels, np.int64)):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update("\x00".join(map(str, self.subjects)).encode())
        h.update(json.dumps([self.scheme, list(self.classes)]).encode())
        return h.hexdigest()[:16]


def load_data(ds, size: int, seq_length: int, lbp: lbptop.LBPTop, source: str) -> MicroData:
    """Read a :class:`~fer_helpers.datasets.Casme2` into :class:`MicroData`.

    A ``/`` apex falls back to the middle of onset..offset (listed in ``ds.report``).
    """
    key = ds.key_frames(size, apex_fallback="middle")
    seq = ds.sequences(seq_length, size, span="clip")
    vol = ds.sequences(lbp.length, lbp.size, span="clip")
    n_subj = len(set(ds.subjects.tolist()))
    desc = (f"{source}, CASME II layout ({ds.variant} frames), {ds.scheme} scheme, "
            f"{n_subj} subjects, {len(ds)} clips")
    return MicroData(key, seq, vol, ds.labels, ds.subjects, tuple(ds.classes), ds.scheme, desc,
                     list(ds.clips))
