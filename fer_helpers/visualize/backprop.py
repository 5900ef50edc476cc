"""What a filter sees: gradients of its strongest activation with respect to the input.

For an image ``i`` and a filter ``j`` of a convolutional layer ``l``, the objective is the
largest value of the rectified activation map ``relu(F_{l,j}(i))``, taken at one place (the
first maximum in row-major order: Zeiler & Fergus keep only the maximal activation and zero
the rest); its gradient with respect to the pixels, computed with the ReLU rule of the method,
is the picture.

Pairs are computed ``batch_size`` at a time in one compiled call, and inside it each pair as
a batch of one (:func:`fer_helpers.visualize.chain.per_image`): the picture depends on
decisions taken on the forward activations (ReLU masks, max-pooling switches, the objective
unit), and convolution kernels may round an image's activations differently in a batch of one
and in a larger batch, which flips near-ties. So a pair's picture, and its unit
(:meth:`FilterGradient.units`), are the same bits whatever pairs share its batch, and equal
the one-pair-per-pass loop. For plain conv / ReLU / max-pool chains such as the paper's CNN,
:mod:`fer_helpers.visualize.chain` computes the same pictures faster (one forward pass per
distinct image, a backward pass over receptive-field windows only); ``fast=False`` forces
automatic differentiation.

References
----------
Simonyan, K., Vedaldi, A. & Zisserman, A. (2014). Deep inside convolutional networks.
Zeiler, M. D. & Fergus, R. (2014). Visualizing and understanding convolutional networks.
Springenberg, J. T. et al. (2015). Striving for simplicity: the all convolutional net.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .chain import ChainBackward, chain_of, per_image
from .layers import conv_layer, first_input
from .relu import clone_with_relu


class FilterGradient:
    """Gradient pictures of filters of one convolutional layer (base class).

    Parameters
    ----------
    model : keras.Model
        Any functional or Sequential Keras 3 model; it is cloned, never modified.
    layer : str
        Name of a convolutional layer of ``model``.
    batch_size : int
        Pairs per compiled call. Inside it each image is forwarded alone (a batch of one), so
        the pictures do not depend on ``batch_size`` or on which pairs share a call.
    precision : {None, 'float32', 'mixed_bfloat16'}
        Compute policy of the clone; ``None`` keeps the model's own (a model trained under
        ``mixed_bfloat16`` is visualised in bfloat16, about twice as fast on AMX CPUs).
    fast : bool
        Use :class:`fer_helpers.visualize.chain.ChainBackward` where the model allows it
        (``self.fast`` says whether it does).
    """

    rule = "saliency"

    def __init__(self, model: keras.Model, layer: str, batch_size: int = 64,
                 precision: str | None = None, fast: bool = True):
        conv_layer(model, layer)
        clone = clone_with_relu(model, self.rule, precision)
        self.layer = layer
        # the first input: Keras 2 files often load with a list of one input
        self.feature = keras.Model(first_input(clone), clone.get_layer(layer).output)
        self.n_filters = int(self.feature.output.shape[-1])
        self.input_shape = tuple(first_input(model).shape[1:])
        self.batch_size = batch_size
        self._step = tf.function(self._gradients, reduce_retracing=True)
        self._peaks = tf.function(self._units, reduce_retracing=True)
        chain = chain_of(self.feature) if fast else None
        self._chain = ChainBackward(chain, self.rule) if chain else None
        self.fast = self._chain is not None

    def _maps(self, x, filters):
        """The rectified maps of ``filters`` on ``x``, flattened row-major: ``(B, H * W)``."""
        act = tf.nn.relu(tf.cast(self.feature(x, training=False), tf.float32))
        a = tf.gather(act, filters[:, None], axis=3, batch_dims=1)
        return tf.reshape(a, [tf.shape(a)[0], -1])

    def _gradient(self, pair):
        """Gradient of one pair (a batch of one) at its objective unit, the first maximum."""
        x, filters = pair
        with tf.GradientTape() as tape:
            tape.watch(x)
            a = self._maps(x, filters)
            peak = tf.gather(a, tf.argmax(a, axis=1, output_type=tf.int32), batch_dims=1)
        return tape.gradient(peak, x)

    def _gradients(self, x, filters):
        return per_image(self._gradient, (x, filters), tf.float32)

    def _unit(self, pair):
        a = self._maps(*pair)
        pos = tf.argmax(a, axis=1, output_type=tf.int32)
        return tf.where(tf.reduce_max(a, axis=1) > 0, pos, -1)

    def _units(self, x, filters):
        return per_image(self._unit, (x, filters), tf.int32)

    def _as_input(self, images) -> np.ndarray:
        x = np.asarray(images, np.float32)
        if x.ndim == len(self.input_shape):  # grey images without a channel axis
            x = x[..., None]
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"images of shape {x.shape[1:]} do not fit the model's input "
                             f"{self.input_shape}")
        return x

    def __call__(self, images, filters) -> np.ndarray:
        """Gradient pictures for pairs ``(images[k], filters[k])``.

        Parameters
        ----------
        images : array (n, H, W[, C])
            Inputs as the model takes them (raw pixel values for the book's models).
        filters : int or array (n,)
            The filter of each pair (one int: the same filter for every image).

        Returns
        -------
        numpy.ndarray
            ``(n, H, W, C)`` float32 gradients.
        """
        x, f = self._pairs(images, filters)
        if self._chain is not None:
            return self._chain(x, f, self.batch_size)
        out = np.zeros(x.shape, np.float32)
        for s in range(0, len(x), self.batch_size):
            xb = tf.constant(x[s:s + self.batch_size])
            fb = tf.constant(f[s:s + self.batch_size])
            out[s:s + self.batch_size] = self._step(xb, fb).numpy()
        return out

    def units(self, images, filters) -> np.ndarray:
        """Where each pair's objective is taken: the unit whose gradient :meth:`__call__`
        returns.

        Parameters
        ----------
        images, filters
            As for :meth:`__call__`.

        Returns
        -------
        numpy.ndarray
            ``(n, 2)`` int, (row, col) in the layer's activation map of the first maximum (in
            row-major order) of the pair's rectified map; ``(-1, -1)`` where the filter does
            not fire on the image (its picture is zero).
        """
        x, f = self._pairs(images, filters)
        if self._chain is not None:
            return self._chain.units(x, f)
        w = int(self.feature.output.shape[2])
        pos = np.concatenate([np.zeros(0, np.int32)] + [
            self._peaks(tf.constant(x[s:s + self.batch_size]),
                        tf.constant(f[s:s + self.batch_size])).numpy()
            for s in range(0, len(x), self.batch_size)])
        return np.where(pos[:, None] >= 0, np.stack([pos // w, pos % w], axis=1),
                        -1).astype(np.int64)

    def _pairs(self, images, filters) -> tuple[np.ndarray, np.ndarray]:
        x = self._as_input(images)
        f = np.broadcast_to(np.asarray(filters, np.int32), (len(x),))
        if len(f) and (f.min() < 0 or f.max() >= self.n_filters):
            raise ValueError(f"filters must be in 0..{self.n_filters - 1} for layer "
                             f"{self.layer!r}")
        return x, f


class Saliency(FilterGradient):
    """Plain gradient of the filter's maximal activation (Simonyan et al., 2014)."""

    rule = "saliency"


class GuidedBackprop(FilterGradient):
    """Guided backpropagation (Springenberg et al., 2015): ReLUs pass only positive
    gradients, and only where their input was positive."""

    rule = "guided"


class Deconvnet(FilterGradient):
    """Zeiler & Fergus' deconvnet as a modified gradient: ReLUs rectify the backward signal
    and ignore the forward mask; max-pooling routes through its argmax (the "switches").
    For conv / ReLU / max-pool stacks this equals the unpooling-with-switches form."""

    rule = "deconvnet"
