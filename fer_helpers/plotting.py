"""Plotly figures for the book. Functions take arrays/DataFrames and return figures.

Images are embedded as PNG (``binary_string``), so pages stay small and render offline.
"""

from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go

SYNTHETIC_NOTE = "SynthFACS (synthetic data)"


def tile(images: np.ndarray, cols: int, pad: int = 2, fill: int = 255) -> np.ndarray:
    """Arrange ``(n, H, W[, 3])`` images on a grid of ``cols`` columns."""
    images = np.asarray(images)
    n, h, w = images.shape[:3]
    rows = int(np.ceil(n / cols))
    shape = (rows * (h + pad) - pad, cols * (w + pad) - pad, *images.shape[3:])
    out = np.full(shape, fill, images.dtype)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = im
    return out


def image_grid(images, cols: int, title: str = "", row_labels=None, col_labels=None,
               scale: float = 2.0, pad: int = 2, max_width: int = 680) -> go.Figure:
    """Show images as one grid picture, with optional row and column labels.

    ``scale`` is screen pixels per image pixel, reduced so the figure fits ``max_width``.
    """
    images = np.asarray(images)
    h, w = images.shape[1:3]
    grid = tile(images, cols, pad)
    fig = px.imshow(grid, binary_string=True, binary_format="png")
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    if col_labels is not None:
        fig.update_xaxes(showticklabels=True, side="top", tickmode="array",
                         tickvals=[c * (w + pad) + w / 2 for c in range(len(col_labels))],
                         ticktext=list(col_labels))
    if row_labels is not None:
        fig.update_yaxes(showticklabels=True, tickmode="array",
                         tickvals=[r * (h + pad) + h / 2 for r in range(len(row_labels))],
                         ticktext=list(row_labels))
    left = 150 if row_labels is not None else 10
    scale = min(scale, (max_width - left - 20) / grid.shape[1])
    fig.update_layout(title=title, width=int(grid.shape[1] * scale) + left + 20,
                      height=int(grid.shape[0] * scale) + 90,
                      margin={"l": left, "r": 10, "t": 70, "b": 10})
    return fig


def overlay(image: np.ndarray, mask: np.ndarray, colour=(255, 60, 60), alpha=0.45):
    """Tint ``mask`` pixels of a grey image; returns RGB uint8."""
    rgb = np.repeat(np.asarray(image, np.float32)[..., None], 3, axis=2)
    m = np.asarray(mask, bool)
    rgb[m] = (1 - alpha) * rgb[m] + alpha * np.asarray(colour, np.float32)
    return rgb.astype(np.uint8)


def landmarks_figure(image: np.ndarray, landmarks: np.ndarray, title: str = "",
                     width: int = 420) -> go.Figure:
    """A grey image with its 68 landmarks numbered on hover."""
    fig = px.imshow(image, binary_string=True)
    fig.add_trace(go.Scatter(x=landmarks[:, 0], y=landmarks[:, 1], mode="markers",
                             marker={"size": 4, "color": "#e4572e"},
                             text=[f"landmark {i}" for i in range(len(landmarks))],
                             hoverinfo="text", showlegend=False))
    h, w = image.shape[:2]
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    fig.update_layout(title=title, width=width, height=int(width * h / w) + 60,
                      margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def picture_explorer(pictures: dict[str, list[np.ndarray]], step_labels, title: str = "",
                     step_name: str = "intensity", size: int = 320) -> go.Figure:
    """A dropdown over ``pictures`` keys and a slider over each key's pictures.

    Everything is precomputed and switched client-side, so it works in the static book.
    """
    fig = go.Figure()
    keys = list(pictures)
    spans, k = {}, 0
    for key in keys:
        spans[key] = range(k, k + len(pictures[key]))
        for pic in pictures[key]:
            trace = px.imshow(pic, binary_string=True).data[0]
            trace.visible = False
            fig.add_trace(trace)
            k += 1
    n = k

    def visible(key, j):
        v = [False] * n
        v[spans[key][j]] = True
        return v

    def slider(key, active):
        steps = [{"label": str(lbl), "method": "update", "args": [{"visible": visible(key, j)}]}
                 for j, lbl in enumerate(step_labels)]
        return {"active": active, "steps": steps, "currentvalue": {"prefix": f"{step_name}: "},
                "pad": {"t": 10}}

    last = len(step_labels) - 1
    first = keys[0]
    for i in spans[first]:
        fig.data[i].visible = i == spans[first][last]
    buttons = [{"label": key, "method": "update",
                "args": [{"visible": visible(key, last)}, {"sliders": [slider(key, last)]}]}
               for key in keys]
    fig.update_layout(title=title, width=size + 40, height=size + 180,
                      updatemenus=[{"buttons": buttons, "x": 0, "y": 1.12, "xanchor": "left",
                                    "direction": "down"}],
                      sliders=[slider(first, last)], margin={"l": 20, "r": 20, "t": 90, "b": 10})
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    return fig


def learning_curves(histories: dict, title: str = "") -> go.Figure:
    """Validation (solid) and training (dotted) accuracy per epoch, one colour per fold,
    one panel per model. ``histories`` maps a model name to a long DataFrame with columns
    fold, epoch, accuracy, val_accuracy."""
    import pandas as pd

    frames = []
    for name, h in histories.items():
        for col, split in (("val_accuracy", "validation (training subjects)"),
                           ("accuracy", "training (augmented)")):
            frames.append(pd.DataFrame({"model": name, "fold": h["fold"].astype(str),
                                        "epoch": h["epoch"] + 1, "accuracy": h[col],
                                        "split": split}))
    df = pd.concat(frames, ignore_index=True)
    fig = px.line(df, x="epoch", y="accuracy", color="fold", line_dash="split",
                  facet_col="model", title=title)
    fig.update_yaxes(range=[0, 1.02])
    return fig


def confusion_heatmap(cm, title: str = "") -> go.Figure:
    """A confusion matrix (DataFrame, rows true, columns predicted) as row shares."""
    shares = cm.div(cm.sum(axis=1).replace(0, 1), axis=0)
    fig = px.imshow(shares, text_auto=".2f", zmin=0, zmax=1, color_continuous_scale="Blues",
                    labels={"x": "predicted", "y": "true", "color": "share of row"},
                    title=title)
    fig.update_layout(width=620, height=560)
    return fig


def score_by_clips(curve: dict, points: dict, lines: dict, score: str = "UF1",
                   title: str = "") -> go.Figure:
    """Scores against the number of training clips: ``curve`` {name: [(clips, score), ...]}
    as lines with markers, ``points`` {name: (clips, score)} as single markers, and
    ``lines`` {name: score} as dashed horizontal references (ceilings, baselines); log x."""
    fig = go.Figure()
    for name, xy in curve.items():
        x, y = zip(*xy, strict=True)
        fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines+markers",
                                 marker={"size": 10}))
    for name, (x, y) in points.items():
        fig.add_trace(go.Scatter(x=[x], y=[y], name=name, mode="markers",
                                 marker={"size": 11, "symbol": "diamond"}))
    for name, y in lines.items():
        fig.add_hline(y=y, line={"dash": "dash", "color": "#888"}, annotation_text=name,
                      annotation_position="top right")
    fig.update_layout(title=title, xaxis={"title": "training clips", "type": "log"},
                      yaxis={"title": score, "range": [0, 1.05], "tickformat": ".0%"},
                      width=720, height=460, legend={"orientation": "h", "y": -0.25})
    return fig


