"""Benchmarks that print what they measured; the last line is one JSON object.

``python -m fer_helpers.bench synth``: SynthFACS 48x48 faces rendered per second, on one core
and on all cores (the latter through :func:`fer_helpers.synth.generate`'s process pool).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time


def bench_synth(n: int = 4000, repeats: int = 3) -> dict:
    """Time :func:`fer_helpers.synth.generate` on the FER2013 (48x48) domain."""
    from .synth import generate

    generate(64, "fer2013", seed=1, n_jobs=1)  # warm-up: imports, caches
    single_n = max(200, n // 8)
    t = time.perf_counter()
    generate(single_n, "fer2013", seed=2, n_jobs=1)
    single = single_n / (time.perf_counter() - t)
    print(f"1 core: {single_n} faces at {single:.0f} faces/s")
    cores = os.cpu_count() or 1
    rates = []
    for r in range(repeats):
        t = time.perf_counter()
        faces = generate(n, "fer2013", seed=3 + r, n_jobs=cores)
        dt = time.perf_counter() - t
        rates.append(n / dt)
        print(f"{cores} cores, run {r + 1}: {n} faces {faces.images.shape[1:]} in {dt:.2f} s "
              f"= {rates[-1]:.0f} faces/s (process start included)")
    best = max(rates)
    return {"benchmark": "synth", "faces_per_s": round(best, 1),
            "faces_per_s_median": round(sorted(rates)[len(rates) // 2], 1),
            "faces_per_s_one_core": round(single, 1), "n": n, "cores": cores,
            "size": "48x48", "cpu": platform.processor() or platform.machine()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fer_helpers.bench")
    p.add_argument("what", choices=["synth"])
    p.add_argument("--n", type=int, default=4000)
    a = p.parse_args(argv)
    result = bench_synth(a.n)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
