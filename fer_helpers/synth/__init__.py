"""SynthFACS: synthetic faces with exact FACS ground truth, in the real datasets' formats.

Real expression datasets are licence-gated, so the book ships this generator instead. Each
face is a 68-point (iBUG) face of a synthetic identity; each AU moves its landmarks and adds
its appearance cue inside its own region (see :func:`au_region_masks`); emotions come from
EMFACS-style prototypes with intensity jitter and unrelated AUs. Same seed, same bytes.

Results computed on SynthFACS are results on synthetic data, not on CK+ or FER2013.
"""

from .casme2 import write_casme2
from .counterfactual import CounterfactualSet, counterfactual_set
from .emotions import PROTOTYPES, sample_aus
from .face import AU_CODES, AU_NAMES, TEMPLATE
from .generate import DOMAINS, SynthFaces, generate, identity
from .micro import PATTERNS as MICRO_PATTERNS
from .micro import MicroStyle, casme2_emotion, render_clip, sample_clip
from .regions import au_gallery, reference_face, reference_region_masks
from .render import Identity, Nuisance, Pose, Scene, au_region_masks, face_frame, render
from .writers import write_ckplus, write_fer2013

__all__ = [
    "AU_CODES", "AU_NAMES", "DOMAINS", "MICRO_PATTERNS", "PROTOTYPES", "TEMPLATE",
    "CounterfactualSet", "Identity", "MicroStyle", "Nuisance", "Pose", "Scene", "SynthFaces",
    "au_gallery", "au_region_masks", "casme2_emotion", "counterfactual_set", "face_frame",
    "generate", "identity", "reference_face", "reference_region_masks", "render",
    "render_clip", "sample_aus", "sample_clip", "write_casme2", "write_ckplus",
    "write_fer2013",
]
