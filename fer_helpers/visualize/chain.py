"""A faster exact backward pass for plain chains of convolution, ReLU and max-pooling layers.

When the path from a model's input to the target convolution is a chain (every layer has one
input) of ``Conv2D``, ReLU, ``MaxPooling2D``, ``Dropout``, ``Rescaling`` and
:class:`fer_helpers.models.PerImageStandardization` layers, as in the paper's CNN or VGG-like
stacks, :class:`ChainBackward` computes the same pictures as automatic differentiation, with
less work:

- the forward pass runs once per *distinct* image, recording each layer's input, instead of
  once per (image, filter) pair; each image goes through it as a batch of one (see
  :func:`per_image`), so its activations, and every choice made from them, are the bits the
  one-pair-per-pass loop computes, whatever other images share the pass;
- the first backward step, through the target convolution, needs no arithmetic: the gradient
  of one output unit with respect to the layer's input is the filter's kernel over the unit's
  window;
- each further step works on the window that can reach the unit (its receptive field at that
  depth), not on the whole map, with TensorFlow's own gradient kernels (``conv2d_transpose``,
  ``MaxPoolGrad``) and the ReLU rule of the method.

Keras' functional API has no hook for this, and tf-keras-vis and iNNvestigate have no such path,
hence this module. :func:`chain_of` returns ``None`` for anything else, and the caller falls
back to automatic differentiation.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from .relu import ModifiedReLU, _is_plain_relu, backward

#: Images in flight at once in :func:`per_image`: one per core, at least 2 (on 2 cores, 1 was
#: slower and 4 or 8 no faster than 2).
PARALLEL_IMAGES = max(2, os.cpu_count() or 1)


def per_image(fn, elems, signature):
    """``fn`` applied to each row of ``elems`` as a batch of one, results stacked.

    A gradient picture is piecewise constant in the forward activations: the ReLU masks, the
    max-pooling switches and the objective unit are decisions (a sign, an arg-max) taken on
    them, and a near-tie is decided by the last bit. Convolution libraries do not give an image
    the same bits whatever batch it is in: on AVX-512 CPUs oneDNN lays the weights out plainly
    (``cdba``) for a batch of one and in blocks of 64 output channels (``Acdb64a``) for larger
    batches, and sums in another order (paper CNN, 48x48: up to 1.3e-6 of conv3's largest
    activation). Between a batched pass and the one-pair-per-pass loop that flipped 0 to 4 of
    5 to 11 million pooling switches per layer and 0 to 2 of ~75,000 objective units
    (benchmark images, weights of seeds 0-5), and 1 to 7 of 2304 pictures differed by up to
    1.5% of the largest gradient. A tolerance does not help (values within ``rtol`` of the
    maximum count as tied and go to the first): it moves the decision from the tie to
    ``max - rtol * scale``, and as many candidates lie within the noise of that boundary
    (measured: as many flips at every ``rtol`` from 1e-6 to 1e-3). Forwarding every image
    alone, with the operations and shapes the loop uses, gives both paths the same bits, and
    so the same decisions.

    Parameters
    ----------
    fn : callable
        Takes a structure like ``elems`` with one row (leading axis of size 1) per tensor and
        returns tensors with a leading axis of size 1, or scalars.
    elems : tensor or tuple of tensors
        Rows along axis 0.
    signature : structure of ``tf.DType``
        The structure of ``fn``'s result, as ``tf.map_fn`` wants it.

    Returns
    -------
    structure of tensors
        ``fn``'s results with their size-1 axis replaced by one row per element of ``elems``
        (scalars become vectors).
    """
    def one(row):
        out = fn(tf.nest.map_structure(lambda t: t[None], row))
        return tf.nest.map_structure(lambda t: t[0] if t.shape.rank else t, out)

    return tf.map_fn(one, elems, fn_output_signature=signature,
                     parallel_iterations=PARALLEL_IMAGES)


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


def _window(layer, size: int, scale: int, shift: int, axis: int):
    """The input window (size, offset = scale * r + shift) of ``layer`` along ``axis`` (0 rows,
    1 columns), given the window of its output."""
    if not isinstance(layer, keras.layers.Conv2D | keras.layers.MaxPooling2D):
        return size, scale, shift
    k = (layer.kernel_size if isinstance(layer, keras.layers.Conv2D) else layer.pool_size)[axis]
    st = layer.strides[axis]
    pad = 0
    if layer.padding == "same":
        n_in, n_out = layer.input.shape[1 + axis], layer.output.shape[1 + axis]
        pad = max((n_out - 1) * st + k - n_in, 0) // 2
    return (size - 1) * st + k, scale * st, shift * st - pad


class ChainBackward:
    """Gradient pictures of (image, filter) pairs for a supported chain (see the module).

    Only the window of each layer that can reach the target unit is back-propagated: the
    target convolution's kernel, then windows growing by each layer's kernel and stride down
    to the image (for the paper's conv3 at 48x48: 5x5, 10x10, 14x14, 28x28, 32x32 instead of
    12x12, 24x24, 24x24, 48x48, 48x48). Positions a window has outside a layer's map stand for
    padding and get no gradient.

    Parameters
    ----------
    chain : list of keras layers
        From :func:`chain_of`; ReLUs back-propagate by ``rule``.
    rule : {'saliency', 'guided', 'deconvnet'}
    """

    def __init__(self, chain: list, rule: str):
        self.chain, self.rule = chain, rule
        target = chain[-1]
        kh, kw = target.kernel_size
        top = [(k - 1) // 2 if target.padding == "same" else 0 for k in (kh, kw)]
        out_hw = target.output.shape[1:3]
        # per layer: (size, scale, shift) of its input window along rows and columns, and the
        # padding its recorded input needs so that every window lies inside it
        self.windows, self.pads = [None] * len(chain), [None] * len(chain)
        win = [(kh, 1, -top[0]), (kw, 1, -top[1])]
        for i in range(len(chain) - 1, -1, -1):
            if i < len(chain) - 1:
                win = [_window(chain[i], *win[a], axis=a) for a in (0, 1)]
            self.windows[i] = win
            n_in = chain[i].input.shape[1:3]
            self.pads[i] = [(max(0, -sh), max(0, sc * (out_hw[a] - 1) + sh + sz - n_in[a]))
                            for a, (sz, sc, sh) in enumerate(win)]
        self._forward = tf.function(self._record, reduce_retracing=True)
        self._backward = tf.function(self._back, reduce_retracing=True)

    def _needs_input(self, i) -> bool:
        """Whether layer ``i``'s backward step needs its forward input (or statistics of it)."""
        return not isinstance(self.chain[i], keras.layers.Conv2D | keras.layers.Rescaling
                              | keras.layers.Dropout)

    def _inputs(self, x):
        """Forward ``x`` through the chain: the input of each layer whose backward step needs
        it (float32; a placeholder for the others), and the target's rectified activation."""
        ins = []
        for i, layer in enumerate(self.chain):
            ins.append(tf.cast(x, tf.float32) if self._needs_input(i) else tf.zeros([]))
            x = layer(x, training=False)
        return ins, tf.nn.relu(tf.cast(x, tf.float32))

    def _record(self, x):
        """What each layer's backward step needs, and the target's rectified activation.

        The forward pass is :meth:`_inputs` of each image alone (:func:`per_image`). Saved:
        for ReLU and max-pool layers, their input, padded so every window can be cropped from
        it (max-pool inputs with a -inf-like value); for a standardization layer, each image's
        standard deviation; for any other layer, nothing (an empty placeholder).
        """
        from ..models import PerImageStandardization

        ins, act = per_image(self._inputs, x, ([tf.float32] * len(self.chain), tf.float32))
        saved = []
        for i, (layer, pads) in enumerate(zip(self.chain, self.pads, strict=True)):
            if isinstance(layer, PerImageStandardization):
                saved.append(tf.maximum(tf.math.reduce_std(ins[i], axis=[1, 2, 3],
                                                           keepdims=True), layer.floor))
            elif not self._needs_input(i):
                saved.append(tf.zeros([]))
            else:
                fill = -3.0e38 if isinstance(layer, keras.layers.MaxPooling2D) else 0.0
                saved.append(tf.pad(ins[i], [(0, 0), *pads, (0, 0)], constant_values=fill))
        return saved, act

    def _crop(self, i, xp, image, rows, cols):
        (h, sr, br), (w, sc, bc) = self.windows[i]
        (pr, _), (pc, _) = self.pads[i]
        hp = xp.shape[1]
        r = (sr * rows + br + pr)[:, None] + tf.range(h)[None, :]  # (B, h) in padded rows
        c = (sc * cols + bc + pc)[:, None] + tf.range(w)[None, :]
        flat = tf.reshape(xp, [-1, *xp.shape[2:]])  # (U * Hp, Wp, C)
        out = tf.gather(flat, image[:, None] * hp + r)  # (B, h, Wp, C)
        return tf.gather(out, c, axis=2, batch_dims=1)  # (B, h, w, C)

    def _inside(self, i, rows, cols):
        """1 where layer ``i``'s input window lies on its real map, 0 on padding."""
        (h, sr, br), (w, sc, bc) = self.windows[i]
        n_h, n_w = self.chain[i].input.shape[1:3]
        r = (sr * rows + br)[:, None] + tf.range(h)[None, :]
        c = (sc * cols + bc)[:, None] + tf.range(w)[None, :]
        inside = (((r >= 0) & (r < n_h))[:, :, None] & ((c >= 0) & (c < n_w))[:, None, :])
        return tf.cast(inside, tf.float32)[..., None]

    def _back(self, saved, image, rows, cols, filters, alive):
        target = self.chain[-1]
        kernel = tf.transpose(tf.cast(target.kernel, tf.float32), [3, 0, 1, 2])
        g = tf.gather(kernel, filters) * alive[:, None, None, None]  # d unit / d its window
        g = g * self._inside(len(self.chain) - 1, rows, cols)
        for i in range(len(self.chain) - 2, -1, -1):
            g = self._layer_back(i, g, saved[i], image, rows, cols)
            g = g * self._inside(i, rows, cols)
        return g

    def _layer_back(self, i, g, saved, image, rows, cols):
        from ..models import PerImageStandardization

        layer = self.chain[i]
        if isinstance(layer, keras.layers.Conv2D):
            (h, _, _), (w, _, _) = self.windows[i]
            shape = tf.stack([tf.shape(g)[0], h, w, layer.kernel.shape[2]])
            return tf.nn.conv2d_transpose(g, tf.cast(layer.kernel, tf.float32), shape,
                                          strides=layer.strides, padding="VALID")
        if isinstance(layer, keras.layers.Rescaling):
            return g * tf.cast(layer.scale, tf.float32)
        if isinstance(layer, PerImageStandardization):
            return g / tf.gather(saved, image)
        if isinstance(layer, keras.layers.Dropout):
            return g
        x = self._crop(i, saved, image, rows, cols)
        if isinstance(layer, keras.layers.MaxPooling2D):
            pool, strides = [1, *layer.pool_size, 1], [1, *layer.strides, 1]
            y = tf.nn.max_pool2d(x, pool, strides, "VALID")
            return tf.raw_ops.MaxPoolGrad(orig_input=x, orig_output=y, grad=g, ksize=pool,
                                          strides=strides, padding="VALID")
        return backward(self.rule, g, x)  # a ReLU

    def _passes(self, x: np.ndarray, filters: np.ndarray, images_per_pass: int):
        """Forward the distinct images of ``x``, ``images_per_pass`` at a time; per pass yield
        the pairs it serves, what the backward steps need, and each pair's objective unit.

        Yields
        ------
        pairs : (P,) int
            Indices into ``x`` / ``filters``.
        saved : list
            :meth:`_record`'s per-layer records of the pass's images.
        image : (P,) int32
            Each pair's image within the pass.
        rows, cols : (P,) int32
            The objective unit: the first maximum, in row-major order, of the pair's
            rectified map.
        alive : (P,) float32
            1 where the filter fires on the image (its maximum is positive), else 0.
        """
        if not len(x):
            return
        flat = x.reshape(len(x), -1)
        _, first, which = np.unique(flat, axis=0, return_index=True, return_inverse=True)
        which = which.ravel()
        for lo in range(0, len(first), images_per_pass):
            n = min(images_per_pass, len(first) - lo)
            saved, act = self._forward(tf.constant(x[first[lo:lo + n]]))
            pairs = np.flatnonzero((which >= lo) & (which < lo + n))
            image = (which[pairs] - lo).astype(np.int32)
            a = tf.gather(act, tf.constant(image), axis=0)
            a = tf.gather(a, tf.constant(filters[pairs]), axis=3, batch_dims=1)  # (P, H, W)
            pos = tf.argmax(tf.reshape(a, [len(pairs), -1]), axis=1, output_type=tf.int32)
            alive = tf.cast(tf.reduce_max(a, axis=[1, 2]) > 0, tf.float32).numpy()
            pos = pos.numpy()
            yield pairs, saved, image, pos // a.shape[2], pos % a.shape[2], alive

    def units(self, x: np.ndarray, filters: np.ndarray, images_per_pass: int = 64
              ) -> np.ndarray:
        """``(n, 2)`` (row, col) of each pair's objective unit in the target's map; (-1, -1)
        where the filter does not fire on the image (its picture is zero)."""
        out = np.full((len(x), 2), -1, np.int64)
        for pairs, _, _, rows, cols, alive in self._passes(x, filters, images_per_pass):
            out[pairs] = np.where(alive[:, None] > 0, np.stack([rows, cols], axis=1), -1)
        return out

    def __call__(self, x: np.ndarray, filters: np.ndarray, batch_size: int,
                 images_per_pass: int = 64) -> np.ndarray:
        """Pictures for pairs ``(x[k], filters[k])``; repeated images are forwarded once."""
        (h, sr, br), (w, sc, bc) = self.windows[0]
        (pr, pr2), (pc, pc2) = self.pads[0]
        canvas = np.zeros((len(x), x.shape[1] + pr + pr2, x.shape[2] + pc + pc2, x.shape[3]),
                          np.float32)
        for pairs, saved, image, r_all, c_all, alive in self._passes(x, filters,
                                                                     images_per_pass):
            for s in range(0, len(pairs), batch_size):
                k = pairs[s:s + batch_size]
                r, c = r_all[s:s + batch_size], c_all[s:s + batch_size]
                g = self._backward(saved, tf.constant(image[s:s + batch_size]),
                                   tf.constant(r), tf.constant(c), tf.constant(filters[k]),
                                   tf.constant(alive[s:s + batch_size])).numpy()
                for j, kk in enumerate(k):  # paste each window into its (padded) image
                    r0, c0 = sr * r[j] + br + pr, sc * c[j] + bc + pc
                    canvas[kk, r0:r0 + h, c0:c0 + w] = g[j]
        return canvas[:, pr:pr + x.shape[1], pc:pc + x.shape[2]]
