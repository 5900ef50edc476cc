"""Apply a model bundle to an image, a folder of images or a video: one row per face and frame.

Columns (OpenFace 2.2's leading five, then ours):

``frame`` (1-based; a folder's images in sorted order), ``face_id`` (kept across frames by
IoU tracking; -1 on a row without a face), ``timestamp`` (seconds; 0 for images),
``confidence`` (0-1, from the Haar detector's merged windows), ``success`` (1 face found, 0
none: such a frame still gets one row, with NaN predictions), ``face_x, face_y, face_w,
face_h`` (pixels, the face square before rotation), ``pose_Rz`` (head roll, radians,
OpenFace's sign: clockwise on screen positive), ``AUxx_r`` (intensity 0-5, 2 decimals) and
``AUxx_c`` (presence 0/1) when the bundle has AU heads, one probability column per emotion
(canonical lowercase names), ``emotion`` (the most probable), ``align`` (``eyes`` or ``box``,
see :mod:`fer_helpers.apply.align`) and ``input`` (the file the frame came from).

Command line::

    python -m fer_helpers.apply INPUT [--model DIR|FILE] [--out results.csv] [--every N]
                                      [--annotate out.mp4]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from . import align, detect
from .bundle import Bundle, BundleError, open_model
from .track import IoUTracker

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
LEAD = ("frame", "face_id", "timestamp", "confidence", "success")
BOX = ("face_x", "face_y", "face_w", "face_h", "pose_Rz")


class InputError(ValueError):
    """An input that cannot be read (the message names the path)."""


@dataclass
class Frame:
    index: int  # 1-based
    image: np.ndarray | None  # BGR or grey; None: the file could not be read
    timestamp: float
    source: str


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def open_frames(path, every: int = 1):
    """``(frame iterator, number of frames to process or None, fps or None)``.

    Raises :class:`InputError` (naming the path) for a missing path, a folder without
    images, and a video OpenCV cannot open or that has no frame.
    """
    path = Path(path)
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    if not path.exists():
        raise InputError(f"input {path} does not exist")
    if path.is_dir():
        files = _images(path)
        if not files:
            raise InputError(f"folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        files = files[::every]

        def gen_files():
            for k, f in enumerate(files):
                img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
                if img is not None and img.ndim == 3 and img.shape[2] == 4:
                    img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
                yield Frame(k * every + 1, img, 0.0, str(f))

        return gen_files(), len(files), None
    if path.suffix.lower() in IMAGE_SUFFIXES:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(f"cannot read the image {path} (corrupt or not an image)")
        return iter([Frame(1, img, 0.0, str(path))]), 1, None
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise InputError(f"OpenCV cannot open the video {path} (unreadable, or not a video)")
    ok, first = cap.read()
    if not ok or first is None:
        cap.release()
        raise InputError(f"the video {path} has no readable frame (empty or corrupt)")
    fps = cap.get(cv2.CAP_PROP_FPS) or None
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    total = -(-count // every) if count > 0 else None

    def gen_video():
        try:
            img, i = first, 0
            while True:
                if i % every == 0:
                    yield Frame(i + 1, img, i / fps if fps else float("nan"), str(path))
                i += 1
                if (i % every == 0):
                    ok, img = cap.read()
                else:
                    ok = cap.grab()
                if not ok:
                    break
        finally:
            cap.release()

    return gen_video(), total, fps


def _columns(b: Bundle) -> list[str]:
    codes = [f"AU{c:02d}" for c in b.au_codes]
    au_r = [f"{c}_r" for c in codes] if "au_intensity" in b.card.get("outputs", []) else []
    au_c = [f"{c}_c" for c in codes] if "au_presence" in b.card.get("outputs", []) else []
    return [*LEAD, *BOX, *au_r, *au_c, *b.labels, "emotion", "align", "input"]


class _Runner:
    """Detection, tracking, alignment and batched inference over a stream of frames."""

    def __init__(self, b: Bundle, batch_size: int, redetect: int, detect_width: int,
                 eyes: bool, annotate=None, fps=None):
        self.b, self.batch_size, self.redetect = b, batch_size, redetect
        self.detect_width, self.eyes = detect_width, eyes
        self.tracker = IoUTracker()
        self.rows: list[dict] = []
        self.pending: list[tuple[dict, np.ndarray]] = []
        self.channels = int(b.input_shape[2])
        self.n_faces = 0
        self.writer, self.annotate, self.fps = None, annotate, fps or 25.0
        self.pending_frames: list[tuple[np.ndarray, list[dict]]] = []
        self.since_full = 0
        self.inflight = None
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="fer-apply-predict")

    def frame(self, fr: Frame) -> None:
        base = {"frame": fr.index, "timestamp": fr.timestamp, "input": fr.source}
        if fr.image is None:
            self.rows.append({**base, "face_id": -1, "confidence": 0.0, "success": 0})
            self._keep_frame(None, [])
            return
        img = fr.image
        grey = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        faces = []
        for t in self.tracker.active():
            f = detect.detect_near(grey, t.face)
            if f is not None:
                faces.append(f)
        self.since_full += 1
        if not faces or self.since_full >= self.redetect:
            self.since_full = 0
            faces = detect.dedupe(faces + detect.detect_frame(grey, self.detect_width,
                                                             retry=not faces))
        aligned = [align.align_face(img, grey, f, self.b.crop, self.channels, self.eyes)
                   for f in faces]
        for f, a in zip(faces, aligned, strict=True):
            f.roll = a.roll  # the next frame's search is levelled at this roll
        ids = self.tracker.update(faces)
        frame_rows = []
        for fid, f, a in sorted(zip(ids, faces, aligned, strict=True), key=lambda z: z[0]):
            x, y, w, h = f.box
            row = {**base, "face_id": int(fid), "confidence": round(f.confidence, 3),
                   "success": 1, "face_x": round(x, 1), "face_y": round(y, 1),
                   "face_w": round(w, 1), "face_h": round(h, 1),
                   "pose_Rz": round(float(np.radians(a.roll)), 4), "align": a.method}
            self.rows.append(row)
            self.pending.append((row, a.crop))
            frame_rows.append(row)
            self.n_faces += 1
        if not faces:
            self.rows.append({**base, "face_id": -1, "confidence": 0.0, "success": 0})
        self._keep_frame(img, frame_rows)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def _keep_frame(self, img, rows) -> None:
        if self.annotate is not None and img is not None:
            self.pending_frames.append((img, rows))

    def flush(self, wait: bool = False) -> None:
        """Send the pending faces to the model (in a worker thread, so detection of the next
        frames overlaps inference); fill in the previous batch's predictions."""
        self._collect()
        if self.pending:
            rows = [r for r, _ in self.pending]
            crops = np.stack([c for _, c in self.pending])
            self.inflight = (self.pool.submit(self.b.predict, crops), rows,
                             self.pending_frames)
            self.pending, self.pending_frames = [], []
        elif self.pending_frames:
            self.inflight = (None, [], self.pending_frames)
            self.pending_frames = []
        if wait:
            self._collect()

    def _collect(self) -> None:
        if self.inflight is None:
            return
        future, rows, frames = self.inflight
        self.inflight = None
        if future is not None:
            out = future.result()
            emo = out["emotion"]
            for k, row in enumerate(rows):
                for j, name in enumerate(self.b.labels):
                    row[name] = float(emo[k, j])
                row["emotion"] = self.b.labels[int(emo[k].argmax())]
                for j, c in enumerate(self.b.au_codes):
                    if "au_intensity" in out:
                        row[f"AU{c:02d}_r"] = round(float(np.clip(out["au_intensity"][k, j],
                                                                  0, 5)), 2)
                    if "au_presence" in out:
                        row[f"AU{c:02d}_c"] = float(out["au_presence"][k, j] >= 0.5)
        if self.annotate is not None:
            for img, frame_rows in frames:
                self._draw(img, frame_rows)

    def _draw(self, img, rows) -> None:
        canvas = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img.copy()
        if self.writer is None:
            h, w = canvas.shape[:2]
            self.writer = cv2.VideoWriter(str(self.annotate), cv2.VideoWriter_fourcc(*"mp4v"),
                                          self.fps, (w, h))
            if not self.writer.isOpened():
                raise InputError(f"cannot write the annotated video {self.annotate}")
        for r in rows:
            x, y, w, h = (int(round(r[k])) for k in ("face_x", "face_y", "face_w", "face_h"))
            cv2.rectangle(canvas, (x, y), (x + w, y + h), (0, 200, 0), 2)
            p = max(r[n] for n in self.b.labels)
            cv2.putText(canvas, f"{r['face_id']}: {r['emotion']} {p:.0%}", (x, max(12, y - 6)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 200, 0), 1, cv2.LINE_AA)
        self.writer.write(canvas)

    def close(self) -> None:
        try:
            self.flush(wait=True)
        finally:
            self.pool.shutdown(wait=True)
            if self.writer is not None:
                self.writer.release()


