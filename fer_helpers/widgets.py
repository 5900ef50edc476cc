"""ipywidgets for JupyterLab. Only client-side widgets (tabs, images, jslink) keep working
in the published static book; widgets with Python callbacks work in JupyterLab only.
"""

from __future__ import annotations

import cv2
import ipywidgets as widgets
import numpy as np

from .plotting import tile


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("could not encode image as PNG")
    return buf.tobytes()


def image_tabs(groups: dict[str, np.ndarray], cols: int = 8, zoom: int = 2) -> widgets.Tab:
    """One tab per group, each showing the group's images as a grid (client-side only)."""
    children = []
    for imgs in groups.values():
        grid = tile(np.asarray(imgs), cols)
        big = cv2.resize(grid, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
        children.append(widgets.Image(value=_png(big), format="png"))
    tab = widgets.Tab(children=children)
    for i, name in enumerate(groups):
        tab.set_title(i, name)
    return tab
