"""Chapter 5, transfer: the paper's cross-dataset matrix (Table 3) and cross-task AU
detection (section 3.2), with the baselines and controls that make them mean something.

Modules: :mod:`.domains` (the three datasets, chapter 5's sizes per profile, the
NovaEmotions-like tree), :mod:`.sources` (the datasets with their emotion CNNs, from the
artifacts chapters 2 and 4 share), :mod:`.mapping` (labels across datasets, by name),
:mod:`.features` (frozen conv features, once per image), :mod:`.heads` (Keras heads on cached
features, the L1+L2 AU head), :mod:`.metrics` (AU presence and intensity metrics, ICC(3,1)),
:mod:`.diagonal` (each source on its own test folds, beside its AU ceiling),
:mod:`.matrix` (the cross-dataset matrix) and :mod:`.cross_task` (AU heads on four feature
sets, the verdict).
"""

from .cross_task import LABELS, NETWORKS, au_heads, au_targets, networks, verdict
from .diagonal import gap_sentences, in_domain, in_domain_record, in_domain_row, in_domain_table
from .domains import (
    TRANSFER_DEFAULTS,
    Domain,
    ensure_nova,
    last_frame_per_label,
    load_nova,
    nova_au_features,
    nova_path,
    settings,
)
from .features import FEATURE_LAYER, FeatureCache, Features, extract
from .heads import (
    WEIGHT_DECAY_GRID,
    AUHeadSet,
    HeadConfig,
    Heads,
    HeadSpec,
    Selection,
    emotion_head,
    head_model,
)
from .mapping import map_predictions, mapping_table, shared_classes
from .matrix import PAPER_TABLE3, VARIANTS, beside_paper, cross_dataset, matrix_table, mean_matrix
from .metrics import icc31, intensity_metrics, presence_metrics
from .sources import Source, prepare

__all__ = [
    "FEATURE_LAYER", "LABELS", "NETWORKS", "PAPER_TABLE3", "TRANSFER_DEFAULTS", "VARIANTS",
    "WEIGHT_DECAY_GRID", "AUHeadSet", "Domain", "FeatureCache", "Features", "HeadConfig",
    "HeadSpec", "Heads", "Selection", "Source", "au_heads", "au_targets", "beside_paper",
    "cross_dataset", "emotion_head", "gap_sentences", "head_model", "in_domain",
    "in_domain_record", "in_domain_row", "in_domain_table",
    "ensure_nova", "extract", "icc31", "intensity_metrics", "last_frame_per_label",
    "load_nova", "map_predictions", "mapping_table", "matrix_table", "mean_matrix", "networks",
    "nova_au_features", "nova_path", "prepare", "presence_metrics", "settings",
    "shared_classes", "verdict",
]
