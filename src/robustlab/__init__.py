"""robustlab: robustness of two-layer neural networks, theory beside measurement."""

from robustlab.models.two_layer import TwoLayerNet

__all__ = ["TwoLayerNet", "__version__"]
__version__ = "0.1.0"
