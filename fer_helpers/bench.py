"""Benchmarks that print what they measured; the last line is one JSON object.

``python -m fer_helpers.bench synth``: SynthFACS 48x48 faces rendered per second, on one core
and on all cores (the latter through :func:`fer_helpers.synth.generate`'s kept process pool:
the first run starts it, the later ones reuse it).

``python -m fer_helpers.bench visualize``: guided backpropagation for every filter of
``conv3`` of ``paper_cnn`` (48x48, weights drawn with seed 0) x its top-9 images, batched (the
conv/ReLU/pool chain path, and automatic differentiation), against the plain loop of one
image-filter pair per forward and backward pass, in one run; pictures that differ are told
apart by whether the two picked different objective units or the same one.

``python -m fer_helpers.bench facs``: the counterfactual AU ablation of every ``conv3`` filter
over 150 held-out SynthFACS faces, each rendered with every AU it shows removed in turn
(renders included).

``python -m fer_helpers.bench train``: training images per second of ``paper_cnn`` (48x48):
raw Keras ``fit`` on in-memory arrays, the project's pipeline (tf.data, augmentation,
callbacks, per-epoch backup) in float32 and in bf16, and a large float32 matmul as the
machine's practical peak, and a fold of the quick profile's size and batch
(``small_img_s``, and ``small_vs_large``, its ratio to the large bf16 run or, without bf16,
the float32 pipeline). Epoch times exclude the first epoch (graph tracing).

``python -m fer_helpers.bench micro``: SynthFACS micro-expression frames rendered per second
(one core, 128x128 crops and 96x96), LBP-TOP clips per second (chapter 6's settings), and the
seconds of a whole leave-one-subject-out run of chapter 6's three methods (quick profile's
configuration, ``--n`` subjects, default 6, a CNN with fresh weights in place of chapter 2's).

``python -m fer_helpers.bench transfer``: chapter 5's frozen-feature extraction (``pool3`` of
``paper_cnn``, 48x48, bf16 where native) in images per second over ``--n`` SynthFACS faces
(default 1200), and the seconds to train its heads on the cached features (the three AU heads
together, 17 AUs, and the emotion head; quick's epochs; first fit with tracing, then a refit).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time


def bench_synth(n: int = 4000, repeats: int = 4) -> dict:
    """Time :func:`fer_helpers.synth.generate` on the FER2013 (48x48) domain: one core, then
    all cores, the first run starting the kept worker pool (``faces_per_s_cold``) and the
    later ones reusing it (``faces_per_s``: the best of them)."""
    from .synth import generate
    from .synth.generate import shutdown_pool

    generate(64, "fer2013", seed=1, n_jobs=1)  # warm-up: imports, caches
    single_n = max(200, n // 8)
    t = time.perf_counter()
    generate(single_n, "fer2013", seed=2, n_jobs=1)
    single = single_n / (time.perf_counter() - t)
    print(f"1 core: {single_n} faces at {single:.0f} faces/s")
    cores = os.cpu_count() or 1
    shutdown_pool()
    rates = []
    for r in range(repeats):
        t = time.perf_counter()
        faces = generate(n, "fer2013", seed=3 + r, n_jobs=cores)
        dt = time.perf_counter() - t
        rates.append(n / dt)
        how = "worker start included" if r == 0 else "kept workers"
        print(f"{cores} cores, run {r + 1}: {n} faces {faces.images.shape[1:]} in {dt:.2f} s "
              f"= {rates[-1]:.0f} faces/s ({how})")
    warm = rates[1:] or rates
    return {"benchmark": "synth", "faces_per_s": round(max(warm), 1),
            "faces_per_s_median": round(sorted(warm)[len(warm) // 2], 1),
            "faces_per_s_cold": round(rates[0], 1),
            "faces_per_s_one_core": round(single, 1), "n": n, "cores": cores,
            "size": "48x48", "cpu": _cpu()}


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
    # quick's CK+ fold: its size and batch, the same precision as the large run above
    from .book import PROFILES

    q = PROFILES["quick"]
    small_n, small_prec = 1400, "mixed_bfloat16" if out["mixed_bfloat16"] else "float32"
    work = tempfile.mkdtemp(prefix="fer-bench-")
    try:
        cfg = training.TrainConfig(epochs=epochs, precision=small_prec, batch_size=q["batch_size"],
                                   schedule=q["schedule"])
        res = training.fit(lambda: models.paper_cnn((48, 48, 1), 8), (x[:small_n], y[:small_n]),
                           (val[0][:250], val[1][:250]), cfg, work, quiet=True)
        times = res.history["seconds"].tolist()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    small = small_n * (len(times) - 1) / sum(times[1:])
    large = out["mixed_bfloat16"] or out["float32"]
    print(f"quick-sized fold ({small_n} images, batch {q['batch_size']}, {small_prec}): "
          f"{small:.0f} images/s (epochs {[round(t, 1) for t in times]} s), "
          f"{small / large:.2f} of the large run", flush=True)
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
            "small_img_s": round(small, 1), "small_vs_large": round(small / large, 3),
            "images": n, "epochs_timed": epochs - 1, "size": "48x48", "batch": 64,
            "cpu": _cpu()}


def _cpu() -> str:
    """The CPU's model name and whether it has AMX / AVX-512 (from /proc/cpuinfo)."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((ln.split(":", 1)[1].strip() for ln in info.splitlines()
                 if ln.startswith("model name")), platform.machine())
    flags = [f for f in ("amx_bf16", "avx512f", "avx2") if f" {f}" in info]
    return f"{name} ({', '.join(flags) or 'no AVX2'})"


