"""Do filters pick out FACS action units? The paper's statistic and the controlled study.

- :mod:`.paper`: the paper's P(j, u), counts, one frame per sequence, and the shuffle null;
- :mod:`.ablation`: counterfactual AU ablation on SynthFACS (selective filters, coverage);
- :mod:`.localize`: exact-mask localization against the receptive-field chance line;
- :mod:`.study`: trained, untrained, shuffled-label and AU-trained networks over folds x
  seeds, and the verdict computed from them.
"""

from .ablation import Ablation, ablation, responses
from .localize import exact_localization, receptive_field, window_share
from .paper import (
    Analysis,
    accepted_count,
    accepted_pairs,
    analyse,
    one_frame_per_sequence,
    p_matrix,
    paper_counts,
    shuffle_null,
)

__all__ = ["Ablation", "Analysis", "ablation", "accepted_count", "accepted_pairs", "analyse",
           "exact_localization", "one_frame_per_sequence", "p_matrix", "paper_counts",
           "receptive_field", "responses", "shuffle_null", "window_share"]