def apply(input, model_dir=None, every: int = 1, batch_size: int = 64, progress: bool = True,
          annotate=None, labels=None, input_scale: str = "0-255", redetect: int = 10,
          detect_width: int = 320, eyes: bool = True) -> pd.DataFrame:
    """Per-frame, per-face emotions (and AUs) of an image, a folder of images or a video.

    Parameters
    ----------
    input : path
        An image file, a folder of images (sorted by name), or a video OpenCV can read.
    model_dir : path or Bundle, optional
        A bundle folder (:func:`~fer_helpers.apply.bundle.export_bundle`), a ``.keras`` /
        Keras 2 ``.h5`` model file of your own, or a loaded bundle; default: the bundle
        ``make book`` leaves under the artifacts folder.
    every : int
        Process every ``every``-th frame (or image) only.
    batch_size : int
        Faces per inference batch.
    progress : bool
        Show a tqdm bar with frames/s (never when the book's runner executes the kernel).
    annotate : path, optional
        Also write the frames with boxes and labels as a video (``mp4v``).
    labels, input_scale
        For a model file without a card: its emotion names in output order (default CK+'s 8
        or FER2013's 7 classes by output size) and how it expects pixels ("0-255", "0-1",
        "-1-1").
    redetect : int
        Search the whole frame for new faces every ``redetect`` processed frames (tracked
        faces are searched near their last place in every frame).
    detect_width : int
        Width of the downscaled copy the whole-frame search runs on.
    eyes : bool
        Use Haar eye detections to refine the alignment (else symmetry and face box only).

    Returns
    -------
    pandas.DataFrame
        Columns as in the module docstring; ``df.attrs["unreadable"]`` lists the files of a
        folder that could not be read (each also has a ``success = 0`` row and a warning).
    """
    from ..book import headless

    b = open_model(model_dir, labels, input_scale)
    frames, total, fps = open_frames(input, every)
    runner = _Runner(b, batch_size, redetect, detect_width, eyes, annotate, fps)
    bar = None
    if progress and not headless():
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="frame", desc=Path(input).name)
    unreadable = []
    try:
        for fr in frames:
            if fr.image is None:
                unreadable.append(fr.source)
                warnings.warn(f"cannot read the image {fr.source} (corrupt or not an image): "
                              f"given a success = 0 row, the other files are processed",
                              stacklevel=2)
            runner.frame(fr)
            if bar is not None:
                bar.update(1)
        runner.close()
    finally:
        if bar is not None:
            bar.close()
    df = pd.DataFrame(runner.rows)
    cols = _columns(b)
    df = df.reindex(columns=cols)
    for c in ("frame", "face_id", "success"):
        df[c] = df[c].astype("int64")
    floats = [c for c in cols if c not in ("frame", "face_id", "success", "emotion", "align",
                                           "input")]
    df[floats] = df[floats].astype("float64")
    df = df.sort_values(["frame", "face_id"], kind="stable", ignore_index=True)
    df.attrs["unreadable"] = unreadable
    df.attrs["faces"] = runner.n_faces
    return df


