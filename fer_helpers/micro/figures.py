"""Chapter 6's figures and listings: a clip's motion signal beside its coded onset, apex and
offset, the apex - onset difference, a few lines of a CASME II tree, and the clip to show."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .model import GAIN


def motion_signal(frames: np.ndarray) -> np.ndarray:
    """Mean absolute grey-level difference of each frame from the clip's first frame."""
    f = np.asarray(frames, np.float32)
    return np.abs(f - f[:1]).mean(axis=(1, 2))


def envelope_figure(clip, truth_row=None, title: str = ""):
    """A clip's measured motion signal with its coded onset, apex and offset (plotly).

    ``truth_row``: a row of ``synthfacs_truth.csv`` adds the generator's intensity envelope
    (SynthFACS only; real clips have none).
    """
    import plotly.graph_objects as go

    from ..datasets import read_clip

    frames = read_clip(clip)
    numbers = np.arange(clip.first, clip.last + 1)
    sig = motion_signal(frames)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=numbers, y=sig, name="mean |frame - first frame| (grey levels)",
                             mode="lines"))
    if truth_row is not None:
        from ..synth.micro import envelope

        env = envelope(len(numbers), int(truth_row["onset"]) - clip.first,
                       int(truth_row["apex"]) - clip.first,
                       int(truth_row["offset"]) - clip.first)
        fig.add_trace(go.Scatter(x=numbers, y=env, name="generator's AU scale (0-1)",
                                 mode="lines", line={"dash": "dot"}, yaxis="y2"))
        fig.update_layout(yaxis2={"title": "AU scale", "overlaying": "y", "side": "right",
                                  "range": [0, 1.05]})
    apex = clip.apex if clip.apex is not None else (clip.onset + clip.offset) // 2
    for name, n, colour in (("onset", clip.onset, "#2a9d8f"), ("apex", apex, "#e76f51"),
                            ("offset", clip.offset, "#264653")):
        label = name + (" (sheet: /, middle used)" if name == "apex" and clip.apex is None
                        else "")
        fig.add_vline(x=n, line={"color": colour, "dash": "dash"}, annotation_text=label,
                      annotation_position="top")
    fig.update_layout(title=title, xaxis_title="frame number (img{n}.jpg, 200 fps)",
                      yaxis_title="grey levels", width=720, height=420,
                      legend={"orientation": "h", "y": -0.25})
    return fig


def apex_difference(clip, gain: float = GAIN, size: int | None = None) -> np.ndarray:
    """``(3, H, W)`` uint8: onset frame, apex frame, and ``|apex - onset|`` times ``gain``."""
    from ..datasets import read_key_frames

    key = read_key_frames(clip, size, apex_fallback="middle").astype(np.float32)
    diff = np.clip(np.abs(key[1] - key[0]) * gain, 0, 255)
    return np.stack([key[0], key[1], diff]).astype(np.uint8)


def tree(root, clips: int = 2, frames: int = 3) -> str:
    """A few lines of a CASME II tree: the top level, then the first frames of some clips."""
    root = Path(root)
    lines = [f"{root.name}/"]
    for p in sorted(root.iterdir()):
        if p.name.startswith("."):
            continue
        lines.append(f"  {p.name}{'/' if p.is_dir() else ''}")
        if not p.is_dir():
            continue
        subjects = sorted(d for d in p.iterdir() if d.is_dir())
        shown = 0
        for sub in subjects:
            for clip in sorted(d for d in sub.iterdir() if d.is_dir()):
                if shown == clips:
                    break
                names = sorted((f.name for f in clip.iterdir()),
                               key=lambda n: int("".join(filter(str.isdigit, n)) or 0))
                more = f", ... {names[-1]} ({len(names)} frames)" if len(names) > frames else ""
                lines.append(f"    {sub.name}/{clip.name}/: {', '.join(names[:frames])}{more}")
                shown += 1
        lines.append(f"    ... {len(subjects)} subject folders")
    return "\n".join(lines)


def example_clip(ds, root, emotion: str = "happiness"):
    """A clip to show: the first of ``emotion`` with a numeric apex (else the first with one),
    and its SynthFACS ground-truth row (``None`` for real data)."""
    clips = [c for c in ds.clips if c.apex is not None] or list(ds.clips)
    clip = next((c for c in clips if c.emotion == emotion), clips[0])
    truth_path = Path(root) / "synthfacs_truth.csv"
    if not truth_path.is_file():
        return clip, None
    truth = pd.read_csv(truth_path, dtype={"subject": str})
    row = truth[(truth["subject"] == clip.subject) & (truth["filename"] == clip.episode)]
    return clip, (row.iloc[0] if len(row) else None)