def bench_facs(n_faces: int = 150) -> dict:
    """Seconds for the counterfactual ablation of every conv3 filter x 17 AUs x ``n_faces``
    held-out faces, renders included."""
    from . import models
    from .facs import ablation
    from .synth import counterfactual_set

    model = models.paper_cnn((48, 48, 1), 8)
    counterfactual_set(8, seed=99, n_jobs=1)  # warm-up: imports, caches
    t = time.perf_counter()
    cset = counterfactual_set(n_faces, seed=0, size=48)
    t_render = time.perf_counter() - t
    t1 = time.perf_counter()
    abl = ablation(model, cset, "conv3")
    t_abl = time.perf_counter() - t1
    seconds = time.perf_counter() - t
    print(f"{cset.renders} renders ({n_faces} held-out faces, each AU removed in turn): "
          f"{t_render:.2f} s; ablation of {abl.effect.shape[0]} conv3 filters x "
          f"{abl.effect.shape[1]} AUs: {t_abl:.2f} s")
    return {"benchmark": "facs", "seconds": round(seconds, 3), "renders": int(cset.renders),
            "renders_per_s": round(cset.renders / t_render, 1),
            "render_seconds": round(t_render, 3), "ablation_seconds": round(t_abl, 3),
            "faces": n_faces, "filters": int(abl.effect.shape[0]),
            "aus": int(abl.effect.shape[1]), "layer": "conv3", "size": "48x48", "cpu": _cpu()}


