"""Property tests: every attack stays inside its budget (and box) for random shapes, budgets,
norms, losses and models, and never changes the model."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from robustlab import TwoLayerNet
from robustlab.attacks import bim, fgsm, pgd

F64 = torch.float64


def _budget(draw: st.DrawFn, n: int, generator: torch.Generator) -> object:
    kind = draw(st.sampled_from(["scalar", "list", "per_sample", "curve"]))
    value = st.floats(0.0, 2.0, allow_nan=False)
    if kind == "scalar":
        return draw(value)
    if kind == "list":
        return draw(st.lists(value, min_size=1, max_size=3))
    if kind == "per_sample":
        return torch.rand(n, generator=generator, dtype=F64) * 2
    return torch.rand(2, n, generator=generator, dtype=F64) * 2


@st.composite
def cases(draw: st.DrawFn) -> dict[str, object]:
    seed = draw(st.integers(0, 2**16))
    generator = torch.Generator().manual_seed(seed)
    n = draw(st.integers(1, 5))
    two_layer = draw(st.booleans())
    if two_layer:
        d = draw(st.integers(1, 6))
        ensemble = draw(st.integers(1, 3))
        outputs = draw(st.sampled_from([1, 3]))
        activation = draw(st.sampled_from(["relu", "leaky_relu", "tanh"]))
        model: object = TwoLayerNet.ntk(
            ensemble,
            7,
            d,
            outputs=outputs,
            activation=activation,
            alpha=0.1,
            generator=generator,
            dtype=F64,
        )
        shape: tuple[int, ...] = (d,)
    else:
        shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
        outputs = draw(st.sampled_from([1, 3]))
        size = int(torch.tensor(shape).prod())
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Flatten(), nn.Linear(size, 5), nn.Tanh(), nn.Linear(5, outputs))
        model = model.to(F64)
    x = torch.rand(n, *shape, generator=generator, dtype=F64)
    if outputs == 1:
        y: Tensor = torch.randint(0, 2, (n,), generator=generator).to(F64) * 2 - 1
    else:
        y = torch.randint(0, outputs, (n,), generator=generator)
    return {
        "model": model,
        "x": x,
        "y": y,
        "eps": _budget(draw, n, generator),
        "norm": draw(st.sampled_from(["l2", "linf"])),
        "loss": draw(st.sampled_from(["ce", "reflected", "margin"])),
        "box": draw(st.sampled_from([None, (0.0, 1.0)])),
        "attack": draw(st.sampled_from(["fgsm", "bim", "pgd", "pgd_restarts"])),
        "early_stop": draw(st.booleans()),
        "seed": seed,
    }


@settings(max_examples=60, deadline=None)
@given(cases())
def test_attacks_never_leave_their_budget(case: dict[str, object]) -> None:
    model, x, y = case["model"], case["x"], case["y"]
    assert isinstance(x, Tensor) and isinstance(y, Tensor)
    common = {"eps": case["eps"], "norm": case["norm"], "loss": case["loss"], "box": case["box"]}
    before = [p.detach().clone() for p in model.parameters()]  # type: ignore[attr-defined]
    if case["attack"] == "fgsm":
        result = fgsm(model, x, y, **common)  # type: ignore[arg-type]
    elif case["attack"] == "bim":
        result = bim(model, x, y, steps=4, early_stop=case["early_stop"], **common)  # type: ignore[arg-type]
    else:
        restarts = 2 if case["attack"] == "pgd_restarts" else 1
        result = pgd(
            model,
            x,
            y,
            steps=4,
            restarts=restarts,
            early_stop=case["early_stop"],  # type: ignore[arg-type]
            generator=torch.Generator().manual_seed(int(case["seed"])),
            **common,  # type: ignore[call-overload]
        )
    sample_dims = x.ndim - 1
    lead = result.x_adv.shape[: result.x_adv.ndim - x.ndim]
    assert result.x_adv.shape == (*lead, *x.shape)
    assert result.norms.shape == result.success.shape == result.eps.shape == (*lead, x.shape[0])
    delta = (result.x_adv - x).flatten(-sample_dims)
    norms = delta.norm(dim=-1) if case["norm"] == "l2" else delta.abs().amax(dim=-1)
    slack = result.eps * 1e-9 + 1e-12
    assert torch.all(norms <= result.eps + slack)
    assert torch.all(result.norms <= result.eps + slack)
    if case["box"] is not None:
        assert result.x_adv.min() >= 0.0 and result.x_adv.max() <= 1.0
    assert torch.equal(result.success, result.margin <= 0)
    after = list(model.parameters())  # type: ignore[attr-defined]
    assert all(torch.equal(p, q) and p.grad is None for p, q in zip(after, before, strict=True))
