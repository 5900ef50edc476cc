"""ReLUs with modified gradients, and a clone of a model that uses them.

The caller's model is never changed: :func:`clone_with_relu` builds a new model with the same
weights whose ReLUs back-propagate by one of these rules (``x`` the ReLU's input, ``g`` the
gradient arriving from above):

- ``'saliency'``: ``g * (x > 0)``, the plain gradient (Simonyan et al., 2014);
- ``'guided'``: ``g * (g > 0) * (x > 0)``, guided backpropagation (Springenberg et al., 2015);
- ``'deconvnet'``: ``g * (g > 0)``, the deconvnet rule in its modified-gradient form (Zeiler &
  Fergus, 2014, as formalised by Springenberg et al.): the backward ReLU rectifies the signal
  and ignores the forward mask. Max-pooling back-propagates through its argmax, which is
  exactly Zeiler & Fergus' "switches", and transposed convolution is the gradient of a
  convolution, so for conv/ReLU/max-pool stacks like the paper's this *is* their deconvnet.
"""

from __future__ import annotations

import keras
from keras import ops

RULES = ("saliency", "guided", "deconvnet")


def backward(rule: str, g, x):
    """The gradient a ReLU with input ``x`` passes down, given ``g`` from above."""
    if rule == "deconvnet":
        return ops.relu(g)
    mask = ops.cast(x > 0, g.dtype)
    return g * mask * ops.cast(g > 0, g.dtype) if rule == "guided" else g * mask


def _rule(rule: str):
    @ops.custom_gradient
    def relu(x):
        y = ops.relu(x)

        def grad(*args, upstream=None):
            return backward(rule, args[0] if upstream is None else upstream, x)

        return y, grad

    return relu


class ModifiedReLU(keras.layers.Layer):
    """A ReLU whose backward pass follows ``rule`` (see the module docstring)."""

    def __init__(self, rule: str, **kwargs):
        super().__init__(**kwargs)
        if rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
        self.rule = rule
        self._fn = _rule(rule)

    def call(self, x):
        return self._fn(x)

    def get_config(self):
        return {**super().get_config(), "rule": self.rule}


def _is_plain_relu(layer) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        c = layer.get_config()
        return not c.get("max_value") and not c.get("negative_slope") and not c.get("threshold")
    if isinstance(layer, keras.layers.Activation):
        return layer.get_config().get("activation") == "relu"
    return False


def clone_with_relu(model: keras.Model, rule: str, dtype: str | None = None) -> keras.Model:
    """A copy of ``model`` (same weights) whose ReLUs follow ``rule``; ``model`` is untouched.

    Replaces ``ReLU`` and ``Activation('relu')`` layers, and the fused ``activation='relu'``
    of convolutional and dense layers. Works for functional and Sequential models.
    ``dtype`` (e.g. ``'mixed_bfloat16'``) overrides every layer's dtype policy in the copy.
    """
    fn = _rule(rule)

    def clone(layer):
        policy = dtype or layer.dtype_policy
        if _is_plain_relu(layer):
            return ModifiedReLU(rule, name=layer.name, dtype=policy)
        config = layer.get_config()
        if dtype is not None and "dtype" in config:
            config["dtype"] = dtype
        new = layer.__class__.from_config(config)
        if getattr(layer, "activation", None) is keras.activations.relu:
            new.activation = fn
        return new

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy
