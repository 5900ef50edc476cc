"""``python -m fer_helpers.book``: see :mod:`fer_helpers.book`."""

from __future__ import annotations

import argparse
import sys

from .build import build, vendor
from .data import dataset_paths, other_domains
from .profiles import PROFILES
from .runner import _param_path, run_notebooks


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fer_helpers.book")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="execute the chapters with papermill")
    r.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    r.add_argument("--only", nargs="*", help="chapter name prefixes, e.g. 01 02")
    for k in ("ckplus", "fer2013", "ferplus", "nova", "casme2", "data-dir", "artifacts-dir"):
        r.add_argument(f"--{k}", default=None, help=f"path to {k} (default: SynthFACS)")
    d = sub.add_parser("data", help="write the SynthFACS data a run will use, if missing")
    d.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    for k in ("ckplus", "fer2013", "ferplus", "nova", "casme2", "data-dir"):
        d.add_argument(f"--{k}", default=None, help=f"path to {k}: no SynthFACS {k} is written")
    sub.add_parser("vendor", help="fetch the offline JS into book/_vendor")
    sub.add_parser("build", help="strict jupyter-book build + figure check")
    a = p.parse_args(argv)
    try:
        if a.cmd == "run":
            params = {"ckplus_path": a.ckplus, "fer2013_path": a.fer2013,
                      "ferplus_path": a.ferplus, "nova_path": a.nova,
                      "casme2_path": a.casme2, "data_dir": a.data_dir,
                      "artifacts_dir": a.artifacts_dir}
            params = {k: _param_path(v) for k, v in params.items()}
            run_notebooks(a.profile, a.only, params)
        elif a.cmd == "data":
            dataset_paths(a.profile, a.ckplus, a.fer2013, a.ferplus, a.data_dir)
            other_domains(a.profile, a.nova, a.casme2, a.data_dir)
        elif a.cmd == "vendor":
            print(f"offline assets in {vendor()}")
        else:
            build()
    except (RuntimeError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
