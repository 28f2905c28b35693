"""robustlab: robustness of two-layer neural networks, theory beside measurement."""

import os

# OpenMP reads this when torch loads: on small CPU machines idle threads should sleep, not spin.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from robustlab.models.two_layer import TwoLayerNet

__all__ = ["TwoLayerNet", "__version__"]
__version__ = "0.1.0"
