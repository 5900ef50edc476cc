"""What chapter 7 (apply the models to a video) runs: the bundle, the video, the timed run.

:func:`setup_chapter` finds the bundle chapter 5 exports (``<artifacts>/bundle``); without it,
it exports chapter 2's emotion model alone (no AU outputs) to
``<artifacts>/apply/bundle_chapter2_<profile>``, once, and says so. The video is the
reader's, or a SynthFACS video with per-frame truth, rendered once under the data folder.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .bundle import CARD_FILE, Bundle, export_bundle, load_bundle, open_model
from .run import apply

#: SynthFACS video frames per profile (640x360, 25 frames/s).
FRAMES = {"ci": 200, "quick": 300, "full": 500}
SIZE = (640, 360)
FPS = 25.0
SYNTHETIC = "SynthFACS (synthetic)"


@dataclass
class Chapter:
    profile: str
    bundle: Bundle
    bundle_note: str  # where the bundle came from, one sentence
    video: Path
    truth: pd.DataFrame | None  # per-frame truth (None: a video without a truth CSV)
    source: str  # the video's data, for captions and sentences
    models_source: str  # what the models were trained on


def _fallback_dir(profile, artifacts) -> Path:
    """Where chapter 7 keeps chapter 2's emotion-only model when chapter 5's bundle is missing."""
    from ..book import artifacts_dir

    return artifacts_dir(artifacts) / "apply" / f"bundle_chapter2_{profile}"


def _first_face(truth):
    """The truth rows of the video's first face (all rows when it has one face)."""
    return truth[truth["face"] == truth["face"].min()] if "face" in truth.columns else truth


def _fallback_bundle(profile, data_dir, artifacts) -> Path:
    from ..book import trained_chapter

    folder = _fallback_dir(profile, artifacts)
    if not (folder / CARD_FILE).is_file():
        ch = trained_chapter(profile, data_dir=data_dir, artifacts=artifacts)
        export_bundle(folder, ch.model, training_data=ch.source, profile=profile,
                      test={"accuracy": float(ch.cv.folds[0].accuracy), "data": ch.data},
                      card_extra={"made_by": "chapter 7: chapter 2's paper_cnn, fold 0, "
                                             "emotion only (chapter 5's bundle was missing)"})
    return folder


def synthfacs_video(profile: str, data_dir=None, n_frames: int | None = None) -> Path:
    """A SynthFACS video of the profile's length and its truth CSV, rendered once."""
    from ..book import synthfacs_paths
    from ..synth.video import truth_path, write_video

    n = n_frames or FRAMES[profile]
    folder = synthfacs_paths(profile, data_dir)["ckplus"].parent / "video"
    path = folder / f"apply_{n}f_{SIZE[0]}x{SIZE[1]}.mp4"
    if not (path.is_file() and truth_path(path).is_file()):
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".render-") as tmp:
            tmp_video = Path(tmp) / path.name
            write_video(tmp_video, n_frames=n, size=SIZE, fps=FPS, seed=0, max_roll=25.0)
            truth_path(tmp_video).replace(truth_path(path))
            tmp_video.replace(path)
    return path


