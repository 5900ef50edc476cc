"""Filter visualisation in the style of tf-keras-vis: callable objects over a (cloned) model
that return arrays; plotting lives in :mod:`fer_helpers.plotting`.
"""

from .activations import TopActivations, TopImages, census
from .backprop import Deconvnet, FilterGradient, GuidedBackprop, Saliency
from .layers import conv_layer, conv_layer_names
from .relu import clone_with_relu

__all__ = ["Deconvnet", "FilterGradient", "GuidedBackprop", "Saliency", "TopActivations",
           "TopImages", "census", "clone_with_relu", "conv_layer", "conv_layer_names"]