def write_csv(df: pd.DataFrame, path) -> Path:
    """Write the table as CSV (atomically); :func:`read_csv` reads it back equal."""
    from ..io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return path


def read_csv(path) -> pd.DataFrame:
    """Read a table written by :func:`write_csv` (or an OpenFace CSV: header spaces
    stripped)."""
    df = pd.read_csv(path, skipinitialspace=True)
    df.columns = [c.strip() for c in df.columns]
    return df


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fer_helpers.apply",
                                description="Per-frame emotions (and AUs) of faces in an "
                                            "image, a folder of images or a video.")
    p.add_argument("input", help="image, folder of images, or video file")
    p.add_argument("--model", default=None,
                   help="bundle folder or .keras/.h5 file (default: the bundle `make book` "
                        "exports under artifacts/)")
    p.add_argument("--out", default=None, help="CSV to write")
    p.add_argument("--every", type=int, default=1, help="process every N-th frame")
    p.add_argument("--annotate", default=None, help="write an annotated video (.mp4, mp4v)")
    p.add_argument("--labels", default=None,
                   help="comma-separated emotion names of a model file's outputs")
    p.add_argument("--input-scale", default="0-255", choices=["0-255", "0-1", "-1-1"])
    p.add_argument("--batch-size", type=int, default=64)
    a = p.parse_args(argv)
    t = time.perf_counter()
    try:
        df = apply(a.input, a.model, every=a.every, batch_size=a.batch_size,
                   annotate=a.annotate, input_scale=a.input_scale,
                   labels=a.labels.split(",") if a.labels else None)
    except (InputError, BundleError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    dt = time.perf_counter() - t
    frames = df["frame"].nunique()
    print(f"{frames} frames, {int(df['success'].sum())} faces found, "
          f"{df.loc[df.success == 1, 'face_id'].nunique()} face ids, {dt:.1f} s")
    if a.out:
        write_csv(df, a.out)
        print(f"wrote {a.out}")
    else:
        print(df.head(20).to_string())
    return 0
