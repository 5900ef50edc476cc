"""Keep TensorFlow's start-up lines out of notebooks.

TensorFlow 2.21 prints ``WARNING: All log messages before absl::InitializeLog() ...`` and
``I0000 ... port.cc] oneDNN custom operations are on ...`` from the C++ code that runs while
its shared libraries load, before absl logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` does not
reach them (it does quiet the later C++ messages). These lines are written to file descriptor
2, not to ``sys.stderr``: a kernel forwards them to JupyterLab as a stderr box. The finder below
runs the first ``import tensorflow`` (also when keras imports it) with descriptor 2 pointed at
``/dev/null``; Python errors are raised as exceptions and reach the reader as usual.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys

_ENV = "TF_CPP_MIN_LOG_LEVEL"


@contextlib.contextmanager
def stderr_fd_silenced():
    """Point file descriptor 2 at /dev/null for the duration (no-op if it cannot)."""
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the loading of the ``tensorflow`` package, once."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def quiet_exec_module(module):
            with stderr_fd_silenced():
                exec_module(module)

        loader.exec_module = quiet_exec_module
        return spec


def quiet_tensorflow_startup() -> None:
    """Install the finder unless tensorflow is loaded already or the user asked for its log
    (``TF_CPP_MIN_LOG_LEVEL`` 0 or 1)."""
    if "tensorflow" in sys.modules or os.environ.get(_ENV, "2") in ("0", "1"):
        return
    if not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())
