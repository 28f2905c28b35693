"""Models: two-layer ensembles, single-filter nets (Neuro-Tron), linear and small conv nets."""

from robustlab.models.activations import Activation
from robustlab.models.conv import PaperConvEnsemble, PaperConvNet
from robustlab.models.io import load_model, save_model
from robustlab.models.linear import LinearGrad, LinearModel
from robustlab.models.two_layer import TwoLayerNet

__all__ = [
    "Activation",
    "LinearGrad",
    "LinearModel",
    "PaperConvEnsemble",
    "PaperConvNet",
    "TwoLayerNet",
    "load_model",
    "save_model",
]