def gradient_overlay(image: np.ndarray, gradient: np.ndarray, alpha: float = 0.75):
    """A grey image with the magnitude of a gradient picture in red (RGB uint8).

    The magnitude is scaled by its 99.5th percentile, so one bright pixel does not hide the
    rest.
    """
    g = np.abs(np.asarray(gradient, np.float32))
    if g.ndim == 3:
        g = g.sum(axis=-1)
    top = np.percentile(g, 99.5)
    w = np.clip(g / top, 0, 1) if top > 0 else np.zeros_like(g)
    rgb = np.repeat(np.asarray(image, np.float32).reshape(g.shape)[..., None], 3, axis=2) * 0.8
    red = np.array([255.0, 40.0, 40.0], np.float32)
    rgb = (1 - alpha * w[..., None]) * rgb + alpha * w[..., None] * red
    return rgb.clip(0, 255).astype(np.uint8)


def apply_timeline(df, emotions=None, face_id=None, title: str = "") -> go.Figure:
    """Emotion probabilities (top) and AU intensities (bottom) over time, per face, from a
    table of :func:`fer_helpers.apply.apply`; a dropdown picks the face."""
    from plotly.subplots import make_subplots

    found = df[df["success"] == 1]
    skip = {"frame", "face_id", "timestamp", "confidence", "success", "face_x", "face_y",
            "face_w", "face_h", "pose_Rz", "emotion", "align", "input"}
    emotions = list(emotions) if emotions is not None else [
        c for c in df.columns if c not in skip and not c.startswith("AU")]
    aus = [c for c in df.columns if c.startswith("AU") and c.endswith("_r")]
    ids = sorted(found["face_id"].unique()) if face_id is None else [face_id]
    x = "timestamp" if df["timestamp"].notna().all() and df["timestamp"].max() > 0 else "frame"
    rows = 2 if aus else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=["emotion probability"] + (["AU intensity"] if aus
                                                                  else []))
    owner = []
    for fid in ids:
        g = found[found["face_id"] == fid]
        for e in emotions:
            fig.add_trace(go.Scatter(x=g[x], y=g[e], name=e, mode="lines",
                                     legendgroup="emotion", visible=fid == ids[0]), 1, 1)
            owner.append(fid)
        for a in aus:
            fig.add_trace(go.Scatter(x=g[x], y=g[a], name=a[:-2], mode="lines",
                                     legendgroup="au", visible=fid == ids[0]), 2, 1)
            owner.append(fid)
    if len(ids) > 1:
        fig.update_layout(updatemenus=[{"buttons": [
            {"label": f"face {fid}", "method": "update",
             "args": [{"visible": [o == fid for o in owner]}]} for fid in ids],
            "x": 1.0, "y": 1.15, "xanchor": "right"}])
    fig.update_yaxes(range=[0, 1], row=1, col=1)
    if aus:
        fig.update_yaxes(range=[0, 5], row=2, col=1)
    fig.update_xaxes(title_text="seconds" if x == "timestamp" else "frame", row=rows, col=1)
    fig.update_layout(title=title or f"per-frame predictions, face {ids[0] if ids else '-'}",
                      height=300 + 220 * (rows - 1), margin={"t": 80})
    return fig
