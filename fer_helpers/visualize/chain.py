"""A faster exact backward pass for plain chains of convolution, ReLU and max-pooling layers.

When the path from a model's input to the target convolution is a chain (every layer has one
input) of ``Conv2D``, ReLU, ``MaxPooling2D``, ``Dropout``, ``Rescaling`` and
:class:`fer_helpers.models.PerImageStandardization` layers, as in the paper's CNN or VGG-like
stacks, :class:`ChainBackward` computes the same pictures as automatic differentiation, with
less work:

- the forward pass runs once per *distinct* image, recording each layer's input, instead of
  once per (image, filter) pair;
- the first backward step, through the target convolution, needs no arithmetic: the gradient
  of one output unit with respect to the layer's input is the filter's kernel placed over the
  unit's window;
- the remaining steps use TensorFlow's own gradient kernels (``conv2d_transpose``,
  ``MaxPoolGrad``) and the ReLU rule of the method.

Keras' functional API has no hook for this, and tf-keras-vis and iNNvestigate have no such path,
hence this module. :func:`chain_of` returns ``None`` for anything else, and the caller falls
back to automatic differentiation.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .relu import ModifiedReLU, _is_plain_relu, backward


def _supported(layer) -> bool:
    from ..models import PerImageStandardization

    if isinstance(layer, keras.layers.Conv2D) and type(layer) is keras.layers.Conv2D:
        return (layer.data_format == "channels_last" and layer.groups == 1
                and tuple(layer.dilation_rate) == (1, 1)
                and layer.activation is keras.activations.linear)
    if isinstance(layer, keras.layers.MaxPooling2D):
        return layer.data_format == "channels_last"
    return isinstance(layer, ModifiedReLU | keras.layers.Dropout | keras.layers.Rescaling
                      | PerImageStandardization) or _is_plain_relu(layer)


def chain_of(feature: keras.Model) -> list | None:
    """The layers from ``feature``'s input to its output if they form a supported chain
    ending in a stride-1 ``Conv2D``; else ``None``."""
    if len(feature.inputs) != 1 or len(feature.outputs) != 1:
        return None
    t, chain = feature.outputs[0], []
    while True:
        op, node_index, _ = t._keras_history
        if op is None or isinstance(op, keras.layers.InputLayer):
            break
        ins = op._inbound_nodes[node_index].input_tensors
        if len(ins) != 1 or not _supported(op):
            return None
        chain.append(op)
        t = ins[0]
    if t is not feature.inputs[0] or not chain:
        return None
    chain.reverse()
    target = chain[-1]
    if not isinstance(target, keras.layers.Conv2D) or tuple(target.strides) != (1, 1):
        return None
    return chain


def _conv_input_gradient(kernel, in_shape, rows, cols, filters, padding: str):
    """Gradient of output unit (row, col, filter) of a stride-1 convolution with respect to
    its input: the filter's kernel over that unit's window, zero elsewhere."""
    kh, kw = kernel.shape[0], kernel.shape[1]
    top, left = ((kh - 1) // 2, (kw - 1) // 2) if padding == "same" else (0, 0)
    w = tf.gather(tf.transpose(kernel, [3, 0, 1, 2]), filters)  # (B, kh, kw, C_in)
    di = tf.range(in_shape[0])[None, :] - rows[:, None] + top  # (B, H_in)
    dj = tf.range(in_shape[1])[None, :] - cols[:, None] + left  # (B, W_in)
    out = tf.gather(w, tf.clip_by_value(di, 0, kh - 1), axis=1, batch_dims=1)
    out = tf.gather(out, tf.clip_by_value(dj, 0, kw - 1), axis=2, batch_dims=1)
    inside = (((di >= 0) & (di < kh))[:, :, None] & ((dj >= 0) & (dj < kw))[:, None, :])
    return out * tf.cast(inside, out.dtype)[..., None]


class ChainBackward:
    """Gradient pictures of (image, filter) pairs for a supported chain (see the module).

    Parameters
    ----------
    chain : list of keras layers
        From :func:`chain_of`; ReLUs back-propagate by ``rule``.
    rule : {'saliency', 'guided', 'deconvnet'}
    """

    def __init__(self, chain: list, rule: str):
        self.chain, self.rule = chain, rule
        self._forward = tf.function(self._record, reduce_retracing=True)
        self._backward = tf.function(self._back, reduce_retracing=True)

    def _record(self, x):
        inputs = []
        for layer in self.chain:
            inputs.append(tf.cast(x, tf.float32))
            x = layer(x, training=False)
        return inputs, tf.nn.relu(tf.cast(x, tf.float32))

    def _back(self, inputs, image, rows, cols, filters, alive):
        target = self.chain[-1]
        x_in = inputs[-1]
        g = _conv_input_gradient(tf.cast(target.kernel, tf.float32), x_in.shape[1:3], rows,
                                 cols, filters, target.padding)
        g = g * alive[:, None, None, None]
        for layer, x in zip(reversed(self.chain[:-1]), reversed(inputs[:-1]), strict=True):
            g = self._layer_back(layer, g, tf.gather(x, image))
        return g

    def _layer_back(self, layer, g, x):
        from ..models import PerImageStandardization

        if isinstance(layer, keras.layers.Conv2D):
            return tf.nn.conv2d_transpose(g, tf.cast(layer.kernel, tf.float32), tf.shape(x),
                                          strides=layer.strides, padding=layer.padding.upper())
        if isinstance(layer, keras.layers.MaxPooling2D):
            pool = [1, *layer.pool_size, 1]
            strides = [1, *layer.strides, 1]
            pad = layer.padding.upper()
            y = tf.nn.max_pool2d(x, pool, strides, pad)
            return tf.raw_ops.MaxPoolGrad(orig_input=x, orig_output=y, grad=g, ksize=pool,
                                          strides=strides, padding=pad)
        if isinstance(layer, keras.layers.Rescaling):
            return g * tf.cast(layer.scale, tf.float32)
        if isinstance(layer, PerImageStandardization):
            axes = list(range(1, len(x.shape)))
            return g / tf.maximum(tf.math.reduce_std(x, axis=axes, keepdims=True), layer.floor)
        if isinstance(layer, keras.layers.Dropout):
            return g
        return backward(self.rule, g, x)  # a ReLU

    def __call__(self, x: np.ndarray, filters: np.ndarray, batch_size: int,
                 images_per_pass: int = 64) -> np.ndarray:
        """Pictures for pairs ``(x[k], filters[k])``; repeated images are forwarded once."""
        flat = x.reshape(len(x), -1)
        uniq, first, which = np.unique(flat, axis=0, return_index=True, return_inverse=True)
        which = which.ravel()
        out = np.zeros(x.shape, np.float32)
        for lo in range(0, len(uniq), images_per_pass):
            ids = np.arange(lo, min(lo + images_per_pass, len(uniq)))
            inputs, act = self._forward(tf.constant(x[first[ids]]))
            pairs = np.flatnonzero((which >= lo) & (which < lo + len(ids)))
            a = tf.gather(act, tf.constant(which[pairs] - lo), axis=0)
            a = tf.gather(a, tf.constant(filters[pairs]), axis=3, batch_dims=1)  # (P, H, W)
            w = a.shape[2]
            pos = tf.argmax(tf.reshape(a, [len(pairs), -1]), axis=1, output_type=tf.int32)
            alive = tf.cast(tf.reduce_max(a, axis=[1, 2]) > 0, tf.float32)
            for s in range(0, len(pairs), batch_size):
                sl = slice(s, s + batch_size)
                k = pairs[sl]
                g = self._backward(inputs, tf.constant(which[k] - lo), pos[sl] // w, pos[sl] % w,
                                   tf.constant(filters[k]), alive[sl])
                out[k] = g.numpy().reshape(out[k].shape)
        return out
