"""Cost models by experiment name: every registered experiment has one (a test enforces it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from robustlab.planning import lazy, neurotron, poisoning, random_nets, reflected, toy
from robustlab.planning.cost import CellCost

__all__ = ["COST_MODELS", "CostModel", "cost_model"]

CostModel = Callable[[Mapping[str, Any]], CellCost]
"""A cell's parameters (every config field the cell holds) -> its cost."""

COST_MODELS: Mapping[str, CostModel] = {
    "toy-sphere-norms": toy.toy_sphere_norms,
    "lazy-single-step": lazy.lazy_single_step,
    "lazy-adversarial-training": lazy.lazy_adversarial_training,
    "random-net-single-step": random_nets.random_net_single_step,
    "universal-perturbation": random_nets.universal_perturbation,
    "robust-sample-complexity": random_nets.robust_sample_complexity,
    "schmidt-cnn": random_nets.schmidt_cnn,
    "attack-optimality": random_nets.attack_optimality,
    "neurotron-poisoning": neurotron.neurotron_poisoning,
    "poisoning-loss": poisoning.poisoning_loss,
    "poisoning-sample-size": poisoning.poisoning_sample_size,
    "poisoning-width": poisoning.poisoning_width,
    "reflected-grid": reflected.reflected_grid,
    "reflected-adversarial-training": reflected.reflected_adversarial_training,
    "multiclass-reflected": reflected.multiclass_reflected,
}


def cost_model(name: str) -> CostModel | None:
    """The cost model of experiment `name`, or None for an experiment without one."""
    return COST_MODELS.get(name)
