import keras
import numpy as np
import pytest

from fer_helpers import models


def test_paper_cnn_structure():
    m = models.paper_cnn((48, 48, 1), 8)
    names = [layer.name for layer in m.layers]
    for n in ("conv1", "conv2", "conv3", "fc1", "output", "dropout_conv", "dropout_fc"):
        assert n in names
    assert [m.get_layer(n).filters for n in models.CONV_LAYERS] == [64, 128, 256]
    assert all(m.get_layer(n).kernel_size == (5, 5) for n in models.CONV_LAYERS)
    assert m.get_layer("fc1").units == 512 and m.get_layer("output").units == 8
    assert m.get_layer("dropout_conv").rate == 0.25 and m.get_layer("dropout_fc").rate == 0.5
    assert m.count_params() == 5_749_256
    assert m.output.shape == (None, 8)


def test_zero_bias_variant_has_no_bias():
    m = models.zero_bias_cnn((48, 48, 1), 8)
    assert not any("bias" in w.path for w in m.weights)
    assert m.get_layer("fc1").units == 300


def test_forward_flops_by_hand():
    m = models.paper_cnn((16, 16, 1), 3)
    conv = 2 * 25 * (1 * 64 * 16 * 16 + 64 * 128 * 8 * 8 + 128 * 256 * 4 * 4)
    dense = 2 * (256 * 2 * 2 * 512 + 512 * 3)
    assert models.forward_flops(m) == conv + dense


def test_each_image_is_standardized_and_survives_saving(tmp_path):
    m = models.paper_cnn((8, 8, 1), 2)
    r = keras.Model(m.input, m.get_layer("standardize").output)
    x = np.zeros((2, 8, 8, 1), np.float32)
    x[0, :, 4:] = 255.0  # half black, half white: -1 and +1
    x[1] = 77.0  # flat: the floor keeps it at 0 instead of dividing by 0
    out = np.asarray(r(x))
    np.testing.assert_allclose(out[0, :, :4], -1.0)
    np.testing.assert_allclose(out[0, :, 4:], 1.0)
    np.testing.assert_array_equal(out[1], 0.0)
    np.testing.assert_allclose(np.asarray(r(3 * x[:1] + 10)), out[:1], atol=1e-6)  # contrast
    m.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(m(x)), rtol=1e-6)


def test_standardization_statistics_are_constants_to_backprop():
    import tensorflow as tf

    layer = models.PerImageStandardization()
    x = tf.constant(np.random.default_rng(0).uniform(0, 255, (1, 6, 6, 1)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)[0, 2, 3, 0]  # one output pixel
    g = tape.gradient(y, x).numpy()
    std = float(np.std(x.numpy()))
    assert np.count_nonzero(g) == 1 and g[0, 2, 3, 0] == pytest.approx(1 / std, rel=1e-5)


def test_output_stays_float32_under_bf16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        m = models.paper_cnn((16, 16, 1), 4)
        assert m.get_layer("conv1").compute_dtype == "bfloat16"
        assert m.get_layer("output").compute_dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
