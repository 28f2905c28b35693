"""Learners: SGD, adversarial training, Neuro-Tron, projected convex SGD, gradient flow."""

from robustlab.learners.adversarial import adversarial_training, from_attack
from robustlab.learners.convex import ConvexTrace, projected_sgd
from robustlab.learners.gradient_flow import FlowTrace, gradient_flow
from robustlab.learners.neurotron import (
    FilterLearningResult,
    GaussianInputs,
    LaplaceInputs,
    StudentTInputs,
    neurotron,
    sgd_square_loss,
)
from robustlab.learners.sgd import sgd
from robustlab.learners.trace import TrainingDivergedError, TrainingTrace

__all__ = [
    "ConvexTrace",
    "FilterLearningResult",
    "FlowTrace",
    "GaussianInputs",
    "LaplaceInputs",
    "StudentTInputs",
    "TrainingDivergedError",
    "TrainingTrace",
    "adversarial_training",
    "from_attack",
    "gradient_flow",
    "neurotron",
    "projected_sgd",
    "sgd",
    "sgd_square_loss",
]
