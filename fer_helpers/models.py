"""The paper's CNN and Khorrami et al.'s zero-bias variant, with stable layer names.

Layer names are part of the API: later chapters address filters as ``conv1``, ``conv2``,
``conv3`` and units as ``fc1``. Models take raw grey (or RGB) images with values 0-255; the
first layer (``standardize``) subtracts each image's mean and divides by its standard
deviation. The paper does not state its input scaling. Zero-centred input matters: with
inputs in [0, 1], low-contrast faces give tiny activations, Adam's fixed-size bias steps drive
the conv2 biases negative within the first epoch and every ReLU of that layer dies (measured on
SynthFACS: loss stuck at ln 8). Per-image standardization also removes each face's lighting
and contrast, which the network otherwise spends its first epochs on: on the quick profile's
SynthFACS CK+ folds a fixed [-1, 1] scaling predicted only "neutral" for the first 12 epochs,
per-image standardization left that plateau after 3 to 7 (measured November 2026, 2 cores).

References
----------
Breuer, R. & Kimmel, R. (2017). A Deep Learning Perspective on the Origin of Facial
Expressions. arXiv:1705.01842, section 2.1.
Khorrami, P., Paine, T. L. & Huang, T. S. (2015). Do Deep Neural Networks Learn Facial Action
Units When Doing Expression Recognition? ICCV Workshops (zero-bias CNN).
"""

from __future__ import annotations

import keras
from keras import layers, ops

#: Names of the convolutional layers, in order.
CONV_LAYERS = ("conv1", "conv2", "conv3")


@keras.saving.register_keras_serializable(package="fer_helpers")
class PerImageStandardization(layers.Layer):
    """``(x - mean) / max(std, floor)`` over each image's pixels and channels.

    Like ``tf.image.per_image_standardization`` (with the standard deviation floored at
    ``floor`` grey levels, so a flat image is not blown up), as a layer, so saved models carry
    their preprocessing. The mean and standard deviation are constants to back-propagation:
    nothing trainable lies below this layer, so training is unchanged, and a gradient picture
    with respect to the raw pixels is the picture with respect to the standardized image,
    scaled by ``1 / std``, not smeared over the whole face by the statistics' own gradients.
    """

    def __init__(self, floor: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.floor = float(floor)

    def call(self, x):
        axes = tuple(range(1, len(x.shape)))
        mean = ops.stop_gradient(ops.mean(x, axis=axes, keepdims=True))
        std = ops.stop_gradient(ops.maximum(ops.std(x, axis=axes, keepdims=True), self.floor))
        return (x - mean) / std

    def get_config(self):
        return {**super().get_config(), "floor": self.floor}


@keras.saving.register_keras_serializable(package="fer_helpers")
class FeatureStandardization(layers.Layer):
    """``(x - mean) * scale`` per feature (last axis), with ``mean`` and ``scale`` as
    non-trainable weights set by :meth:`set_statistics`.

    Keras' ``Normalization`` layer turns statistics given to it into constants of the traced
    graph; here they are variables, so a compiled model reused for another fold (see
    ``reuse`` in :func:`fer_helpers.training.fit`) reads the statistics put into it.
    """

    def build(self, input_shape):
        d = (input_shape[-1],)
        self.mean = self.add_weight(name="mean", shape=d, initializer="zeros", trainable=False)
        self.scale = self.add_weight(name="scale", shape=d, initializer="ones",
                                     trainable=False)

    def set_statistics(self, mean, variance, floor: float = 1e-14) -> None:
        """Standardize with ``mean`` and ``variance`` (a variance under ``floor`` counts as
        ``floor``: a standard deviation of at least 1e-7, as Keras' ``Normalization``)."""
        self.mean.assign(ops.cast(mean, self.mean.dtype))
        self.scale.assign(ops.cast(1.0 / ops.sqrt(ops.maximum(variance, floor)),
                                   self.scale.dtype))

    def call(self, x):
        return (ops.cast(x, self.compute_dtype) - self.mean) * self.scale


def _cnn(name: str, input_shape, n_classes: int, dense: int, use_bias: bool,
         conv_dropout: float, dense_dropout: float, activation: str = "softmax"
         ) -> keras.Model:
    inp = keras.Input(shape=tuple(input_shape), name="image")
    # statistics of 0-255 pixels in float32, also under mixed precision
    x = PerImageStandardization(name="standardize", dtype="float32")(inp)
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
    out = layers.Dense(n_classes, activation=activation, use_bias=use_bias, dtype="float32",
                       name="output")(x)
    return keras.Model(inp, out, name=name)


def paper_cnn(input_shape=(48, 48, 1), n_classes: int = 8, activation: str = "softmax"
              ) -> keras.Model:
    """Breuer & Kimmel's CNN.

    Three blocks of [Conv 5x5 'same', ReLU, MaxPool 2x2] with 64, 128 and 256 filters;
    Dropout 0.25 after the last block; Dense 512 + ReLU; Dropout 0.5; Dense softmax
    (``activation="sigmoid"`` for independent outputs, e.g. one per action unit).
    """
    return _cnn("paper_cnn", input_shape, n_classes, 512, True, 0.25, 0.5, activation)


def zero_bias_cnn(input_shape=(48, 48, 1), n_classes: int = 8, dropout: bool = True,
                  activation: str = "softmax") -> keras.Model:
    """Khorrami et al.'s zero-bias CNN: the same three conv blocks, no bias terms anywhere,
    a 300-unit dense layer. ``dropout`` gives their "(d)" variant (0.25 / 0.5 as above)."""
    return _cnn("zero_bias_cnn", input_shape, n_classes, 300, False,
                0.25 if dropout else 0.0, 0.5 if dropout else 0.0, activation)


MODELS = {"paper_cnn": paper_cnn, "zero_bias_cnn": zero_bias_cnn}


def build(name: str, input_shape, n_classes: int, activation: str = "softmax") -> keras.Model:
    """Build a model of :data:`MODELS` by name."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(MODELS)}")
    return MODELS[name](input_shape=input_shape, n_classes=n_classes, activation=activation)


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
