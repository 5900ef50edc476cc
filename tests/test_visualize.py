"""Filter visualisation: exact gradients on a toy model, batching, top-N, foreign models."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from fer_helpers import models, visualize


def toy():
    """x (4x4x1) -> 1x1 conv (2 filters) -> ReLU -> 1x1 conv (1 filter) = layer 'top'."""
    inp = keras.Input((4, 4, 1))
    h = layers.Conv2D(2, 1, name="c1")(inp)
    h = layers.ReLU(name="r1")(h)
    out = layers.Conv2D(1, 1, name="top")(h)
    m = keras.Model(inp, out)
    m.get_layer("c1").set_weights([np.array([1.0, -2.0]).reshape(1, 1, 1, 2),
                                   np.array([0.5, 3.0])])
    m.get_layer("top").set_weights([np.array([2.0, -1.0]).reshape(1, 1, 2, 1), np.zeros(1)])
    return m


def by_hand(x, rule):
    """The same gradient computed by hand for one image."""
    w1, b1, w2 = np.array([1.0, -2.0]), np.array([0.5, 3.0]), np.array([2.0, -1.0])
    z1 = x[..., None] * w1 + b1  # (4, 4, 2)
    top = np.maximum(z1, 0) @ w2  # (4, 4)
    g = np.zeros_like(x)
    if top.max() <= 0:
        return g
    r, c = np.unravel_index(np.argmax(top), top.shape)
    up = w2.copy()  # d top / d relu1 output at the argmax
    if rule == "guided":
        up = up * (up > 0) * (z1[r, c] > 0)
    elif rule == "deconvnet":
        up = up * (up > 0)
    else:
        up = up * (z1[r, c] > 0)
    g[r, c] = (up * w1).sum()
    return g


@pytest.mark.parametrize("method,rule", [(visualize.GuidedBackprop, "guided"),
                                         (visualize.Deconvnet, "deconvnet"),
                                         (visualize.Saliency, "saliency")])
def test_gradient_matches_hand_computation(method, rule):
    rng = np.random.default_rng(0)
    xs = rng.uniform(-2, 3, (6, 4, 4)).astype(np.float32)
    got = method(toy(), "top")(xs, 0)[..., 0]
    for x, g in zip(xs, got, strict=True):
        np.testing.assert_allclose(g, by_hand(x, rule), rtol=1e-6, atol=1e-6)
    assert np.abs(got).sum() > 0  # not vacuous


def test_the_callers_model_is_not_changed():
    m = models.paper_cnn((16, 16, 1), 3)
    x = np.random.default_rng(1).uniform(0, 255, (3, 16, 16, 1)).astype(np.float32)
    before = np.asarray(m(x))
    weights = [w.copy() for w in m.get_weights()]
    visualize.GuidedBackprop(m, "conv2")(x, 1)
    assert all(type(m.get_layer(n)) is layers.ReLU for n in ("relu1", "relu2", "relu3"))
    np.testing.assert_array_equal(np.asarray(m(x)), before)
    for a, b in zip(weights, m.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fast", [True, False])
def test_batched_pairs_equal_the_one_pair_loop(fast):
    m = models.paper_cnn((24, 24, 1), 4)
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 255, (10, 24, 24)).astype(np.float32)
    f = rng.integers(0, 256, 10)
    gb = visualize.GuidedBackprop(m, "conv3", batch_size=10, fast=fast)
    single = visualize.GuidedBackprop(m, "conv3", batch_size=1, fast=fast)
    batched = gb(x, f)
    loop = np.concatenate([single(x[i:i + 1], f[i]) for i in range(10)])
    np.testing.assert_allclose(batched, loop, rtol=1e-5, atol=1e-6 * np.abs(loop).max())
    units = np.concatenate([single.units(x[i:i + 1], f[i]) for i in range(10)])
    np.testing.assert_array_equal(gb.units(x, f), units)
    # the unit is the first maximum of the pair's rectified map, for the image alone
    feature = keras.Model(m.input, m.get_layer("conv3").output)
    for i in range(10):
        a = np.maximum(np.asarray(feature(x[i:i + 1, ..., None]))[0, ..., f[i]], 0)
        want = np.unravel_index(np.argmax(a), a.shape) if a.max() > 0 else (-1, -1)
        assert tuple(units[i]) == tuple(want)


@keras.saving.register_keras_serializable(package="tests")
class BatchSizeRounding(layers.Dropout):
    """Identity, but for a nudge at pixel (1, 1) whose sign depends on the batch size: a
    stand-in for convolution kernels that round an image's activations differently in a batch
    of one and in a larger one (oneDNN on AVX-512 does), which decides near-ties."""

    def __init__(self, rate=0.0, **kwargs):
        super().__init__(rate, **kwargs)

    def call(self, inputs, training=False):
        sign = tf.where(tf.shape(inputs)[0] > 1, 1.0, -1.0)
        nudge = np.zeros((1, 4, 4, 1), np.float32)
        nudge[0, 1, 1, 0] = 1e-6
        return inputs + sign * nudge


@pytest.mark.parametrize("fast", [True, False])
def test_near_ties_are_decided_the_same_whatever_shares_the_batch(fast):
    """Pixels (0, 0) and (1, 1) of image 0 tie, up to a nudge whose sign depends on the batch
    size. Batched with another image or alone, the pair must pick the same unit and give the
    same picture (before the fix, a batch of two picked (1, 1), the one-pair loop (0, 0))."""
    inp = keras.Input((4, 4, 1))
    top = layers.Conv2D(1, 1, name="top")
    m = keras.Model(inp, top(BatchSizeRounding()(inp)))
    top.set_weights([np.ones((1, 1, 1, 1)), np.zeros(1)])
    x = np.zeros((2, 4, 4), np.float32)
    x[0, 0, 0] = x[0, 1, 1] = 1.0
    x[1, 2, 3] = 0.5
    gb = visualize.GuidedBackprop(m, "top", fast=fast)
    assert gb.fast == fast
    together, units = gb(x, 0), gb.units(x, 0)
    for i in range(2):
        np.testing.assert_array_equal(together[i], gb(x[i:i + 1], 0)[0])
        np.testing.assert_array_equal(units[i], gb.units(x[i:i + 1], 0)[0])
    assert units.tolist() == [[0, 0], [2, 3]] and together[0, 0, 0, 0] == 1.0


def test_the_fast_path_decides_on_each_images_own_activations():
    """The activations the chain path takes its decisions on (ReLU masks, pooling switches,
    the unit) are, bit for bit, those of each image forwarded alone, as the one-pair loop
    forwards it; a batched forward rounds differently on some CPUs (AVX-512: ~5e-7)."""
    m = models.paper_cnn((24, 24, 1), 4)
    x = np.random.default_rng(5).uniform(0, 255, (6, 24, 24, 1)).astype(np.float32)
    gb = visualize.GuidedBackprop(m, "conv3")
    _, act = gb._chain._forward(tf.constant(x))
    alone = np.concatenate([np.maximum(np.asarray(gb.feature(x[i:i + 1])), 0)
                            for i in range(6)])
    np.testing.assert_array_equal(np.asarray(act), alone)


def plain_chain():
    """A conv/ReLU/pool chain with the other supported layers: rescaling, a strided and a
    'valid' convolution, an Activation('relu'), dropout."""
    inp = keras.Input((20, 20, 1))
    x = layers.Rescaling(1 / 255.0)(inp)
    x = layers.Conv2D(6, 3, strides=2, padding="same", name="c1")(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(0.3)(x)
    x = layers.MaxPooling2D(2, strides=1)(x)
    x = layers.Conv2D(5, 3, padding="valid", name="c2")(x)
    return keras.Model(inp, layers.ReLU()(x))


@pytest.mark.parametrize("method", [visualize.GuidedBackprop, visualize.Deconvnet,
                                    visualize.Saliency])
@pytest.mark.parametrize("build,layer", [(lambda: models.paper_cnn((24, 24, 1), 4), "conv3"),
                                         (lambda: models.paper_cnn((24, 24, 1), 4), "conv2"),
                                         (plain_chain, "c2")])
def test_fast_chain_path_equals_automatic_differentiation(method, build, layer):
    m = build()
    rng = np.random.default_rng(4)
    images = rng.uniform(0, 255, (5, *m.input.shape[1:])).astype(np.float32)
    which = rng.integers(0, 5, 40)  # repeated images: each is forwarded once
    f = rng.integers(0, m.get_layer(layer).filters, 40)
    fast, slow = method(m, layer, batch_size=16), method(m, layer, fast=False)
    assert fast.fast and not slow.fast
    a, b = fast(images[which], f), slow(images[which], f)
    assert np.abs(b).sum() > 0
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * np.abs(b).max())


def test_top_activations_on_a_known_table():
    """A 1x1 conv copying the pixel: filter 0's activation = brightest pixel, filter 1's =
    the negated darkest pixel (rectified)."""
    inp = keras.Input((3, 3, 1))
    m = keras.Model(inp, layers.Conv2D(2, 1, use_bias=False, name="c")(inp))
    m.get_layer("c").set_weights([np.array([1.0, -1.0]).reshape(1, 1, 1, 2)])
    x = np.zeros((7, 3, 3), np.float32)
    peaks = [3, 9, 1, 7, 5, 2, 8]
    for i, v in enumerate(peaks):
        x[i, i % 3, (i * 2) % 3] = v
    top = visualize.TopActivations(m, "c", n=3, batch_size=2)(x)  # streamed in 4 batches
    assert top.index[0].tolist() == [1, 6, 3] and top.value[0].tolist() == [9, 8, 7]
    assert top.location[0, 0].tolist() == [1, 2]  # image 1: row 1, col 2
    np.testing.assert_allclose(top.location_input[0, 0], [1.5, 2.5])
    assert np.isnan(top.value[1]).all() and (top.index[1] == -1).all()
    c = visualize.census(top)
    assert c["active"].tolist() == [True, False]  # filter 1 never fires: dead
    assert top.active_share.tolist() == [1.0, 0.0] and top.n_images == 7


def foreign_model():
    inp = keras.Input((20, 20, 3), name="rgb")
    x = layers.Conv2D(8, 3, padding="same", name="stem")(inp)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.Activation("relu", name="act")(x)
    y = layers.SeparableConv2D(8, 3, padding="same", activation="relu", name="sep")(x)
    x = layers.Add(name="residual")([x, y])
    x = layers.MaxPooling2D(name="pool")(x)
    x = layers.Conv2D(4, 3, activation="relu", name="head_conv")(x)
    out = layers.Dense(3, activation="softmax", name="out")(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inp, out, name="foreign")


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_foreign_models_loaded_from_disk(tmp_path, suffix):
    m = foreign_model()
    m.get_layer("bn").set_weights([np.full(8, 1.5), np.full(8, 0.1), np.full(8, 0.2),
                                   np.full(8, 2.0)])
    path = tmp_path / f"model{suffix}"
    m.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    x = np.random.default_rng(3).uniform(0, 1, (4, 20, 20, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(m(x)), rtol=1e-5)
    assert visualize.conv_layer_names(loaded) == ["stem", "sep", "head_conv"]
    for layer in ("sep", "head_conv"):
        gb = visualize.GuidedBackprop(loaded, layer)
        assert not gb.fast  # batch norm and a residual add: automatic differentiation
        g = gb(x, [0, 1, 2, 3])
        assert g.shape == x.shape and np.isfinite(g).all() and np.abs(g).sum() > 0
    top = visualize.TopActivations(loaded, "sep", n=2)(x)
    assert top.index.shape == (8, 2)
    with pytest.raises(ValueError, match=r"no layer 'conv9'.*\['stem', 'sep', 'head_conv'\]"):
        visualize.GuidedBackprop(loaded, "conv9")
    with pytest.raises(ValueError, match="BatchNormalization, not convolutional"):
        visualize.Deconvnet(loaded, "bn")