def setup_chapter(profile: str, bundle=None, video_path=None, data_dir=None,
                  artifacts_dir=None) -> Chapter:
    """Versions, plotly renderer, the bundle (given, chapter 5's, or chapter 2's CNN) and the
    video (given, or SynthFACS with truth); prints what it uses."""
    from ..book import PROFILES, print_versions, setup_notebook
    from ..book import artifacts_dir as artifacts_folder
    from ..synth.video import truth_path

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(PROFILES)}")
    default = artifacts_folder(artifacts_dir) / "bundle"
    fallback = _fallback_dir(profile, artifacts_dir)
    trains = bundle is None and not (default / CARD_FILE).is_file() \
        and not (fallback / CARD_FILE).is_file()
    if not trains:  # else chapter 2's setup does this, and says what it loaded
        setup_notebook()
        print_versions()
    if bundle is not None:
        b, note, where = open_model(bundle), "the model you gave", bundle
    elif (default / CARD_FILE).is_file():
        b, note, where = load_bundle(default), "the bundle chapter 5 exported", default
    else:
        where = _fallback_bundle(profile, data_dir, artifacts_dir)
        b = load_bundle(where)
        note = ("chapter 5's bundle is not in the artifacts folder, so this page applies "
                "chapter 2's CNN alone: emotions only, no action units")
    video = Path(video_path) if video_path else synthfacs_video(profile, data_dir)
    tp = truth_path(video)
    truth = pd.read_csv(tp) if tp.is_file() else None
    source = (f"{SYNTHETIC} video" if video_path is None
              else f"your video {video.name}" + (" (with its truth CSV)" if truth is not None
                                                 else ""))
    models_source = b.card.get("training_data") or "unknown data (no card)"
    print(f"model: {note} ({where}); {len(b.labels)} emotions ({', '.join(b.labels)}), "
          f"{len(b.au_codes)} AUs; trained on {models_source}")
    print(f"video: {video} ({source}); truth: {tp.name if truth is not None else 'none'}")
    return Chapter(profile, b, note, video, truth, source, models_source)


def timed_apply(ch: Chapter, **kwargs) -> tuple[pd.DataFrame, dict]:
    """:func:`~fer_helpers.apply.apply` on the chapter's video after a one-frame warm-up;
    returns the table and ``{"seconds", "frames", "fps", "cpu"}`` of the timed run."""
    from ..bench import _cpu

    apply(ch.video, ch.bundle, every=10**9, progress=False)  # warm-up: graph, cascades
    t = time.perf_counter()
    df = apply(ch.video, ch.bundle, progress=False, **kwargs)
    seconds = time.perf_counter() - t
    frames = int(df["frame"].nunique())
    return df, {"seconds": seconds, "frames": frames, "fps": frames / seconds, "cpu": _cpu()}


def timeline(df: pd.DataFrame, truth: pd.DataFrame | None = None, title: str = ""):
    """:func:`fer_helpers.plotting.apply_timeline` of the first face, with the truth's
    expression segments (non-neutral runs of the first face) shaded and named."""
    from ..plotting import apply_timeline

    found = df[df["success"] == 1]
    fid = int(found["face_id"].value_counts().index[0]) if len(found) else None
    fig = apply_timeline(df, face_id=fid, title=title)
    if truth is None or "emotion" not in truth.columns:
        return fig
    t = _first_face(truth)
    by_time = df["timestamp"].notna().all() and df["timestamp"].max() > 0  # as the timeline
    x = "timestamp" if by_time and "timestamp" in t.columns else "frame"
    run = (t["emotion"] != t["emotion"].shift()).cumsum()
    half = (t[x].diff().median() or 1.0) / 2
    for _, g in t.groupby(run):
        name = g["emotion"].iloc[0]
        if name == "neutral":
            continue
        fig.add_vrect(x0=g[x].iloc[0] - half, x1=g[x].iloc[-1] + half, fillcolor="grey",
                      opacity=0.12, line_width=0, annotation_text=f"true: {name}",
                      annotation_position="top left", annotation_font_size=10)
    return fig


