"""SynthFACS data of a profile, written once, and the paths a chapter reads."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .profiles import PROFILES, SEED, repo_root


def synthfacs_paths(profile: str, data_dir=None) -> dict[str, Path]:
    """Where the SynthFACS files of ``profile`` live."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(PROFILES)}")
    base = Path(data_dir) if data_dir else repo_root() / "data"
    d = base / "synthfacs" / profile
    return {"ckplus": d / "ckplus", "fer2013": d / "fer2013.csv",
            "ferplus": d / "fer2013new.csv"}


#: SynthFACS modules that write other domains (chapters 5-7 stamp their own data): editing
#: them does not change the CK+ tree or the FER2013 CSVs.
OTHER_DOMAINS = ("casme2.py", "micro.py", "nova.py", "video.py")


#: Modules outside ``synth/`` whose code decides SynthFACS bytes (the face crop and warp,
#: the label names and order).
SHARED = ("faces.py", "labels.py")


def generator_hash(*domains: str) -> str:
    """Hash of the SynthFACS code shared by every domain (``synth/`` and :data:`SHARED`),
    plus the modules ``domains`` of :data:`OTHER_DOMAINS` that write one (e.g.
    ``"nova.py"``): what a stamp records."""
    import hashlib
    import inspect

    from .. import synth

    here = Path(inspect.getfile(synth)).parent
    h = hashlib.sha256()
    for mod in sorted(here.glob("*.py")):
        if mod.name not in OTHER_DOMAINS or mod.name in domains:
            h.update(mod.read_bytes())
    for name in SHARED:
        h.update((here.parent / name).read_bytes())
    return h.hexdigest()[:12]


def _synth_spec(profile: str) -> dict:
    """What decides the bytes of a profile's SynthFACS files: sizes, seed, generator code."""
    cfg = PROFILES[profile]
    return {"ck_subjects": cfg["ck_subjects"], "fer_rows": cfg["fer_rows"], "seed": SEED,
            "generator": generator_hash()}


#: The SynthFACS parts a profile can write, and the profile sizes each one depends on.
PARTS = {"ckplus": ("ck_subjects",), "fer2013": ("fer_rows",)}


def ensure_synthfacs(profile: str, data_dir=None, verbose: bool = True,
                     parts=tuple(PARTS)) -> dict[str, Path]:
    """Write the SynthFACS ``parts`` of ``profile`` (``"ckplus"``: the CK+ tree;
    ``"fer2013"``: the FER2013 and FER+ CSVs) unless the same data is there already.

    ``synthfacs.json`` beside the files records, per part, the sizes, seed and generator it
    was written with; a part written with anything else (an older profile or generator) is
    written again. Parts not asked for are neither written nor checked.
    """
    from ..io import write_text
    from ..synth import write_ckplus, write_fer2013

    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown SynthFACS parts {sorted(unknown)}; expected {list(PARTS)}")
    paths = synthfacs_paths(profile, data_dir)
    stamp = paths["ckplus"].parent / "synthfacs.json"
    spec = _synth_spec(profile)
    old = json.loads(stamp.read_text()) if stamp.is_file() else {}
    stamps = dict(old) if all(isinstance(v, dict) for v in old.values()) else {}
    files = {"ckplus": [paths["ckplus"] / "synthfacs_truth.csv"],
             "fer2013": [paths["fer2013"], paths["ferplus"]]}
    for part in parts:
        want = {k: spec[k] for k in (*PARTS[part], "seed", "generator")}
        if stamps.get(part) == want and all(f.is_file() for f in files[part]):
            continue
        t = time.perf_counter()
        if part == "ckplus":
            write_ckplus(paths["ckplus"], spec["ck_subjects"], SEED)
            what = f"CK+ tree ({spec['ck_subjects']} subjects)"
        else:
            write_fer2013(paths["fer2013"], spec["fer_rows"], SEED,
                          ferplus_path=paths["ferplus"])
            what = f"FER2013/FER+ CSVs ({spec['fer_rows']} rows)"
        stamps[part] = want
        write_text(stamp, json.dumps(stamps, indent=1))
        if verbose:
            print(f"SynthFACS {what} written in {time.perf_counter() - t:.1f} s: "
                  f"{files[part][0].parent if part == 'ckplus' else paths['fer2013']}")
    return paths


def dataset_paths(profile: str, ckplus_path=None, fer2013_path=None, ferplus_path=None,
                  data_dir=None) -> dict:
    """Paths a chapter reads: the user's real datasets where given, else SynthFACS.

    Returns a dict with ``ckplus``, ``fer2013``, ``ferplus`` paths and, for each,
    ``<name>_synthetic`` (True where the data is SynthFACS). ``ferplus`` is None when a real
    FER2013 is given without its FER+ file. Only the SynthFACS parts a chapter reads are
    written.
    """
    real = {"ckplus": ckplus_path, "fer2013": fer2013_path, "ferplus": ferplus_path}
    for k, v in real.items():
        if v and not Path(v).exists():
            raise FileNotFoundError(f"{k}_path={v!s} does not exist")
    # SynthFACS only for what the user did not give; synthetic FER+ labels belong to the
    # synthetic FER2013 rows only, so a real FER2013 without its FER+ file gets none
    parts = [p for p in PARTS if not real[p]]
    synth = ensure_synthfacs(profile, data_dir, verbose=False, parts=parts) if parts else {}
    out = {}
    for k, v in real.items():
        if v:
            out[k], out[f"{k}_synthetic"] = Path(v), False
        elif k == "ferplus" and fer2013_path:
            out[k], out[f"{k}_synthetic"] = None, False
        else:
            out[k], out[f"{k}_synthetic"] = synth[k], True
    return out


def other_domains(profile: str, nova_path=None, casme2_path=None, data_dir=None) -> None:
    """Write the SynthFACS trees of chapters 5 and 6 (NovaEmotions-like; CASME II and the
    positive control's CASME II tree), except where the user gives the real dataset. The
    chapters would write them when missing; writing them here, in ``make book``'s data step,
    keeps a chapter's wall time its computation's (chapter 6's two trees take about a minute
    under quick)."""
    if not nova_path:
        from ..transfer.domains import ensure_nova

        ensure_nova(profile, data_dir)
    if not casme2_path:
        from ..micro import ensure_casme2

        for reference in (False, True):
            ensure_casme2(profile, data_dir, reference=reference)