def bench_visualize(n_images: int = 512, top: int = 9) -> dict:
    """Seconds for guided backprop of all conv3 filters x top-``top`` images."""
    import keras
    import numpy as np

    from . import models, visualize
    from .synth import generate

    faces = generate(n_images, "fer2013", seed=0).images
    keras.utils.set_random_seed(0)  # the same weights, hence the same pairs, on every run
    model = models.paper_cnn((48, 48, 1), 8)
    t = time.perf_counter()
    best = visualize.TopActivations(model, "conv3", n=top)(faces)
    t_top = time.perf_counter() - t
    # pair every filter with `top` images: its top images, padded with its first for filters
    # that fire on fewer (so the work is always 256 x top pairs)
    idx = np.where(best.index >= 0, best.index, np.maximum(best.index[:, :1], 0))
    filters = np.repeat(np.arange(best.index.shape[0]), top)
    images = faces[idx.ravel()]
    from .training import bf16_supported

    print(f"top-{top} images of {best.index.shape[0]} conv3 filters over {n_images} faces: "
          f"{t_top:.2f} s", flush=True)
    timing = {}
    for precision in ("float32", "mixed_bfloat16"):
        if precision == "mixed_bfloat16" and not bf16_supported():
            continue
        gb = visualize.GuidedBackprop(model, "conv3", precision=precision)
        gb(images[:128], filters[:128])  # trace once
        t = time.perf_counter()
        out = gb(images, filters)
        timing[precision] = time.perf_counter() - t
        if precision == "float32":
            batched, fast = out, gb
        print(f"guided backprop, {len(filters)} pairs batched ("
              f"{'conv/ReLU/pool chain path' if gb.fast else 'automatic differentiation'}), "
              f"{precision}: {timing[precision]:.2f} s", flush=True)
    seconds = timing["float32"]
    auto = visualize.GuidedBackprop(model, "conv3", precision="float32", fast=False)
    auto(images[:128], filters[:128])
    t = time.perf_counter()
    auto(images, filters)
    auto_seconds = time.perf_counter() - t
    print(f"the same pairs batched through automatic differentiation: {auto_seconds:.2f} s",
          flush=True)
    single = visualize.GuidedBackprop(model, "conv3", batch_size=1, precision="float32",
                                      fast=False)
    single(images[:1], filters[:1])
    t = time.perf_counter()
    loop = np.concatenate([single(images[i:i + 1], filters[i]) for i in range(len(filters))])
    loop_seconds = time.perf_counter() - t
    # Both paths take every decision (ReLU masks, pooling switches, the objective unit) on
    # each image's own forward pass as a batch of one, so they agree bit for bit on those, and
    # the pictures differ only by the rounding of the backward sums (~1e-6). A pair over 1e-4
    # means a decision differed: a different unit, or the same unit and different switches.
    diff = np.abs(batched - loop).max(axis=(1, 2, 3)) / max(float(np.abs(loop).max()), 1e-30)
    over = np.flatnonzero(diff > 1e-4)
    units = fast.units(images[over], filters[over])
    loop_units = np.concatenate([np.zeros((0, 2), np.int64)] + [
        single.units(images[k:k + 1], filters[k]) for k in over])
    unit_differs = (units != loop_units).any(axis=1)
    same = bool(len(over) == 0)
    print(f"one pair per pass, automatic differentiation: {loop_seconds:.2f} s; largest "
          f"difference {diff.max():.2e} of the largest gradient, in pair {int(diff.argmax())}; "
          f"{len(over)} pairs over 1e-4: {int(unit_differs.sum())} with another unit, "
          f"{int((~unit_differs).sum())} with the same unit"
          + "".join(f"\n  pair {k} (filter {filters[k]}): unit {u.tolist()} batched, "
                    f"{v.tolist()} one by one, difference {diff[k]:.2e}"
                    for k, u, v in zip(over, units, loop_units, strict=True)))
    return {"benchmark": "visualize", "seconds": round(seconds, 3),
            "loop_seconds": round(loop_seconds, 3), "speedup": round(loop_seconds / seconds, 2),
            "autodiff_batched_seconds": round(auto_seconds, 3),
            "pairs": int(len(filters)), "top_n_seconds": round(t_top, 3),
            "seconds_bf16": round(timing["mixed_bfloat16"], 3) if len(timing) > 1 else None,
            "batched_equals_loop": same, "max_rel_diff": float(f"{diff.max():.3g}"),
            "pairs_over_1e-4": len(over), "other_unit": int(unit_differs.sum()),
            "layer": "conv3", "size": "48x48", "cpu": _cpu()}


def bench_micro(n_subjects: int = 6) -> dict:
    """Render frames/s, LBP-TOP clips/s and LOSO seconds of chapter 6 (module docstring)."""
    import tempfile
    from pathlib import Path

    import keras

    from . import lbptop, micro, models, training
    from .datasets import load_casme2
    from .synth import write_casme2
    from .synth.micro import MicroStyle, render_clip, sample_clip

    render = {}
    for size in (128, 96):
        style = MicroStyle(size=size)
        render_clip(sample_clip(0, 1, 0, "happiness", style))  # warm-up
        t, n = time.perf_counter(), 0
        for i in range(4):
            frames, _, _ = render_clip(sample_clip(0, 1, i + 1, "disgust", style))
            n += len(frames)
        render[size] = n / (time.perf_counter() - t)
        print(f"micro-expression clips at {size}x{size} (raw + registered crop): "
              f"{render[size]:.0f} frames/s on one core", flush=True)
    s = micro.settings("quick")
    lbp = lbptop.LBPTop(size=s["micro_lbp_size"], length=s["micro_lbp_length"])
    with tempfile.TemporaryDirectory(prefix="fer-bench-micro-") as tmp:
        t = time.perf_counter()
        write_casme2(Path(tmp) / "casme2", n_subjects=n_subjects, seed=0, size=96, n_jobs=1)
        t_write = time.perf_counter() - t
        ds = load_casme2(Path(tmp) / "casme2", "5class", "cropped")
        cfg = micro.MicroConfig.for_profile("quick", training.set_precision("auto"))
        data = micro.load_data(ds, 48, cfg.seq_length, lbp, "SynthFACS (synthetic)")
        t = time.perf_counter()
        x = lbptop.features(data.lbp, lbp)
        lbp_rate = len(x) / (time.perf_counter() - t)
        print(f"{lbp.describe()}: {lbp_rate:.1f} clips/s", flush=True)
        keras.utils.set_random_seed(0)
        source = models.paper_cnn((48, 48, 1), 8)
        t = time.perf_counter()
        run = micro.run_scheme(data, source, cfg, Path(tmp) / "artifacts", lbp)
        loso = time.perf_counter() - t
    training.set_precision("float32")
    per_fold = loso / len(run.folds)
    print(f"SynthFACS CASME II tree, {n_subjects} subjects, {len(ds)} clips: written in "
          f"{t_write:.1f} s; LOSO of the three methods ({len(run.folds)} folds, quick "
          f"configuration, {cfg.cnn.precision}): {loso:.1f} s ({per_fold:.1f} s per fold: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in run.seconds.items()) + ")")
    return {"benchmark": "micro", "render_frames_per_s_128": round(render[128], 1),
            "render_frames_per_s_96": round(render[96], 1),
            "lbp_top_clips_per_s": round(lbp_rate, 1), "lbp_top": lbp.to_dict(),
            "loso_seconds": round(loso, 1), "loso_seconds_per_fold": round(per_fold, 2),
            "loso_method_seconds": {k: round(v, 1) for k, v in run.seconds.items()},
            "subjects": n_subjects, "clips": len(ds), "precision": cfg.cnn.precision,
            "cpu": _cpu()}