def sample_faces(ch: Chapter, df: pd.DataFrame, n: int = 6, size: int = 112):
    """``n`` frames spread over the video, cut around the face (the truth's box, else the
    detection's), with the box the detector found drawn in white, and their labels
    ``"<seconds> s / true <emotion> / predicted <emotion>"``."""
    import cv2
    import numpy as np

    first = df[df["face_id"] <= 0].drop_duplicates("frame").set_index("frame")
    truth = None if ch.truth is None else \
        _first_face(ch.truth).drop_duplicates("frame").set_index("frame")
    if truth is not None:  # frames at the middle of each expression, neutral ones last
        runs = (truth["emotion"] != truth["emotion"].shift()).cumsum()
        mids = truth.groupby(runs).apply(lambda g: (g.index[len(g) // 2], g["emotion"].iloc[0]),
                                         include_groups=False).tolist()
        picks = [f for f, e in mids if e != "neutral"] + [f for f, e in mids if e == "neutral"]
        picks = sorted(picks[:n])
    else:
        picks = list(np.linspace(1, first.index.max(), n).round().astype(int))
    cap = cv2.VideoCapture(str(ch.video))
    crops, labels, want = [], [], set(picks)
    i = 0
    while want:
        ok, img = cap.read()
        if not ok:
            break
        i += 1
        if i not in want:
            continue
        want.discard(i)
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        det = first.loc[i] if i in first.index else None
        ref = truth.loc[i] if truth is not None and i in truth.index else det
        if ref is None or pd.isna(ref["face_x"]):
            cx, cy, half = grey.shape[1] / 2, grey.shape[0] / 2, grey.shape[0] / 2
        else:
            cx, cy = ref["face_x"] + ref["face_w"] / 2, ref["face_y"] + ref["face_h"] / 2
            half = 0.8 * max(ref["face_w"], ref["face_h"])
        if det is not None and det["success"] == 1:
            x, y, w, h = (int(round(det[k])) for k in ("face_x", "face_y", "face_w", "face_h"))
            cv2.rectangle(grey, (x, y), (x + w, y + h), 255, 2)
        m = cv2.getAffineTransform(
            np.float32([[cx - half, cy - half], [cx + half, cy - half], [cx - half, cy + half]]),
            np.float32([[0, 0], [size, 0], [0, size]]))
        crops.append(cv2.warpAffine(grey, m, (size, size), borderValue=0))
        pred = det["emotion"] if det is not None and det["success"] == 1 else "no face"
        true = f"true {truth.loc[i, 'emotion']}<br>" if truth is not None else ""
        t = det["timestamp"] if det is not None else float("nan")
        labels.append(f"{t:.1f} s<br>{true}pred. {pred}")
    cap.release()
    return np.stack(crops), labels


def verdict(ch: Chapter, score: dict | None, perf: dict) -> list[str]:
    """The chapter's computed sentences."""
    import os

    out = []
    if score is None:
        out.append(f"This video ({ch.source}) has no truth CSV beside it, so nothing is scored.")
    else:
        s = score
        side = "above" if s["emotion_accuracy"] > s["majority"] else "not above"
        out.append(
            f"Emotion, per frame, on {s['frames']} frames of the {ch.source}: "
            f"{s['emotion_accuracy']:.1%} correct (a frame whose face was missed counts as "
            f"wrong; {s['emotion_accuracy_found']:.1%} of the frames with the face found), "
            f"{side} the majority baseline {s['majority']:.1%} (always "
            f"'{s['majority_emotion']}', the truth's most frequent emotion); chance "
            f"{s['chance']:.1%} ({len(ch.bundle.labels)} classes).")
        if s["outside_labels"]:
            out.append(f"{s['outside_labels']} truth frames have an emotion this model cannot "
                       f"answer (not among its labels); they count as wrong.")
        found = f"The face was found on {s['faces_found']:.1%} of the frames"
        if s["align_within_3"] is not None:
            found += (f"; the aligned eye line was within 3 degrees of the true one on "
                      f"{s['align_within_3']:.1%} of those (median error "
                      f"{s['align_median_error']:.1f} degrees; the head rolls up to "
                      f"{ch.truth['roll'].abs().max():.0f} degrees)")
        out.append(found + ".")
        if s["au_mean_f1"] is not None:
            out.append(f"AU presence, F1 per frame with the face found, mean over the "
                       f"{len(s['au_f1'])} AUs that occur in the truth: "
                       f"{s['au_mean_f1']:.2f}.")
        else:
            out.append(f"No AU F1: the model applied here has no AU outputs ({ch.bundle_note})."
                       if not ch.bundle.has_aus else
                       "No AU F1: the truth and the bundle share no AU presence column.")
    out.append(f"Speed: {perf['frames']} frames in {perf['seconds']:.1f} s, "
               f"{perf['fps']:.0f} frames/s end to end (decoding, detection, alignment, "
               f"inference; after a one-frame warm-up) on {perf['cpu']}, "
               f"{os.cpu_count()} logical CPUs visible to this run.")
    return out


__all__ = ["FRAMES", "Chapter", "sample_faces", "setup_chapter", "synthfacs_video",
           "timed_apply", "timeline", "verdict"]
