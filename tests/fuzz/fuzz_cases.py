"""The public library functions as fuzz targets: one valid call each, and the argument slots
a hostile or careless user fills with bad values (issue 13 items 1 and 10).

A `Slot` names a function, one of its arguments and the kind of value the argument takes. The
fuzz tests replace that argument in the valid call by a bad value of the kind (non-finite,
mistyped, mismatched) and expect a ValueError or TypeError whose message names the argument.
Only the public API is used, so the same suite runs against any version of the library.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from robustlab import geometry, losses
from robustlab.attacks import (
    bim,
    clean_margin,
    fgsm,
    gradient_step,
    grid_search,
    minimal_gradient_step,
    minimal_perturbation,
    paper_grid_search,
    pgd,
    quantiles,
    robust_accuracy,
    step_decay,
    universal_perturbation,
)
from robustlab.data import Dataset, binary_pair, downsample, random_subset, synthetic, unit_norm
from robustlab.learners import (
    GaussianInputs,
    LaplaceInputs,
    StudentTInputs,
    adversarial_training,
    from_attack,
    gradient_flow,
    neurotron,
    projected_sgd,
    sgd,
    sgd_square_loss,
)
from robustlab.learners.neurotron import BallInputs
from robustlab.models import (
    Activation,
    LinearModel,
    PaperConvNet,
    TwoLayerNet,
    load_model,
    save_model,
)
from robustlab.models.single_filter import (
    SingleFilterNet,
    conv_sensing,
    identity_sensing,
    perturbed_mean_sensing,
)
from robustlab.poisoning import (
    AdversarialOracle,
    PoisonedGradientOracle,
    RandomOracle,
    RealizableOracle,
    clean_label,
    label_flip,
)

E, M, D, N = 2, 8, 4, 6


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


NET = TwoLayerNet.ntk(E, M, D, generator=_gen(0))
NET1 = TwoLayerNet.ntk(1, M, D, generator=_gen(1))
MULTI = TwoLayerNet.ntk(1, M, D, outputs=3, generator=_gen(2))
LINEAR = LinearModel.pytorch_init(1, D, generator=_gen(3))
X = torch.randn(N, D, generator=_gen(4))
Y = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
CLASSES = torch.tensor([0, 1, 2, 0, 1, 2])
FILTER = SingleFilterNet.relu_gate(torch.randn(E, D, generator=_gen(5)))
W_STAR = torch.randn(D, generator=_gen(6))
EYE = torch.eye(D)
IMAGES = torch.rand(3, 784, generator=_gen(7))


@dataclass(frozen=True)
class Slot:
    """Argument `arg` of the call `target(*args, **kwargs)`, holding a value of `kind`.

    `named`: the word the error message must contain (default: arg). `skip`: bad values of the
    kind that are legitimate here (e.g. 0 for a count that may be 0)."""

    label: str
    target: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    arg: str
    kind: str
    named: str = ""
    skip: tuple[str, ...] = field(default=())

    @property
    def word(self) -> str:
        return self.named or self.arg

    def call(self, value: Any = None, *, replace: bool = True) -> Any:
        bound = inspect.signature(self.target).bind(*self.args, **self.kwargs)
        if replace:
            bound.arguments[self.arg] = value
        return self.target(*bound.args, **bound.kwargs)

    def __repr__(self) -> str:
        return f"{self.label}:{self.arg}"


def _slots(
    label: str, target: Callable[..., Any], *args: Any, kinds: dict[str, str], **kwargs: Any
) -> list[Slot]:
    """One slot per entry of `kinds` ({argument: kind}, "kind:word" to name another word)."""
    slots = []
    for arg, spec in kinds.items():
        kind, _, named = spec.partition(":")
        skip: tuple[str, ...] = ()
        if kind == "count0":
            kind, skip = "count", ("zero",)
        if kind == "real0":  # >= 0 allowed, negatives too: only non-finite and mistyped
            kind, skip = "positive", ("zero", "negative")
        if kind == "nonneg":
            kind, skip = "positive", ("zero",)
        if kind == "int":  # any whole number
            kind, skip = "count", ("zero", "negative")
        if kind == "optcallable":  # None is the default
            kind, skip = "callable", ("None",)
        if label in ("TwoLayerNet.forward", "TwoLayerNet.input_grad"):
            # A forward pass checks dtype, device and shape; finiteness is checked at the entry
            # of the functions that call it (it sits in every hot loop).
            skip += ("nan entry", "inf entry", "all -inf")
        if label == "load_model":  # a file holds JSON values and tensors only
            skip += ("complex", "a list", "a string") if kind == "tensor" else ("complex",)
        slots.append(Slot(label, target, args, kwargs, arg, kind, named, skip))
    return slots


def _saved_model(tensors: dict[str, torch.Tensor], meta: dict[str, Any], cls: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="robustlab-fuzz-"))
    path = folder / "model.safetensors"
    header = {"robustlab_class": cls, "robustlab_meta": json.dumps(meta)}
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=header)
    return path


def load_two_layer(**changes: Any) -> Any:
    """load_model on a TwoLayerNet file whose metadata or W0 carry the given values."""
    tensors, meta = NET.saved_state()
    tensors = dict(tensors)
    meta = dict(meta)
    if "W0" in changes:
        tensors["W0"] = changes.pop("W0")
    meta.update(changes)
    return load_model(_saved_model(tensors, meta, "TwoLayerNet"))


def load_meta(scale: Any = 1.0, alpha: Any = 0.0, train_top: Any = False, W0: Any = NET.W0) -> Any:
    """Entry point of the load_model slots (each keyword is one stored value)."""
    return load_two_layer(scale=scale, alpha=alpha, train_top=train_top, W0=W0)


def load_conv(width: Any = 4) -> Any:
    net = PaperConvNet(4, generator=_gen(8))
    tensors, meta = net.saved_state()
    return load_model(_saved_model(dict(tensors), {**meta, "width": width}, "PaperConvNet"))


def _oracle_gradient(w: torch.Tensor) -> torch.Tensor:
    return 2 * w


def _psfo_call(w: Any) -> Any:
    return PoisonedGradientOracle(_oracle_gradient, budget=0.1, generator=_gen(9))(w)


def _pgd_attack(model: Any, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    result = pgd(model, x, y, eps=0.1, steps=2)
    return result.x_adv[0]


def _labels_call(x: Any) -> Any:
    oracle = RandomOracle(FILTER, W_STAR, theta=0.1)
    return oracle.labels(x, FILTER.w.detach(), _gen(10))


def _forward(x: Any) -> Any:
    return NET(x)


def _input_grad(x: Any) -> Any:
    return NET.input_grad(x)


def _project(radius: Any) -> Any:
    net = TwoLayerNet.ntk(1, M, D, generator=_gen(11))
    net.project_to_ball(radius)
    return net


def _linear_project(radius: Any) -> Any:
    model = LinearModel.zeros(1, D)
    model.project_to_ball(radius)
    return model


def _save(model: Any) -> Path:
    return save_model(model, Path(tempfile.mkdtemp(prefix="robustlab-fuzz-")) / "m.safetensors")


def _dataset(x: Any = X, y: Any = Y) -> Dataset:
    return Dataset(x, y, "fuzz")


def _binary_pair(positive: Any = 1) -> Dataset:
    return binary_pair(Dataset(X, torch.tensor([0, 1, 0, 1, 0, 1]), "pair"), positive=positive)


SLOTS: list[Slot] = [
    # ------------------------------------------------------------------ models
    *_slots(
        "TwoLayerNet",
        TwoLayerNet,
        NET.W.detach(),
        NET.a.detach(),
        scale=1.0,
        alpha=0.0,
        train_top=False,
        kinds={"W": "tensor", "a": "tensor", "scale": "real0", "alpha": "real0"},
    ),
    *_slots("TwoLayerNet", TwoLayerNet, NET.W.detach(), NET.a.detach(), kinds={"b": "tensor"}),
    *_slots(
        "TwoLayerNet",
        TwoLayerNet,
        NET.W.detach(),
        NET.a.detach(),
        train_top=False,
        kinds={"train_top": "flag"},
    ),
    *_slots(
        "TwoLayerNet.ntk",
        TwoLayerNet.ntk,
        E,
        M,
        D,
        outputs=1,
        dtype=torch.float32,
        kinds={
            "ensemble": "count",
            "width": "count",
            "dim": "count",
            "outputs": "count",
            "dtype": "dtype",
        },
    ),
    *_slots("TwoLayerNet.bubeck", TwoLayerNet.bubeck, E, M, D, kinds={"width": "count"}),
    *_slots(
        "TwoLayerNet.vardi",
        TwoLayerNet.vardi,
        E,
        M,
        D,
        init_scale=0.01,
        kinds={"init_scale": "positive", "dim": "count"},
    ),
    *_slots(
        "TwoLayerNet.leaky",
        TwoLayerNet.leaky,
        E,
        M,
        D,
        kappa=0.5,
        omega=1.0,
        kinds={"kappa": "positive", "omega": "positive", "ensemble": "count"},
    ),
    *_slots("TwoLayerNet.forward", _forward, X, kinds={"x": "input"}),
    *_slots("TwoLayerNet.input_grad", _input_grad, X, kinds={"x": "input"}),
    *_slots("TwoLayerNet.project_to_ball", _project, 1.0, kinds={"radius": "nonneg"}),
    *_slots(
        "LinearModel",
        LinearModel,
        torch.zeros(E, D),
        torch.zeros(E),
        kinds={"weight": "tensor", "bias": "tensor"},
    ),
    *_slots(
        "LinearModel.zeros",
        LinearModel.zeros,
        E,
        D,
        outputs=1,
        kinds={"ensemble": "count", "dim": "count", "outputs": "count"},
    ),
    *_slots(
        "LinearModel.pytorch_init",
        LinearModel.pytorch_init,
        E,
        D,
        dtype=torch.float32,
        kinds={"dim": "count", "dtype": "dtype"},
    ),
    *_slots("LinearModel.project_to_ball", _linear_project, 1.0, kinds={"radius": "nonneg"}),
    *_slots(
        "SingleFilterNet",
        SingleFilterNet,
        identity_sensing(D),
        torch.ones(E, D),
        alpha=0.0,
        kinds={"sensing": "tensor", "w": "tensor", "alpha": "real0"},
    ),
    *_slots("identity_sensing", identity_sensing, D, kinds={"dim": "count"}),
    *_slots(
        "conv_sensing",
        conv_sensing,
        D,
        2,
        stride=1,
        kinds={"dim": "count", "filter_size": "count", "stride": "count"},
    ),
    *_slots(
        "perturbed_mean_sensing",
        perturbed_mean_sensing,
        2,
        2,
        D,
        kinds={"width": "count", "filter_size": "count", "dim": "count"},
    ),
    *_slots(
        "PaperConvNet",
        PaperConvNet,
        4,
        10,
        1,
        28,
        kinds={
            "width": "count",
            "num_classes": "count",
            "in_channels": "count",
            "image_size": "count",
        },
    ),
    *_slots(
        "load_model",
        load_meta,
        kinds={"scale": "real0", "alpha": "real0", "train_top": "flag", "W0": "tensor"},
    ),
    *_slots("load_model", load_conv, kinds={"width": "count"}),
    # ------------------------------------------------------------------ geometry
    *_slots(
        "project_l2_ball",
        geometry.project_l2_ball,
        X,
        1.0,
        kinds={"delta": "tensor", "radius": "nonneg"},
    ),
    *_slots(
        "project_linf_ball",
        geometry.project_linf_ball,
        X,
        1.0,
        kinds={"delta": "tensor", "radius": "nonneg"},
    ),
    *_slots(
        "project_box",
        geometry.project_box,
        X,
        -1.0,
        1.0,
        kinds={"x": "tensor", "low": "real0:box", "high": "real0:box"},
    ),
    *_slots(
        "project_simplex_l1",
        geometry.project_simplex_l1,
        X.abs(),
        1.0,
        kinds={"v": "tensor", "radius": "nonneg"},
    ),
    *_slots(
        "project_l21_ball",
        geometry.project_l21_ball,
        X,
        1.0,
        kinds={"delta": "tensor", "budget": "nonneg:radius"},
    ),
    *_slots(
        "project_l2inf_ball",
        geometry.project_l2inf_ball,
        X,
        1.0,
        kinds={"delta": "tensor", "budget": "nonneg:radius"},
    ),
    *_slots(
        "project_weight_ball",
        geometry.project_weight_ball,
        NET.W.detach(),
        NET.W0,
        0.5,
        kinds={"W": "tensor", "W0": "tensor", "radius": "nonneg"},
    ),
    *_slots("L21", geometry.L21, 1.0, kinds={"S": "nonneg"}),
    *_slots("L2Inf", geometry.L2Inf, 1.0, kinds={"B": "nonneg"}),
    *_slots("L21.from_C", geometry.L21.from_C, 1.0, 10, kinds={"C": "nonneg", "n": "count"}),
    # ------------------------------------------------------------------ losses
    *_slots("logistic", losses.logistic, X, kinds={"z": "typed"}),
    *_slots("reflected", losses.reflected, X, kinds={"z": "typed"}),
    *_slots("exponential", losses.exponential, X, kinds={"z": "typed"}),
    *_slots("margin", losses.margin, X, kinds={"z": "typed"}),
    *_slots("margin_derivative", losses.margin_derivative, "logistic", X, kinds={"z": "typed"}),
    *_slots(
        "cross_entropy",
        losses.cross_entropy,
        torch.randn(N, 3),
        CLASSES,
        kinds={"logits": "typed", "labels": "classes"},
    ),
    *_slots(
        "greedy_reflected",
        losses.greedy_reflected,
        torch.randn(N, 3),
        CLASSES,
        kinds={"labels": "classes"},
    ),
    *_slots(
        "multiclass_margin",
        losses.multiclass_margin,
        torch.randn(N, 3),
        CLASSES,
        kinds={"labels": "classes"},
    ),
    # ------------------------------------------------------------------ attacks
    *_slots(
        "pgd",
        pgd,
        NET,
        X,
        Y,
        eps=0.5,
        steps=3,
        restarts=1,
        step_ratio=2.5,
        box=None,
        kinds={
            "x": "input",
            "y": "labels",
            "eps": "budget",
            "steps": "count",
            "restarts": "count",
            "step_ratio": "positive",
            "box": "box",
            "norm": "norm",
            "generator": "generator",
        },
    ),
    *_slots("pgd", pgd, NET, X, Y, eps=0.5, steps=3, kinds={"step_size": "positive"}),
    *_slots("pgd", pgd, LINEAR, X, Y, eps=0.5, steps=3, kinds={"x": "input"}),
    *_slots("pgd", pgd, MULTI, X, CLASSES, eps=0.5, steps=3, kinds={"y": "classes"}),
    *_slots(
        "fgsm",
        fgsm,
        NET,
        X,
        Y,
        eps=0.5,
        kinds={"x": "input", "y": "labels", "eps": "budget", "box": "box"},
    ),
    *_slots(
        "bim",
        bim,
        NET,
        X,
        Y,
        eps=0.5,
        steps=3,
        kinds={"x": "input", "eps": "budget", "steps": "count", "schedule": "optcallable"},
    ),
    *_slots("gradient_step", gradient_step, NET, X, 0.5, kinds={"x": "input", "eta": "real0"}),
    *_slots(
        "minimal_gradient_step",
        minimal_gradient_step,
        NET,
        X,
        max_eta=10.0,
        rtol=1e-6,
        scan_points=16,
        kinds={
            "x": "input",
            "max_eta": "nonneg",
            "rtol": "positive",
            "scan_points": "count",
        },
    ),
    *_slots(
        "minimal_gradient_step",
        minimal_gradient_step,
        TwoLayerNet.ntk(1, M, D, activation="tanh", generator=_gen(12)),
        X,
        max_eta=10.0,
        kinds={"max_eta": "nonneg"},
    ),
    *_slots(
        "universal_perturbation",
        universal_perturbation,
        NET,
        X,
        Y,
        fraction=1.0,
        max_eta=100.0,
        kinds={"X": "input", "y": "labels", "fraction": "positive", "max_eta": "nonneg"},
    ),
    *_slots(
        "grid_search",
        grid_search,
        "ce",
        torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64),
        0,
        box=(-0.5, 0.5),
        radius=0.7,
        points_per_axis=5,
        top_k=(3,),
        kinds={
            "x": "tensor",
            "box": "box",
            "radius": "nonneg",
            "points_per_axis": "count",
            "loss_fn": "callable",
        },
    ),
    *_slots(
        "robust_accuracy",
        robust_accuracy,
        functools.partial(pgd, steps=2),
        NET,
        X,
        Y,
        [0.0, 0.5],
        kinds={
            "x": "input",
            "y": "labels",
            "budgets": "budget",
            "attack": "callable",
            "batch_size": "count",
        },
    ),
    *_slots("clean_margin", clean_margin, NET, X, Y, kinds={"x": "input", "y": "labels"}),
    *_slots("quantiles", quantiles, X.abs(), (0.5,), kinds={"levels": "budget"}),
    *_slots(
        "minimal_perturbation",
        minimal_perturbation,
        NET,
        X,
        Y,
        method="pgd",
        max_eps=2.0,
        iterations=2,
        kinds={"x": "input", "y": "labels", "max_eps": "positive", "iterations": "count"},
    ),
    *_slots("step_decay", step_decay, 0.5, 2, kinds={"gamma": "positive", "every": "count"}),
    # ------------------------------------------------------------------ learners
    *_slots(
        "sgd",
        sgd,
        NET,
        X,
        Y,
        lr=0.1,
        batch_size=2,
        epochs=1,
        weight_decay=0.0,
        kinds={
            "model": "module",
            "X": "input",
            "y": "labels",
            "lr": "positive",
            "weight_decay": "nonneg",
            "batch_size": "count",
            "epochs": "count",
            "max_steps": "count0",
            "lazy_radius": "nonneg",
            "generator": "generator",
        },
    ),
    *_slots("sgd", sgd, MULTI, X, CLASSES, lr=0.1, kinds={"y": "classes"}),
    *_slots("sgd", sgd, LINEAR, X, Y, lr=0.1, kinds={"X": "input", "lr": "positive"}),
    *_slots(
        "adversarial_training",
        adversarial_training,
        NET,
        X,
        Y,
        attack=_pgd_attack,
        lr=0.1,
        epochs=1,
        kinds={
            "X": "input",
            "y": "labels",
            "lr": "positive",
            "epochs": "count",
            "attack": "callable",
            "lr_decay": "pair:lr_decay",
        },
    ),
    *_slots(
        "projected_sgd",
        projected_sgd,
        _oracle_gradient,
        eta=0.1,
        T=3,
        w0=torch.ones(D),
        D=1.0,
        kinds={"eta": "positive", "T": "count", "w0": "tensor", "D": "nonneg"},
    ),
    *_slots(
        "gradient_flow",
        gradient_flow,
        TwoLayerNet.vardi(1, M, D, generator=_gen(13)),
        X,
        Y,
        max_steps=3,
        record_every=1,
        kinds={
            "X": "input",
            "y": "labels",
            "step_size": "positive",
            "loss_threshold": "positive",
            "max_steps": "count0",
            "record_every": "count",
        },
    ),
    *_slots(
        "neurotron",
        neurotron,
        FILTER,
        RandomOracle(FILTER, W_STAR, theta=0.1),
        eta=0.1,
        steps=3,
        M=EYE,
        sampler=GaussianInputs(D),
        generator=_gen(14),
        kinds={
            "eta": "positive",
            "steps": "count",
            "M": "tensor",
            "batch_size": "count",
            "w0": "tensor",
            "sampler": "callable",
        },
    ),
    *_slots(
        "sgd_square_loss",
        sgd_square_loss,
        FILTER,
        RandomOracle(FILTER, W_STAR, theta=0.1),
        eta=0.1,
        steps=3,
        sampler=GaussianInputs(D),
        generator=_gen(15),
        kinds={"eta": "positive", "steps": "count", "record_every": "count"},
    ),
    *_slots("GaussianInputs", GaussianInputs, D, 1.0, kinds={"dim": "count", "sigma": "positive"}),
    *_slots("LaplaceInputs", LaplaceInputs, D, 1.0, kinds={"scale": "positive"}),
    *_slots("StudentTInputs", StudentTInputs, D, 5.0, kinds={"df": "positive"}),
    *_slots("BallInputs", BallInputs, D, 1.0, kinds={"radius": "positive"}),
    # ------------------------------------------------------------------ poisoning
    *_slots(
        "clean_label",
        clean_label,
        NET1,
        X,
        Y,
        geometry.L21(1.0),
        steps=2,
        kinds={
            "X": "input",
            "y": "labels",
            "steps": "count0",
            "step_size": "nonneg",
            "chunk_size": "count",
            "box": "box",
            "model": "callable",
        },
    ),
    *_slots(
        "clean_label",
        clean_label,
        MULTI,
        X,
        CLASSES,
        geometry.L2Inf(1.0),
        steps=2,
        kinds={"y": "classes"},
    ),
    *_slots(
        "label_flip",
        label_flip,
        Y,
        0.5,
        seed=0,
        kinds={"y": "labels", "beta": "nonneg", "seed": "int", "num_classes": "count"},
    ),
    *_slots(
        "RandomOracle",
        RandomOracle,
        FILTER,
        W_STAR,
        theta=0.1,
        beta=1.0,
        kinds={"w_star": "tensor", "theta": "nonneg", "beta": "nonneg", "model": "module"},
    ),
    *_slots(
        "AdversarialOracle",
        AdversarialOracle,
        FILTER,
        W_STAR,
        theta=0.1,
        M=EYE,
        kinds={"M": "tensor", "theta": "nonneg"},
    ),
    *_slots(
        "RealizableOracle",
        RealizableOracle,
        FILTER,
        W_STAR,
        W_STAR + 0.1,
        theta=10.0,
        kinds={"w_adv": "tensor", "theta": "nonneg"},
    ),
    *_slots("RandomOracle.labels", _labels_call, torch.randn(N, D), kinds={"x": "input"}),
    *_slots(
        "PoisonedGradientOracle",
        PoisonedGradientOracle,
        _oracle_gradient,
        budget=0.1,
        total_budget=1.0,
        kinds={
            "budget": "nonneg",
            "total_budget": "nonneg",
            "gradient": "callable",
            "generator": "generator",
        },
    ),
    *_slots("PoisonedGradientOracle.__call__", _psfo_call, torch.ones(D), kinds={"w": "tensor"}),
    # ------------------------------------------------------------------ data
    *_slots(
        "gaussian",
        synthetic.gaussian,
        N,
        D,
        sigma=1.0,
        seed=0,
        kinds={"n": "count", "d": "count", "sigma": "positive", "seed": "int"},
    ),
    *_slots("sphere", synthetic.sphere, N, D, radius=1.0, seed=0, kinds={"radius": "positive"}),
    *_slots(
        "random_labels_sphere",
        synthetic.random_labels_sphere,
        N,
        D,
        seed=0,
        kinds={"n": "count", "d": "count"},
    ),
    *_slots(
        "separable",
        synthetic.separable,
        N,
        D,
        margin=0.1,
        radius=1.0,
        seed=0,
        kinds={"margin": "positive", "radius": "positive", "direction": "tensor"},
    ),
    *_slots(
        "schmidt_gaussian",
        synthetic.schmidt_gaussian,
        N,
        D,
        sigma=1.0,
        seed=0,
        kinds={"sigma": "positive", "theta": "tensor"},
    ),
    *_slots(
        "schmidt_bernoulli",
        synthetic.schmidt_bernoulli,
        N,
        D,
        tau=0.5,
        seed=0,
        kinds={"tau": "positive", "n": "count"},
    ),
    *_slots("make_generator", synthetic.make_generator, 0, kinds={"seed": "int"}),
    *_slots("Dataset", _dataset, kinds={"x": "typed:Dataset x", "y": "typed:Dataset y"}),
    *_slots(
        "random_subset",
        random_subset,
        X,
        Y,
        3,
        _gen(16),
        kinds={"x": "typed", "n": "count0", "generator": "generator"},
    ),
    *_slots("downsample", downsample, IMAGES, 196, kinds={"x": "tensor", "d": "count"}),
    *_slots("unit_norm", unit_norm, X, kinds={"data": "tensor"}),
    *_slots("binary_pair", _binary_pair, kinds={"positive": "int"}),
    # ------------------------------------------------------------------ more entry points
    *_slots("Activation", Activation, "leaky_relu", 0.1, kinds={"alpha": "real0"}),
    *_slots("save_model", _save, NET, kinds={"model": "module"}),
    *_slots("SingleFilterNet.relu_gate", SingleFilterNet.relu_gate, W_STAR, kinds={"w": "tensor"}),
    *_slots(
        "SingleFilterNet.convolutional",
        SingleFilterNet.convolutional,
        torch.ones(2),
        D,
        stride=1,
        kinds={"w": "tensor", "dim": "count", "stride": "count"},
    ),
    *_slots("get_norm", geometry.get_norm, "l2", kinds={"name": "norm:norm"}),
    *_slots("get_margin_loss", losses.get_margin_loss, "ce", kinds={"name": "norm:loss"}),
    *_slots("square", losses.square, X, X, kinds={"prediction": "typed", "target": "typed"}),
    *_slots(
        "paper_grid_search",
        paper_grid_search,
        "ce",
        points_per_axis=4,
        top_k=(2,),
        kinds={"points_per_axis": "count"},
    ),
    *_slots("from_attack", from_attack, pgd, kinds={"attack": "callable"}),
    *_slots(
        "RealizableOracle.theta_for",
        RealizableOracle.theta_for,
        FILTER,
        W_STAR,
        W_STAR + 0.1,
        torch.randn(N, D),
        kinds={"x": "input", "w_adv": "tensor"},
    ),
    *_slots(
        "RealizableOracle.noise_bound",
        RealizableOracle.noise_bound,
        FILTER,
        W_STAR,
        W_STAR + 0.1,
        radius=1.0,
        kinds={"radius": "nonneg", "w_star": "tensor"},
    ),
]


def _nan_at(t: torch.Tensor, index: int, value: float = math.nan) -> torch.Tensor:
    out = t.detach().clone().to(torch.float32 if not t.is_floating_point() else t.dtype)
    flat = out.reshape(-1)
    if flat.numel():
        flat[index % flat.numel()] = value
    return out


def bad_values(slot: Slot, base: Any) -> dict[str, Any]:
    """The deterministic bad values of a slot's kind, by name. `base`: the valid value (or
    None when the argument is optional and was left out)."""
    tensor_like = base if isinstance(base, torch.Tensor) else X
    typed = {"a list": [[1.0, 2.0]], "a string": "x"}
    non_finite = {
        "nan entry": _nan_at(tensor_like, 1),
        "inf entry": _nan_at(tensor_like, 0, math.inf),
        "all -inf": torch.full_like(tensor_like.float(), -math.inf).to(
            tensor_like.dtype if tensor_like.is_floating_point() else torch.float32
        ),
    }
    kind = slot.kind
    values: dict[str, Any]
    if kind == "tensor":
        values = {**non_finite, **typed}
    elif kind == "typed":
        values = dict(typed)
    elif kind == "input":
        values = {
            **non_finite,
            **typed,
            "float64 on float32 model": tensor_like.double(),
            "integer dtype": tensor_like.long(),
            "wrong last axis": torch.zeros(*tensor_like.shape[:-1], tensor_like.shape[-1] + 1),
        }
    elif kind == "labels":
        values = {"nan entry": _nan_at(Y, 2), "inf entry": _nan_at(Y, 0, math.inf), **typed}
    elif kind == "classes":
        values = {
            "out of range": torch.tensor([0, 1, 2, 3, 1, 0]),
            "negative": torch.tensor([0, -1, 2, 0, 1, 0]),
            "a list": [0, 1],
        }
    elif kind == "positive":
        values = {
            "nan": math.nan,
            "inf": math.inf,
            "-inf": -math.inf,
            "a string": "1.0",
            "complex": 1 + 1j,
            "zero": 0.0,
            "negative": -1.0,
        }
    elif kind == "count":
        values = {
            "fraction": 2.5,
            "a string": "3",
            "nan": math.nan,
            "bool": True,
            "zero": 0,
            "negative": -1,
        }
    elif kind == "flag":
        values = {"the string false": "false", "the int 1": 1, "None": None}
    elif kind == "box":
        values = {
            "nan low": (math.nan, 1.0),
            "inf high": (-5.0, math.inf),
            "reversed": (5.0, -5.0),
            "a string": "01",
            "one number": (0.0,),
        }
    elif kind == "budget":
        values = {
            "nan": math.nan,
            "inf": math.inf,
            "negative": -1.0,
            "empty list": [],
            "list of strings": ["a"],
            "a string": "0.5",
            "nan in list": [0.1, math.nan],
            "nan tensor": torch.tensor([math.nan]),
        }
    elif kind == "dtype":
        values = {"integer dtype": torch.int64, "a string": "float32"}
    elif kind == "callable":
        values = {"None": None, "a number": 3}
    elif kind == "module":
        values = {"a string": "net", "a number": 3}
    elif kind == "generator":
        values = {"a number": 3, "a string": "seed"}
    elif kind == "norm":
        values = {"unknown name": "l3", "a number": 5}
    elif kind == "pair":
        values = {"nan factor": (math.nan, 1), "fractional every": (0.5, 1.5), "zero": (0.0, 1)}
    else:
        raise AssertionError(f"unknown kind {kind}")
    return {key: value for key, value in values.items() if key not in slot.skip}


def base_value(slot: Slot) -> Any:
    bound = inspect.signature(slot.target).bind(*slot.args, **slot.kwargs)
    bound.apply_defaults()
    return bound.arguments.get(slot.arg)


def enumerate_cases() -> list[tuple[Slot, str, Any]]:
    """Every (slot, bad-value name, bad value) of the deterministic suite."""
    return [
        (slot, name, value)
        for slot in SLOTS
        for name, value in bad_values(slot, base_value(slot)).items()
    ]
