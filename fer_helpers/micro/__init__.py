"""Micro-expressions (paper section 4): the CNN + LSTM under leave-one-subject-out, and the
baselines measured beside it (LBP-TOP + linear SVM, the apex frame through the chapter-2 CNN).

The paper's model, as built here (the paper leaves the starred choices open; they are ours):

1. **CNN on five frames per clip.** For every training clip the onset, apex and offset frames
   carry the clip's class; the first and last frames of the folder are added "to account for
   neutral poses" and are labelled with an extra ``neutral`` class (*). The CNN starts from
   chapter 2's emotion model (other data, other people) with a new softmax head (micro
   classes + neutral) and is fine-tuned **inside each fold**. ``finetune="top"`` (default *)
   trains ``fc1`` and the head on the frozen convolutional layers, which keeps 26 folds
   affordable on a CPU; ``finetune="all"`` trains every layer on the frame images (with the
   book's augmentation).
2. **fc1 features over the clip.** Every clip (the whole frame folder, as CASME II ships it)
   is linearly resampled to ``seq_length`` frames (*, default 16: at 200 fps a 0.5 s
   expression still covers 5 or more of them), each frame goes through the fold's CNN up to
   ``fc1`` (512 units, after ReLU); the ``(seq_length, 512)`` arrays are cached per fold.
3. **LSTM.** Per-feature standardisation (statistics of the fold's fitting clips), one LSTM
   layer of ``lstm_units`` (*, default 64), dropout 0.5 on its output ("recurrent dropout
   was used after the LSTM layer": we read it as dropout after the layer; dropout on its
   recurrent state is ``recurrent_dropout``, default 0 *), then softmax over the micro
   classes.

Protocol: one fold per subject (LOSO). In each fold a share of the *training* subjects
(``val_fraction``) is held out for model selection (the epoch of both stages is chosen on
them); the test subject reaches neither stage's training nor the selection, nor the
standardisation statistics. Each fold records the subjects every stage was fitted on
(:attr:`FoldRecord.fitted_on`), and the tests check that the test subject is never among them.
Both stages train with :func:`fer_helpers.training.fit`.

Metrics (:func:`scores`): accuracy, UF1 (mean over classes of 2TP / (2TP + FP + FN)) and UAR
(mean per-class recall), on the predictions **pooled over all folds**, averaged over the
classes present among the true labels.

Profile sizes: :data:`MICRO_DEFAULTS` (keys ``micro_*``); a profile of
:data:`fer_helpers.book.PROFILES` that has a ``micro_*`` key overrides the default here.

Modules: :mod:`.data` (the profile sizes, the SynthFACS CASME II trees, a class scheme as
arrays), :mod:`.loso` (the folds, what a method's run records, the pooled scores),
:mod:`.baselines` (majority class, AU ceiling, LBP-TOP, the apex probe), :mod:`.model` (the
paper's CNN + LSTM, :func:`cnn_lstm`, and its configuration), :mod:`.chapter` (every method on
one class scheme, the verdict, Table 4, the chapter's set-up) and :mod:`.figures` (the
chapter's figures and listings).
"""

from .baselines import (
    PROBE_C,
    apex_cnn,
    au_ceiling,
    conv_features,
    layer_output,
    lbp_top,
    majority,
)
from .chapter import (
    PAPER_RECORD,
    PAPER_TABLE4,
    Chapter,
    SchemeRun,
    run_scheme,
    setup_chapter,
    table4,
)
from .data import (
    MICRO_DEFAULTS,
    SEED,
    MicroData,
    ensure_casme2,
    load_data,
    settings,
    synthfacs_casme2_path,
)
from .figures import apex_difference, envelope_figure, example_clip, motion_signal, tree
from .loso import (
    COMPARED,
    METHODS,
    Fold,
    FoldRecord,
    MethodResult,
    Repeated,
    confusion,
    load_record,
    loso_folds,
    save_record,
    scores,
    uniform_guess,
)
from .model import GAIN, MID, MicroConfig, change_images, cnn_inputs, cnn_lstm, lstm_fold

__all__ = ["COMPARED", "GAIN", "METHODS", "MICRO_DEFAULTS", "MID", "PAPER_RECORD",
           "PAPER_TABLE4", "PROBE_C", "SEED", "Chapter", "Fold", "FoldRecord", "MethodResult",
           "MicroConfig", "MicroData", "Repeated", "SchemeRun", "apex_cnn", "apex_difference",
           "au_ceiling", "change_images", "cnn_inputs", "cnn_lstm", "confusion",
           "conv_features", "ensure_casme2", "envelope_figure", "example_clip", "layer_output",
           "lbp_top", "load_data", "load_record", "loso_folds", "lstm_fold", "majority",
           "motion_signal", "run_scheme", "save_record", "scores", "settings", "setup_chapter",
           "synthfacs_casme2_path", "table4", "tree", "uniform_guess"]