def bench_apply(n_frames: int = 250, fer_path: str | None = None) -> dict:
    """Frames/s of :func:`fer_helpers.apply.apply` on a 640x360 SynthFACS video (decode,
    detection, alignment, inference), and of the ``fer`` package's ``FER().detect_emotions``
    on the same decoded frames if it imports (``fer_path``/``$FER_PATH``: a folder holding
    an unpacked ``fer`` wheel; never a project dependency)."""
    import tempfile
    from pathlib import Path

    import cv2
    import keras

    from . import models
    from .apply import apply, export_bundle, load_bundle
    from .apply.bundle import CARD_FILE, default_dir
    from .synth.face import AU_CODES
    from .synth.video import write_video

    with tempfile.TemporaryDirectory(prefix="fer-bench-apply-") as tmp:
        video = Path(tmp) / "synthfacs.mp4"
        write_video(video, n_frames=n_frames, size=(640, 360), seed=0)
        if (default_dir() / CARD_FILE).is_file():
            bundle, which = load_bundle(default_dir()), f"the bundle at {default_dir()}"
        else:
            keras.utils.set_random_seed(0)
            heads = [keras.Sequential([keras.layers.Dense(len(AU_CODES), activation=a)])
                     for a in ("sigmoid", "relu")]
            export_bundle(Path(tmp) / "bundle", models.paper_cnn((48, 48, 1), 8), *heads,
                          au_codes=AU_CODES, feature_layer="flatten")
            bundle = load_bundle(Path(tmp) / "bundle")
            which = "paper_cnn with random weights + AU heads (no bundle exported yet)"
        apply(video, bundle, progress=False, every=max(1, n_frames // 20))  # warm-up
        t = time.perf_counter()
        df = apply(video, bundle, progress=False)
        seconds = time.perf_counter() - t
        fps = n_frames / seconds
        faces = int(df["success"].sum())
        print(f"fer_helpers.apply, {which}: {n_frames} frames 640x360, {faces} faces, "
              f"{seconds:.2f} s = {fps:.1f} frames/s", flush=True)
        fer_fps, reason = None, ""
        fer_path = fer_path or os.environ.get("FER_PATH")
        if fer_path:
            sys.path.insert(0, fer_path)
        try:
            from fer.fer import FER

            detector = FER()
            cap = cv2.VideoCapture(str(video))
            ok, img = cap.read()
            detector.detect_emotions(img)  # warm-up
            cap.release()
            cap = cv2.VideoCapture(str(video))
            t, n, fer_faces = time.perf_counter(), 0, 0
            while True:
                ok, img = cap.read()
                if not ok:
                    break
                fer_faces += len(detector.detect_emotions(img))
                n += 1
            cap.release()
            fer_fps = n / (time.perf_counter() - t)
            print(f"fer (FER().detect_emotions, its defaults): {n} frames, {fer_faces} faces, "
                  f"{fer_fps:.1f} frames/s", flush=True)
        except Exception as e:  # never fail the benchmark on the peer
            reason = f"{type(e).__name__}: {e}"
            print(f"fer not measured ({reason}); unpack its wheel and set FER_PATH", flush=True)
    return {"benchmark": "apply", "fps": round(fps, 1),
            "fer_fps": None if fer_fps is None else round(fer_fps, 1),
            "fps_vs_fer": None if fer_fps is None else round(fps / fer_fps, 2),
            "frames": n_frames, "faces": faces, "seconds": round(seconds, 2),
            "size": "640x360", "model": which, "fer_skipped": reason or None,
            "cores": os.cpu_count(), "cpu": _cpu()}



def bench_transfer(n: int = 1200) -> dict:
    """Images/s of chapter 5's feature extraction and seconds of its head training."""
    import keras
    import numpy as np

    from . import models, training, transfer
    from .synth import AU_CODES, generate

    policy = training.set_precision("auto")
    faces = generate(n, "fer2013", seed=0)
    keras.utils.set_random_seed(0)
    model = models.paper_cnn((48, 48, 1), 8)
    transfer.extract(model, faces.images[:64])  # warm-up: graph tracing
    feats = transfer.extract(model, faces.images)
    rate = n / feats.seconds
    print(f"frozen conv features ({feats.x.shape[1]} per face, {policy}): {n} faces in "
          f"{feats.seconds:.2f} s = {rate:.0f} images/s", flush=True)
    epochs = transfer.settings("quick")["transfer_head_epochs"]
    cfg = transfer.HeadConfig(epochs=epochs)
    wd = cfg.grid[0]
    pres = (faces.au_intensity > 0).astype(np.float32)
    targets = {"presence": pres, "per_au": pres, "intensity": faces.au_intensity}
    heads = transfer.Heads(feats.x.shape[1], transfer.AUHeadSet(len(AU_CODES)).specs, cfg)
    t = time.perf_counter()
    heads.fit(feats.x, targets, weight_decay=wd)
    au_first = time.perf_counter() - t
    t = time.perf_counter()
    heads.fit(feats.x, targets, seed=1, weight_decay=wd)
    au_refit = time.perf_counter() - t
    # what chapter 5 runs per network: the weight decay chosen on the training side over the
    # grid, then one refit (subject-disjoint in the chapter; here a seeded image split)
    t = time.perf_counter()
    heads.fit_selected(feats.x, targets, np.arange(n), seed=2)
    au_selected = time.perf_counter() - t
    emo = transfer.Heads(feats.x.shape[1], transfer.emotion_head(8), cfg)
    emo.fit(feats.x, {"emotion": faces.emotion}, weight_decay=wd)
    t = time.perf_counter()
    emo.fit(feats.x, {"emotion": faces.emotion}, seed=1, weight_decay=wd)
    emo_refit = time.perf_counter() - t
    print(f"AU heads (presence + per-AU detectors + intensity, {len(AU_CODES)} AUs), {n} "
          f"faces x {epochs} epochs: {au_first:.2f} s first (tracing), {au_refit:.2f} s refit, "
          f"{au_selected:.2f} s with the weight decay chosen over {len(cfg.grid)} values; "
          f"emotion head refit {emo_refit:.2f} s", flush=True)
    training.set_precision("float32")
    return {"benchmark": "transfer", "feature_img_s": round(rate, 1),
            "feature_dim": int(feats.x.shape[1]), "au_heads_seconds_first": round(au_first, 2),
            "au_heads_seconds": round(au_refit, 2),
            "au_heads_selected_seconds": round(au_selected, 2),
            "weight_decay_grid": len(cfg.grid), "emotion_head_seconds": round(emo_refit, 2),
            "head_epochs": epochs, "images": n, "precision": policy, "size": "48x48",
            "cpu": _cpu()}


#: Each benchmark and its default size (``--n``).
BENCHMARKS = {"synth": (bench_synth, 4000), "train": (bench_train, 3000),
              "visualize": (bench_visualize, 512), "facs": (bench_facs, 150),
              "micro": (bench_micro, 6), "apply": (bench_apply, 250),
              "transfer": (bench_transfer, 1200)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fer_helpers.bench")
    p.add_argument("what", choices=list(BENCHMARKS))
    p.add_argument("--n", type=int, default=None, help="number of images")
    a = p.parse_args(argv)
    run, default = BENCHMARKS[a.what]
    result = run(a.n or default)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
