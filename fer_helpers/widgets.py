"""ipywidgets for JupyterLab. Only client-side widgets (tabs, images, jslink) keep working
in the published static book; widgets with Python callbacks work in JupyterLab only.
"""

from __future__ import annotations

import cv2
import ipywidgets as widgets
import numpy as np

from .book import headless
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


def next_active(active, current: int, step: int = 1) -> int | None:
    """The active filter after (``step`` > 0) or before (``step`` < 0) filter ``current``,
    wrapping around at the ends; ``None`` when no filter is active."""
    active = np.sort(np.asarray(active, dtype=int))
    if not len(active):
        return None
    if step > 0:
        later = active[active > current]
        return int(later[0] if len(later) else active[0])
    earlier = active[active < current]
    return int(earlier[-1] if len(earlier) else active[-1])


def filter_explorer(model, images: np.ndarray, layers=None, n_max: int = 16):
    """JupyterLab explorer: layer, filter, method, number of images, overlay on/off.

    The filter slider spans every filter of the layer (256 in ``conv3``, most of them dead on
    small data); the *active* menu and the *previous / next active* buttons step through the
    filters that fire on ``images`` only.

    It recomputes pictures in Python on every change, so it works in a live kernel only; the
    published book shows the static explorer of :func:`fer_helpers.plotting.picture_explorer`.

    Under the book's headless runner (:func:`fer_helpers.book.headless`) it builds no widget
    and returns a note saying where it works. The live explorer draws through an ``Output``
    widget, and executing ``Output``-widget capture headless can leave nbclient waiting for
    ever on an idle kernel (jupyter/nbclient#312, papermill#723; seen here in 1 of 4 runs on busy
    cores). A widget nobody can move has no place in the static book anyway.
    """
    from IPython.display import Markdown, display

    if headless():
        return Markdown("*The live explorer runs in JupyterLab: open this notebook there and "
                        "run this cell. The book was executed headless, so it shows the "
                        "static explorer above instead.*")

    from . import plotting, visualize

    layers = layers or visualize.conv_layer_names(model)
    methods = {"guided backprop": visualize.GuidedBackprop, "deconvnet": visualize.Deconvnet,
               "saliency": visualize.Saliency}
    cache = {}
    w_layer = widgets.Dropdown(options=layers, value=layers[-1], description="layer")
    w_filter = widgets.IntSlider(0, 0, 255, description="filter",
                                 layout=widgets.Layout(width="420px"))
    w_method = widgets.Dropdown(options=list(methods), description="method")
    w_n = widgets.IntSlider(6, 1, n_max, description="images")
    w_overlay = widgets.Checkbox(True, description="overlay")
    w_active = widgets.Dropdown(options=[], description="active",
                                layout=widgets.Layout(width="180px"))
    w_prev = widgets.Button(description="previous active", icon="chevron-left")
    w_next = widgets.Button(description="next active", icon="chevron-right")
    w_count = widgets.Label()
    out = widgets.Output()
    state = {"active": np.zeros(0, int), "quiet": False}

    def top_for(layer):
        if layer not in cache:
            cache[layer] = visualize.TopActivations(model, layer, n=n_max)(images)
        return cache[layer]

    def draw():
        idx = top_for(w_layer.value).index[w_filter.value][:w_n.value]
        idx = idx[idx >= 0]
        out.clear_output(wait=True)
        with out:
            if not len(idx):
                print(f"filter {w_filter.value} of {w_layer.value} never fires on these images")
                return
            pics = methods[w_method.value](model, w_layer.value)(images[idx], w_filter.value)
            if w_overlay.value:
                tiles = [plotting.gradient_overlay(images[i], p) for i, p in zip(idx, pics,
                                                                                  strict=True)]
            else:  # the gradient magnitude alone, as a grey picture
                mag = np.abs(pics).sum(axis=-1)
                grey = (mag / max(float(mag.max()), 1e-12) * 255).astype(np.uint8)
                tiles = list(np.repeat(grey[..., None], 3, axis=-1))
            display(plotting.image_grid(np.stack(tiles), cols=min(6, len(tiles)),
                                        title=f"{w_method.value}: {w_layer.value} filter "
                                              f"{w_filter.value}"))

    def quietly(fn):
        state["quiet"] = True
        try:
            fn()
        finally:
            state["quiet"] = False

    def sync_menu():
        f = w_filter.value
        w_active.value = f if f in state["active"] else None

    def on_layer(*_):
        top = top_for(w_layer.value)
        active = np.flatnonzero(top.max_activation > 0)
        state["active"] = active

        def reset():
            w_filter.max = len(top.index) - 1
            w_active.options = [(str(f), int(f)) for f in active]
            if len(active) and w_filter.value not in active:
                w_filter.value = int(active[0])
            sync_menu()

        quietly(reset)
        w_count.value = f"{len(active)} of {len(top.index)} filters active"
        w_prev.disabled = w_next.disabled = not len(active)
        draw()

    def on_filter(*_):
        if not state["quiet"]:
            quietly(sync_menu)
            draw()

    def on_menu(change):
        if not state["quiet"] and change["new"] is not None:
            w_filter.value = change["new"]

    def step(k):
        f = next_active(state["active"], w_filter.value, k)
        if f is not None:
            w_filter.value = f

    w_layer.observe(on_layer, names="value")
    w_filter.observe(on_filter, names="value")
    w_active.observe(on_menu, names="value")
    for w in (w_method, w_n, w_overlay):
        w.observe(lambda *_: state["quiet"] or draw(), names="value")
    w_prev.on_click(lambda _: step(-1))
    w_next.on_click(lambda _: step(+1))
    on_layer()
    return widgets.VBox([widgets.HBox([w_layer, w_method, w_overlay]),
                         widgets.HBox([w_filter, w_n]),
                         widgets.HBox([w_prev, w_active, w_next, w_count]), out])
