import keras
import numpy as np

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


def test_input_is_mapped_to_minus_one_one():
    m = models.paper_cnn((8, 8, 1), 2)
    r = keras.Model(m.input, m.get_layer("rescale").output)
    x = np.zeros((1, 8, 8, 1), np.float32)
    x[0, :, 4:] = 255.0
    out = np.asarray(r(x))
    assert out.min() == -1.0 and out.max() == 1.0


def test_output_stays_float32_under_bf16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        m = models.paper_cnn((16, 16, 1), 4)
        assert m.get_layer("conv1").compute_dtype == "bfloat16"
        assert m.get_layer("output").compute_dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
