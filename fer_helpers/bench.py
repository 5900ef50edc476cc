"""Benchmarks that print what they measured; the last line is one JSON object.

``python -m fer_helpers.bench synth``: SynthFACS 48x48 faces rendered per second, on one core
and on all cores (the latter through :func:`fer_helpers.synth.generate`'s process pool).

``python -m fer_helpers.bench train``: training images per second of ``paper_cnn`` (48x48):
raw Keras ``fit`` on in-memory arrays, the project's pipeline (tf.data, augmentation,
callbacks, per-epoch backup) in float32 and in bf16, and a large float32 matmul as the
machine's practical peak. Epoch times exclude the first epoch (graph tracing).
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


def _matmul_gflops(n: int = 4096, repeats: int = 5) -> float:
    import numpy as np
    import tensorflow as tf

    a = tf.random.normal((n, n))
    tf.linalg.matmul(a, a).numpy()
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        tf.linalg.matmul(a, a).numpy()
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    x = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    t = time.perf_counter()
    x @ x
    return max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)


def bench_train(n: int = 3000, epochs: int = 4) -> dict:
    """Steady-state training speed (images/s) of the raw fit, our pipeline, and bf16."""
    import shutil
    import tempfile

    import keras

    from . import models, training
    from .synth import generate

    faces = generate(n + 256, "fer2013", seed=0)
    x, y = faces.images[:n], faces.emotion[:n]
    val = (faces.images[n:], faces.emotion[n:])

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.t)

    def steady(times):  # images/s over the epochs after the first
        return n * (len(times) - 1) / sum(times[1:])

    raws = {}
    for precision in ("float32", "mixed_bfloat16"):
        if precision == "mixed_bfloat16" and not training.bf16_supported():
            continue
        training.set_precision(precision)
        model = models.paper_cnn((48, 48, 1), 8)
        model.compile(optimizer=training.optimizer(training.TrainConfig()),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        timer = Timer()
        timer.times = []
        model.fit(training.as_input(x), y, batch_size=64, epochs=epochs, verbose=0,
                  validation_data=(training.as_input(val[0]), val[1]), callbacks=[timer])
        raws[precision] = steady(timer.times)
        print(f"raw Keras fit, {precision}, in-memory arrays: {raws[precision]:.0f} images/s "
              f"(epochs {[round(t, 1) for t in timer.times]} s)", flush=True)
    raw = raws["float32"]
    out = {}
    for precision in ("float32", "mixed_bfloat16"):
        if precision == "mixed_bfloat16" and not training.bf16_supported():
            out[precision] = None
            print("bf16: not supported on this machine (no AMX/AVX512-BF16, no Ampere+ GPU)")
            continue
        work = tempfile.mkdtemp(prefix="fer-bench-")
        try:
            cfg = training.TrainConfig(epochs=epochs, precision=precision, batch_size=64)
            res = training.fit(lambda: models.paper_cnn((48, 48, 1), 8), (x, y), val, cfg, work,
                               quiet=True)
            times = res.history["seconds"].tolist()
        finally:
            shutil.rmtree(work, ignore_errors=True)
        out[precision] = steady(times)
        print(f"pipeline (tf.data + augmentation + callbacks + backup), {precision}: "
              f"{out[precision]:.0f} images/s (epochs {[round(t, 1) for t in times]} s)",
              flush=True)
    training.set_precision("float32")
    flops = models.forward_flops(models.paper_cnn((48, 48, 1), 8))
    gflops = out["float32"] * 3 * flops / 1e9  # training step ~ 3x the forward pass
    peak = _matmul_gflops()
    print(f"float32 pipeline: {gflops:.0f} GFLOP/s; 4096^2 float32 matmul: {peak:.0f} GFLOP/s")
    bf16 = out["mixed_bfloat16"]
    return {"benchmark": "train", "raw_img_s": round(raw, 1),
            "pipeline_img_s": round(out["float32"], 1),
            "pipeline_vs_raw": round(out["float32"] / raw, 3),
            "bf16_img_s": None if bf16 is None else round(bf16, 1),
            "bf16_speedup": None if bf16 is None else round(bf16 / out["float32"], 2),
            "gflops": round(gflops, 1), "peak_gflops": round(peak, 1),
            "raw_bf16_img_s": round(raws["mixed_bfloat16"], 1) if bf16 is not None else None,
            "images": n, "epochs_timed": epochs - 1, "size": "48x48", "batch": 64}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fer_helpers.bench")
    p.add_argument("what", choices=["synth", "train"])
    p.add_argument("--n", type=int, default=None, help="number of images")
    a = p.parse_args(argv)
    if a.what == "synth":
        result = bench_synth(a.n or 4000)
    else:
        result = bench_train(a.n or 3000)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
