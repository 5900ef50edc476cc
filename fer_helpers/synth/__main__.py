"""Command line: ``python -m fer_helpers.synth {ckplus,fer2013,regions} ...``."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from ..io import atomic_path
from .face import AU_CODES
from .regions import reference_face, reference_region_masks
from .writers import write_ckplus, write_fer2013


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fer_helpers.synth", description=(
        "Write SynthFACS data in the real datasets' formats. Synthetic data: results on it "
        "are not CK+/FER2013 results."))
    sub = p.add_subparsers(dest="cmd", required=True)
    ck = sub.add_parser("ckplus", help="write a CK+ tree (images, Emotion, FACS, Landmarks)")
    ck.add_argument("out", help="folder to create (replaced atomically if it exists)")
    ck.add_argument("--subjects", type=int, default=20)
    ck.add_argument("--seed", type=int, default=0)
    ck.add_argument("--no-quirks", action="store_true", help="no colour/size/stray-file quirks")
    ck.add_argument("--jobs", type=int, default=None)
    fe = sub.add_parser("fer2013", help="write a fer2013.csv (and optionally fer2013new.csv)")
    fe.add_argument("out", help="CSV path")
    fe.add_argument("--n", type=int, default=2000)
    fe.add_argument("--seed", type=int, default=0)
    fe.add_argument("--ferplus", default=None, help="also write a FER+ CSV at this path")
    fe.add_argument("--jobs", type=int, default=None)
    rg = sub.add_parser("regions", help="save reference face + per-AU region masks (.npz)")
    rg.add_argument("out")
    rg.add_argument("--size", type=int, default=48)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    if a.cmd == "ckplus":
        truth = write_ckplus(a.out, a.subjects, a.seed, quirks=not a.no_quirks, n_jobs=a.jobs)
        print(f"wrote {len(truth)} sequences of {a.subjects} subjects "
              f"({int(truth['frames'].sum())} frames) to {a.out}")
    elif a.cmd == "fer2013":
        write_fer2013(a.out, a.n, a.seed, ferplus_path=a.ferplus, n_jobs=a.jobs)
        print(f"wrote {a.n} rows to {a.out}" + (f" and {a.ferplus}" if a.ferplus else ""))
    else:
        img, lm = reference_face(a.size)
        with atomic_path(a.out) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, image=img, landmarks=lm, au_codes=np.array(AU_CODES),
                                    masks=reference_region_masks(a.size))
        print(f"wrote reference face and {len(AU_CODES)} AU region masks to {a.out}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
