"""Helpers for the Breuer & Kimmel (2017) reproduction book."""

import os

from ._quiet import quiet_tensorflow_startup

# TensorFlow's start-up lines (absl, oneDNN, CPU features) go to the process's stderr, which
# JupyterLab shows in a pink box and papermill keeps in the executed notebooks. Every chapter
# imports this package before keras / tensorflow (see fer_helpers._quiet). A level the user
# set is kept: TF_CPP_MIN_LOG_LEVEL=0 shows everything again.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
quiet_tensorflow_startup()

__version__ = "0.1.0"
