"""The paper's CNN and Khorrami et al.'s zero-bias variant, with stable layer names.

Layer names are part of the API: later chapters address filters as ``conv1``, ``conv2``,
``conv3`` and units as ``fc1``. Models take raw grey (or RGB) images with values 0-255; the
first layer maps them to [-1, 1]. The paper does not state its input scaling; zero-centred
input matters here: with inputs in [0, 1], low-contrast faces give tiny activations, Adam's
fixed-size bias steps drive the conv2 biases negative within the first epoch and every
ReLU of that layer dies (measured on SynthFACS: loss stuck at ln 8 with [0, 1], learning
with [-1, 1]).

References
----------
Breuer, R. & Kimmel, R. (2017). A Deep Learning Perspective on the Origin of Facial
Expressions. arXiv:1705.01842, section 2.1.
Khorrami, P., Paine, T. L. & Huang, T. S. (2015). Do Deep Neural Networks Learn Facial Action
Units When Doing Expression Recognition? ICCV Workshops (zero-bias CNN).
"""

from __future__ import annotations

import keras
from keras import layers

#: Names of the convolutional layers, in order.
CONV_LAYERS = ("conv1", "conv2", "conv3")


def _cnn(name: str, input_shape, n_classes: int, dense: int, use_bias: bool,
         conv_dropout: float, dense_dropout: float) -> keras.Model:
    inp = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inp)
    for i, filters in enumerate((64, 128, 256), start=1):
        x = layers.Conv2D(filters, 5, padding="same", use_bias=use_bias, name=f"conv{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    if conv_dropout:
        x = layers.Dropout(conv_dropout, name="dropout_conv")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense, use_bias=use_bias, name="fc1")(x)
    x = layers.ReLU(name="relu_fc1")(x)
    if dense_dropout:
        x = layers.Dropout(dense_dropout, name="dropout_fc")(x)
    # the output stays float32 under mixed precision, so softmax is computed in float32
    out = layers.Dense(n_classes, activation="softmax", use_bias=use_bias, dtype="float32",
                       name="output")(x)
    return keras.Model(inp, out, name=name)


def paper_cnn(input_shape=(48, 48, 1), n_classes: int = 8) -> keras.Model:
    """Breuer & Kimmel's CNN.

    Three blocks of [Conv 5x5 'same', ReLU, MaxPool 2x2] with 64, 128 and 256 filters;
    Dropout 0.25 after the last block; Dense 512 + ReLU; Dropout 0.5; Dense softmax.
    """
    return _cnn("paper_cnn", input_shape, n_classes, 512, True, 0.25, 0.5)


def zero_bias_cnn(input_shape=(48, 48, 1), n_classes: int = 8, dropout: bool = True
                  ) -> keras.Model:
    """Khorrami et al.'s zero-bias CNN: the same three conv blocks, no bias terms anywhere,
    a 300-unit dense layer. ``dropout`` gives their "(d)" variant (0.25 / 0.5 as above)."""
    return _cnn("zero_bias_cnn", input_shape, n_classes, 300, False,
                0.25 if dropout else 0.0, 0.5 if dropout else 0.0)


MODELS = {"paper_cnn": paper_cnn, "zero_bias_cnn": zero_bias_cnn}


def build(name: str, input_shape, n_classes: int) -> keras.Model:
    """Build a model of :data:`MODELS` by name."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(MODELS)}")
    return MODELS[name](input_shape=input_shape, n_classes=n_classes)


def forward_flops(model: keras.Model) -> int:
    """Multiply-adds x 2 of one forward pass through the conv and dense layers.

    Counted from the layer shapes (pooling, ReLU and softmax are ignored): a Conv2D costs
    ``2 * kh * kw * c_in * c_out * h_out * w_out``, a Dense ``2 * n_in * n_out``.
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            total += 2 * kh * kw * cin * cout * h * w
        elif isinstance(layer, layers.Dense):
            nin, nout = layer.kernel.shape
            total += 2 * nin * nout
    return int(total)
