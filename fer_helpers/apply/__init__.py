"""Apply the book's models (or your own) to images and videos: one row per face and frame.

>>> from fer_helpers.apply import apply
>>> df = apply("clip.mp4")            # the bundle `make book` exported
>>> df = apply("photos/", "my.h5")    # a Keras 2 .h5 model of your own

Modules: :mod:`~.detect` (Haar detection, levelled search around tracked faces),
:mod:`~.align` (eye alignment robust to roll and raised brows), :mod:`~.track` (IoU
tracking), :mod:`~.bundle` (the exported model + card), :mod:`~.loader` (loading any Keras
model file), :mod:`~.run` (the frame loop, CSV, command line).
"""

from .bundle import Bundle, BundleError, export_bundle, load_bundle, open_model
from .loader import ModelLoadError, first_input, load_model
from .run import InputError, apply, main, read_csv, write_csv

__all__ = ["Bundle", "BundleError", "InputError", "ModelLoadError", "apply", "export_bundle",
           "first_input", "load_bundle", "load_model", "main", "open_model", "read_csv",
           "write_csv"]
