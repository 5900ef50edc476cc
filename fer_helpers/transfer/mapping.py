"""Labels across datasets: a source model's outputs read as a target's classes, by name.

Variant (a) of the cross-dataset matrix applies a source model as it is. Its outputs are
mapped to the target's classes by emotion name over the classes **both** have:

- a target image whose class the source never learned (contempt, when a FER2013- or
  NovaEmotions-trained model is tested on CK+) is left out of that cell, and counted;
- a source output the target lacks (a CK+ model's contempt, tested on FER2013 or
  NovaEmotions) is ignored: the prediction is the most probable of the shared classes.

So contempt is scored only where both sides have it (CK+ on CK+); every cell says how many
test images it left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..labels import EMOTIONS, LabelSpace


def shared_classes(source_classes, target_classes) -> tuple[str, ...]:
    """Emotion names in both, in the canonical order of :data:`fer_helpers.labels.EMOTIONS`."""
    both = set(source_classes) & set(target_classes)
    return tuple(e for e in EMOTIONS if e in both)


def map_predictions(prob: np.ndarray, source_space: LabelSpace, y_target: np.ndarray,
                    target_space: LabelSpace, shared) -> tuple[np.ndarray, np.ndarray]:
    """A source model's probabilities (n, len(source_space)) as target-space predictions.

    Returns ``(kept, y_pred)``: the row indices scored (true class among ``shared``) and
    their predictions, codes in ``target_space``, argmax over the shared classes only.
    """
    prob = np.asarray(prob, float)
    if prob.shape[1] != len(source_space):
        raise ValueError(f"probabilities have {prob.shape[1]} columns, source space "
                         f"{source_space.name!r} has {len(source_space)} classes")
    if not shared:
        raise ValueError("source and target share no emotion class")
    src_cols = [source_space.names.index(e) for e in shared]
    tgt_codes = np.array([target_space.names.index(e) for e in shared])
    y = np.asarray(y_target, int)
    kept = np.flatnonzero(np.isin(y, tgt_codes))
    y_pred = tgt_codes[prob[kept][:, src_cols].argmax(axis=1)]
    return kept, y_pred


def mapping_table(spaces: dict[str, tuple[LabelSpace, tuple[str, ...]]]) -> pd.DataFrame:
    """The code of each emotion in each dataset's label space (``-`` where the dataset does
    not have the class). ``spaces``: dataset name -> (label space, classes it has)."""
    rows = {}
    for name, (space, classes) in spaces.items():
        rows[f"{name} ({space.name} codes)"] = [
            str(space.names.index(e)) if e in space.names and e in classes else "-"
            for e in EMOTIONS]
    return pd.DataFrame(rows, index=pd.Index(EMOTIONS, name="emotion"))
