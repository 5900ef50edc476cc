"""The live filter explorer steps through active filters only, without a display."""

from __future__ import annotations

import ipywidgets
import numpy as np
import pytest

from fer_helpers import book, models, widgets


def test_next_active_wraps_and_skips_dead_filters():
    active = [2, 5, 9]
    assert widgets.next_active(active, 0) == 2
    assert widgets.next_active(active, 2) == 5
    assert widgets.next_active(active, 9) == 2  # wraps
    assert widgets.next_active(active, 2, -1) == 9  # wraps backwards
    assert widgets.next_active(active, 7, -1) == 5  # from a dead filter
    assert widgets.next_active([], 3) is None


def _all(w):
    yield w
    for child in getattr(w, "children", ()):
        yield from _all(child)


@pytest.fixture
def model_with_dead_filters():
    m = models.paper_cnn((48, 48, 1), 8)
    w, b = m.get_layer("conv3").get_weights()
    active = [3, 8, 11, 40, 200]
    dead = [f for f in range(256) if f not in active]
    w[..., dead] = 0.0
    b[dead] = -1.0  # ReLU(-1) = 0 everywhere: these filters never fire
    b[active] = 1.0  # and these fire on any image
    m.get_layer("conv3").set_weights([w, b])
    return m, active


def test_explorer_steps_through_active_filters(model_with_dead_filters, monkeypatch):
    monkeypatch.delenv(book.HEADLESS_ENV, raising=False)
    model, active = model_with_dead_filters
    images = np.random.default_rng(0).integers(0, 256, (12, 48, 48)).astype(np.uint8)
    ui = widgets.filter_explorer(model, images, layers=["conv3"], n_max=2)
    parts = list(_all(ui))
    by = {getattr(w, "description", None): w for w in parts}
    slider, menu = by["filter"], by["active"]
    nxt, prev = by["next active"], by["previous active"]
    label = next(w for w in parts if isinstance(w, ipywidgets.Label))
    # the whole layer stays reachable on the slider; the menu lists the active filters only
    assert slider.max == 255 and [v for _, v in menu.options] == active
    assert label.value == f"{len(active)} of 256 filters active"
    assert slider.value == active[0] and menu.value == active[0]  # starts on an active filter
    seen = [slider.value]
    for _ in range(len(active)):
        nxt.click()
        seen.append(slider.value)
    assert seen[:-1] == active and seen[-1] == active[0]  # every active one, then wraps
    prev.click()
    assert slider.value == active[-1] and menu.value == active[-1]
    menu.value = active[3]
    assert slider.value == active[3]
    slider.value = 100  # a dead filter: the menu shows none, next goes to the next active one
    assert menu.value is None
    nxt.click()
    assert slider.value == 200 and menu.value == 200


def test_explorer_headless_returns_its_note(model_with_dead_filters, monkeypatch):
    monkeypatch.setenv(book.HEADLESS_ENV, "1")
    model, _ = model_with_dead_filters
    note = widgets.filter_explorer(model, np.zeros((2, 48, 48), np.uint8))
    assert type(note).__name__ == "Markdown" and "runs in JupyterLab" in note.data
