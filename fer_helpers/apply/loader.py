"""One way to load a Keras model file: the book's ``.keras`` files and legacy Keras 2 ``.h5``.

Models published by other FER projects are often Keras 2 HDF5 files. Keras 3 loads their
architecture and weights, but compiling them fails on optimizer arguments it no longer knows
(``lr``, ``decay``), so inference loads with ``compile=False``; ``.keras`` files load with
``safe_mode=True`` (no arbitrary code from lambda layers). Any failure is raised as
:class:`ModelLoadError` naming the file and the cause.
"""

from __future__ import annotations

from pathlib import Path

from ..visualize.layers import first_input  # noqa: F401  (re-exported: apply.first_input)

SUFFIXES = (".keras", ".h5", ".hdf5")


class ModelLoadError(ValueError):
    """A model file could not be loaded (the message names the file)."""


def load_model(path, compile: bool = False, safe_mode: bool = True, custom_objects=None):
    """Load a Keras model for inference.

    Parameters
    ----------
    path : str or Path
        A ``.keras`` file (Keras 3) or a ``.h5``/``.hdf5`` file (Keras 2 or 3).
    compile : bool
        Restore the training configuration too (default ``False``: not needed to predict,
        and Keras 2 optimizer configs do not load in Keras 3).
    safe_mode : bool
        Refuse to deserialize lambda layers' code (``.keras`` files).
    custom_objects : dict, optional
        Extra layer classes; the book's own (``PerImageStandardization``) are registered.

    Returns
    -------
    keras.Model
    """
    import keras

    from .. import models  # noqa: F401  (registers the book's custom layers)

    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"model file {path} does not exist")
    if path.suffix.lower() not in SUFFIXES:
        raise ModelLoadError(f"{path} is not a Keras model file (expected one of "
                             f"{', '.join(SUFFIXES)})")
    try:
        return keras.saving.load_model(path, custom_objects=custom_objects, compile=compile,
                                       safe_mode=safe_mode)
    except Exception as e:  # noqa: BLE001 - re-raised with the file named
        hint = (" (a Keras 2 training configuration: load with compile=False)"
                if compile else "")
        raise ModelLoadError(f"cannot load the Keras model {path}: {type(e).__name__}: "
                             f"{e}{hint}") from e
