"""Finding convolutional layers by name, with errors that list the valid ones."""

from __future__ import annotations

import keras

CONV_TYPES = (keras.layers.Conv2D, keras.layers.SeparableConv2D, keras.layers.DepthwiseConv2D,
              keras.layers.Conv2DTranspose)


def conv_layer_names(model: keras.Model) -> list[str]:
    """Names of the model's 2-D convolutional layers, in order."""
    return [layer.name for layer in model.layers if isinstance(layer, CONV_TYPES)]


def conv_layer(model: keras.Model, name: str) -> keras.layers.Layer:
    """The convolutional layer ``name``; ``ValueError`` naming the valid ones otherwise."""
    valid = conv_layer_names(model)
    try:
        layer = model.get_layer(name)
    except ValueError:
        raise ValueError(f"model {model.name!r} has no layer {name!r}; its convolutional "
                         f"layers are {valid}") from None
    if not isinstance(layer, CONV_TYPES):
        raise ValueError(f"layer {name!r} of model {model.name!r} is a "
                         f"{type(layer).__name__}, not convolutional; its convolutional layers "
                         f"are {valid}")
    return layer


def first_input(model):
    """The model's (first) input tensor, also when ``model.input`` is a list."""
    inp = model.input
    while isinstance(inp, list | tuple):
        inp = inp[0]
    if isinstance(inp, dict):
        inp = next(iter(inp.values()))
    return inp
