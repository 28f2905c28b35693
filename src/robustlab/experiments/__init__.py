"""Experiments: one module per reproduced figure or table, and the registry of their names.

The protocol an experiment module follows is documented in ``robustlab.experiments.base``.
"""

from robustlab.experiments.base import (
    VERDICTS,
    Cell,
    CellContext,
    ConfigError,
    Experiment,
    ExperimentConfig,
    Summary,
    grid,
)
from robustlab.experiments.registry import (
    UnknownExperimentError,
    experiment_names,
    get_experiment,
    list_experiments,
    load_experiment,
)

__all__ = [
    "VERDICTS",
    "Cell",
    "CellContext",
    "ConfigError",
    "Experiment",
    "ExperimentConfig",
    "Summary",
    "UnknownExperimentError",
    "experiment_names",
    "get_experiment",
    "grid",
    "list_experiments",
    "load_experiment",
]
