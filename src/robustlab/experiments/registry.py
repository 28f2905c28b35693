"""The registry: experiment names mapped to their modules. Adding an experiment is one line.

Add ``Entry("my-name", "robustlab.experiments.my_module")`` to ``ENTRIES`` (names are
lower-case words joined by dashes). ``hidden=True`` keeps test and example experiments out of
``robustlab list`` (shown with ``--all``) and out of ``robustlab run all``.
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass

from robustlab.experiments.base import Experiment

__all__ = [
    "ENTRIES",
    "Entry",
    "UnknownExperimentError",
    "experiment_names",
    "get_experiment",
    "list_experiments",
    "load_experiment",
]


@dataclass(frozen=True)
class Entry:
    """A registered experiment: its name, its module path, and whether it is hidden."""

    name: str
    module: str
    hidden: bool = False


ENTRIES: tuple[Entry, ...] = (
    Entry("toy-sphere-norms", "robustlab.experiments.toy", hidden=True),
    # paper 002: lazy training
    Entry("lazy-single-step", "robustlab.experiments.lazy_single_step"),
    Entry("lazy-adversarial-training", "robustlab.experiments.lazy_adversarial_training"),
    # paper 003: Bubeck et al., Vardi et al., Schmidt et al.
    Entry("random-net-single-step", "robustlab.experiments.random_net_single_step"),
    Entry("universal-perturbation", "robustlab.experiments.universal_perturbation"),
    Entry("robust-sample-complexity", "robustlab.experiments.robust_sample_complexity"),
    Entry("schmidt-cnn", "robustlab.experiments.schmidt_cnn"),
    Entry("attack-optimality", "robustlab.experiments.attack_optimality"),
    # paper 000: Neuro-Tron
    Entry("neurotron-poisoning", "robustlab.experiments.neurotron_poisoning"),
    # paper 001: poisoning of SGD
    Entry("poisoning-loss", "robustlab.experiments.poisoning_loss"),
    Entry("poisoning-sample-size", "robustlab.experiments.poisoning_sample_size"),
    Entry("poisoning-width", "robustlab.experiments.poisoning_width"),
    # paper 004: the reflected loss
    Entry("reflected-grid", "robustlab.experiments.reflected_grid"),
    Entry("reflected-adversarial-training", "robustlab.experiments.reflected_adversarial_training"),
    Entry("multiclass-reflected", "robustlab.experiments.multiclass_reflected"),
)

_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class UnknownExperimentError(ValueError):
    """An experiment name that is not registered."""


def experiment_names(*, include_hidden: bool = False) -> list[str]:
    """Registered names in registry order; hidden ones only with ``include_hidden``."""
    return [entry.name for entry in ENTRIES if include_hidden or not entry.hidden]


def _entry(name: str) -> Entry:
    for entry in ENTRIES:
        if entry.name == name:
            return entry
    visible = experiment_names()
    hidden = [n for n in experiment_names(include_hidden=True) if n not in visible]
    allowed = ", ".join(visible) or "none"
    if hidden:
        allowed += f" (hidden: {', '.join(hidden)})"
    raise UnknownExperimentError(f"unknown experiment {name!r}; available: {allowed}")


@functools.cache
def load_experiment(module: str, *, name: str, hidden: bool = False) -> Experiment:
    """Import ``module`` and check it against the experiment protocol.

    Also serves unregistered modules (a user's own experiment, or one in a test). Raises
    TypeError when the module breaks the protocol, ValueError for a malformed name.
    """
    if not _NAME.match(name):
        raise ValueError(f"experiment names are lower-case words joined by '-', got {name!r}")
    return Experiment.from_module(importlib.import_module(module), name=name, hidden=hidden)


def get_experiment(name: str) -> Experiment:
    """The registered experiment ``name``. Raises UnknownExperimentError listing the names."""
    entry = _entry(name)
    return load_experiment(entry.module, name=entry.name, hidden=entry.hidden)


def list_experiments(*, include_hidden: bool = False) -> list[Experiment]:
    """Every registered experiment (hidden ones only with ``include_hidden``), loaded."""
    return [get_experiment(name) for name in experiment_names(include_hidden=include_hidden)]
