"""Clean-label poisoning: budgets never overspent, closed form vs autograd, MNIST 0-vs-1."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from robustlab.geometry import L21, L2Inf
from robustlab.learners.sgd import sgd
from robustlab.learners.trace import evaluate
from robustlab.models import LinearModel, TwoLayerNet
from robustlab.poisoning.clean_label import clean_label

F64 = torch.float64


class Wrapped(nn.Module):
    """Hides a model's input_grad so that clean_label takes the autograd path."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.inner(x)
        return out


def _binary(n: int, d: int, seed: int, dtype: torch.dtype = F64) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=g, dtype=dtype)
    y = torch.where(torch.rand(n, generator=g) < 0.5, 1.0, -1.0).to(dtype)
    return X, y


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 25),
    d=st.integers(1, 6),
    radius=st.floats(0.0, 30.0),
    l21=st.booleans(),
    steps=st.integers(0, 4),
    step_scale=st.floats(0.01, 1e4),
    loss=st.sampled_from(["negated", "ce"]),
    box=st.booleans(),
    two_layer=st.booleans(),
    normalize=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_never_spends_more_than_the_budget(
    n: int,
    d: int,
    radius: float,
    l21: bool,
    steps: int,
    step_scale: float,
    loss: str,
    box: bool,
    two_layer: bool,
    normalize: bool,
    seed: int,
) -> None:
    X, y = _binary(n, d, seed, dtype=torch.float32)
    g = torch.Generator().manual_seed(seed)
    model: nn.Module = (
        TwoLayerNet.ntk(1, 8, d, generator=g)
        if two_layer
        else LinearModel.pytorch_init(1, d, generator=g)
    )
    budget = L21(radius) if l21 else L2Inf(radius)
    result = clean_label(
        model, X, y, budget, loss=loss, steps=steps, step_size=step_scale * (radius + 1),  # type: ignore[arg-type]
        box=(0.0, 1.0) if box else None, normalize=normalize,
    )  # fmt: skip
    norms = (result.x.double() - X.double()).norm(dim=1)
    spent = float(norms.sum()) if l21 else float(norms.max())
    assert spent <= radius
    assert result.record.spent <= result.record.given == radius
    torch.testing.assert_close(result.record.norms, norms)
    assert torch.equal(result.y, y)
    if box:
        assert float(result.x.min()) >= 0.0 and float(result.x.max()) <= 1.0


@pytest.mark.parametrize("loss", ["negated", "ce"])
@pytest.mark.parametrize("budget", [L21(3.0), L2Inf(0.4)])
def test_closed_form_equals_autograd(loss: str, budget: L21 | L2Inf) -> None:
    X, y = _binary(30, 6, 0)
    net = TwoLayerNet.ntk(1, 20, 6, generator=torch.Generator().manual_seed(1), dtype=F64)
    closed = clean_label(net, X, y, budget, loss=loss, steps=5)  # type: ignore[arg-type]
    auto = clean_label(Wrapped(net), X, y, budget, loss=loss, steps=5)  # type: ignore[arg-type]
    torch.testing.assert_close(closed.x, auto.x, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(closed.objective, auto.objective)
    forced = clean_label(net, X, y, budget, loss=loss, steps=5, closed_form=False)  # type: ignore[arg-type]
    torch.testing.assert_close(closed.x, forced.x, rtol=1e-10, atol=1e-12)
    # gradients chunk by chunk, one global projection: the chunk size changes nothing
    chunked = clean_label(net, X, y, budget, loss=loss, steps=5, chunk_size=7)  # type: ignore[arg-type]
    torch.testing.assert_close(closed.x, chunked.x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("loss", ["negated", "ce"])
def test_multiclass_closed_form_equals_autograd_greedy_loss(loss: str) -> None:
    g = torch.Generator().manual_seed(3)
    X = torch.randn(25, 4, generator=g, dtype=F64)
    y = torch.randint(0, 3, (25,), generator=g)
    model = LinearModel.pytorch_init(1, 4, outputs=3, generator=g, dtype=F64)
    closed = clean_label(model, X, y, L21(2.0), loss=loss, steps=4)  # type: ignore[arg-type]
    auto = clean_label(Wrapped(model), X, y, L21(2.0), loss=loss, steps=4)  # type: ignore[arg-type]
    torch.testing.assert_close(closed.x, auto.x, rtol=1e-10, atol=1e-12)
    assert float(closed.objective[-1]) > float(closed.objective[0])


def test_one_l21_step_by_hand_for_a_linear_model() -> None:
    X, y = _binary(12, 5, 4)
    g = torch.Generator().manual_seed(5)
    model = LinearModel.pytorch_init(1, 5, generator=g, dtype=F64)
    w, b = model.weight.detach()[0], model.bias.detach()[0]  # type: ignore[union-attr]
    z = y * (X @ w + b)
    step = 0.7
    for loss, slope in (("negated", torch.sigmoid(z)), ("ce", torch.sigmoid(-z))):
        # d/dx of the maximized loss is -slope_i y_i w; the step is normalized by its l_{2,1} norm
        grad = -(slope * y).unsqueeze(1) * w
        expected = X + step * grad / grad.norm(dim=1).sum()
        result = clean_label(model, X, y, L21(100.0), loss=loss, steps=1, step_size=step)  # type: ignore[arg-type]
        torch.testing.assert_close(result.x, expected)
        raw = clean_label(
            model,
            X,
            y,
            L21(100.0),
            loss=loss,
            steps=1,
            step_size=step,
            normalize=False,  # type: ignore[arg-type]
        )
        torch.testing.assert_close(raw.x, X + step * grad)
        per_row = clean_label(model, X, y, L2Inf(100.0), loss=loss, steps=1, step_size=step)  # type: ignore[arg-type]
        torch.testing.assert_close(per_row.x, X + step * grad / grad.norm(dim=1, keepdim=True))


def test_budget_is_spent_and_objective_rises_with_plain_modules() -> None:
    X, y = _binary(40, 6, 6, dtype=torch.float32)
    torch.manual_seed(0)
    model = nn.Linear(6, 1)  # outputs (n, 1)
    for loss in ("negated", "ce"):
        result = clean_label(model, X, y, L21.from_C(1.0, 40), loss=loss, steps=20)  # type: ignore[arg-type]
        assert result.record.given == pytest.approx(math.sqrt(40))
        assert result.record.spent == pytest.approx(math.sqrt(40), rel=1e-3)
        assert float(result.objective[-1]) > float(result.objective[0])
        assert result.objective.shape == result.accuracy.shape == (21,)
    multiclass = nn.Linear(6, 4)
    labels = torch.randint(0, 4, (40,), generator=torch.Generator().manual_seed(0))
    result = clean_label(multiclass, X, labels, L2Inf(0.5), steps=10)
    assert result.record.spent_max <= 0.5
    assert float(result.accuracy[-1]) <= float(result.accuracy[0])


def test_bad_arguments_raise() -> None:
    X, y = _binary(5, 3, 0)
    net = TwoLayerNet.ntk(2, 4, 3, dtype=F64)
    with pytest.raises(ValueError, match="E = 1"):
        clean_label(net, X, y, L21(1.0))
    single = net.member(0)
    with pytest.raises(ValueError, match="budget"):
        clean_label(single, X, y, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="loss"):
        clean_label(single, X, y, L21(1.0), loss="hinge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="-1, \\+1"):
        clean_label(single, X, y * 3, L21(1.0))
    with pytest.raises(ValueError, match="box"):
        clean_label(single, X + 5, y, L21(1.0), box=(0.0, 1.0))
    with pytest.raises(ValueError, match="step_size"):
        clean_label(single, X, y, L21(1.0), normalize=False)


def test_negated_beats_ce_on_mnist_0_vs_1(data_dir: Path) -> None:
    """Paper 001 Fig. 1 (left), small: a linear model on 2000 MNIST 0/1 images.

    At an l_{2,1} budget of 4.5 per sample on average (S = 4.5 n, i.e. C = 4.5 sqrt(n); the
    paper's MNIST runs use C = 800 at n = 60000, 3.3 per sample) the negated loss poisons the
    training set so that a model retrained on it fails on clean test data, while the same
    budget spent on the cross-entropy is wasted on few samples. (At 2.7 per sample and below the
    cross-entropy attack is the stronger one here; see the final report.)
    """
    from robustlab.data import mnist_binary

    train, test = mnist_binary("train", data_dir=data_dir), mnist_binary("test", data_dir=data_dir)
    n = 2000
    idx = torch.randperm(train.x.shape[0], generator=torch.Generator().manual_seed(0))[:n]
    X, y = train.x[idx], train.y[idx]

    def fit(inputs: Tensor) -> LinearModel:
        model, _ = sgd(
            LinearModel.zeros(1, X.shape[1]), inputs, y, lr=0.1, batch_size=128, epochs=10,
            generator=torch.Generator().manual_seed(1),
        )  # fmt: skip
        return model

    clean = fit(X)
    assert float(evaluate(clean, test.x, test.y, loss="logistic")[1][0]) > 0.99
    budget = L21.from_C(4.5 * math.sqrt(n), n)
    accuracy, touched = {}, {}
    for loss in ("negated", "ce"):
        poisoned = clean_label(clean, X, y, budget, loss=loss, steps=50, box=(0.0, 1.0))  # type: ignore[arg-type]
        assert poisoned.record.spent_sum <= budget.S
        assert torch.equal(poisoned.y, y)
        accuracy[loss] = float(evaluate(fit(poisoned.x), test.x, test.y, loss="logistic")[1][0])
        touched[loss] = int((poisoned.record.norms > 1.0).sum())
    assert accuracy["negated"] < 0.5 < 0.85 < accuracy["ce"]
    # Fig. 1 (bottom): the negated loss spreads the budget, the cross-entropy piles it up
    assert touched["negated"] > touched["ce"]


# ------------------------------------------------- stochastic gradient ascent (authors' schedule)
@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 30),
    d=st.integers(1, 5),
    radius=st.floats(0.0, 20.0),
    l21=st.booleans(),
    steps=st.integers(0, 3),
    batch_size=st.integers(1, 12),
    normalize=st.booleans(),
    per_sample_box=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_stochastic_ascent_keeps_budget_and_box(
    n: int,
    d: int,
    radius: float,
    l21: bool,
    steps: int,
    batch_size: int,
    normalize: bool,
    per_sample_box: bool,
    seed: int,
) -> None:
    X, _ = _binary(n, d, seed, dtype=torch.float32)
    g = torch.Generator().manual_seed(seed)
    hi: float | Tensor = 1.0
    if per_sample_box:  # rows rescaled by 1/||x_i||: each row has its own pixel box
        hi = 1.0 / X.norm(dim=1, keepdim=True).clamp_min(1e-3)
        X = X * hi
    labels = torch.randint(0, 3, (n,), generator=g)
    model = LinearModel.pytorch_init(1, d, outputs=3, generator=g)
    budget = L21(radius) if l21 else L2Inf(radius)
    result = clean_label(
        model, X, labels, budget, loss="negated-ce", steps=steps, step_size=radius + 1.0,
        normalize=normalize, box=(0.0, hi), batch_size=batch_size, generator=g,
    )  # fmt: skip
    norms = (result.x.double() - X.double()).norm(dim=1)
    assert (float(norms.sum()) if l21 else float(norms.max())) <= radius
    assert bool((result.x >= 0).all()) and bool((result.x <= hi + 1e-7).all())
    assert result.objective.shape == (steps + 1,)


@pytest.mark.parametrize("budget", [L21(4.0), L2Inf(0.3)])
@pytest.mark.parametrize("batch_size", [1, 7, 100])
def test_stochastic_epoch_equals_a_full_step_for_per_sample_models(
    budget: L21 | L2Inf, batch_size: int
) -> None:
    """Without a box, a per-sample model's gradient of row i depends on row i only: an epoch of
    raw (or row-normalized) minibatch steps followed by Pi is one full-batch step, whatever the
    minibatch partition. Checked against the full-batch path and by hand."""
    g = torch.Generator().manual_seed(2)
    X = torch.rand(23, 5, generator=g, dtype=F64)
    y = torch.randint(0, 4, (23,), generator=g)
    model = LinearModel.pytorch_init(1, 5, outputs=4, generator=g, dtype=F64)
    normalize = isinstance(budget, L2Inf)
    kwargs = {"loss": "negated-ce", "step_size": 0.2, "normalize": normalize}
    full = clean_label(model, X, y, budget, steps=3, **kwargs)  # type: ignore[arg-type]
    sga = clean_label(
        model,
        X,
        y,
        budget,
        steps=3,
        batch_size=batch_size,
        generator=g,
        **kwargs,  # type: ignore[arg-type]
    )
    torch.testing.assert_close(sga.x, full.x)
    # by hand, one epoch: d/dx [-CE(-Wx - b, y)] = W^T (softmax(-(Wx + b)) - e_y)
    W, b = model.weight.detach()[0], model.bias.detach()[0]  # type: ignore[union-attr]
    grad = (torch.softmax(-(X @ W.T + b), dim=1) - torch.eye(4, dtype=F64)[y]) @ W
    if normalize:
        grad = grad / grad.norm(dim=1, keepdim=True)
    one = clean_label(
        model,
        X,
        y,
        budget,
        steps=1,
        batch_size=batch_size,
        generator=g,
        **kwargs,  # type: ignore[arg-type]
    )
    torch.testing.assert_close(one.x, X + budget.project(0.2 * grad))


def test_stochastic_ascent_clips_each_minibatch_before_the_projection() -> None:
    """One sample, one epoch: the step is clipped to [0, 1] first, then projected (authors'
    order), which differs from projecting first and clipping after (the full-batch order)."""
    X = torch.tensor([[0.9, 0.5]], dtype=F64)
    y = torch.tensor([1.0], dtype=F64)
    model = LinearModel.pytorch_init(1, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[-1.0, -1.0]], dtype=F64))  # ascent moves along (1, 1)
        model.bias.zero_()  # type: ignore[union-attr]
    kw = {"steps": 1, "step_size": 1.0, "normalize": True, "box": (0.0, 1.0)}
    sga = clean_label(model, X, y, L2Inf(0.5), batch_size=1, **kw)  # type: ignore[arg-type]
    # clip: (0.9, 0.5) + (0.707, 0.707) -> (1, 1); delta (0.1, 0.5) has norm 0.51 > 0.5: scaled
    delta = torch.tensor([[0.1, 0.5]], dtype=F64)
    torch.testing.assert_close(sga.x, X + delta * 0.5 / delta.norm())
    full = clean_label(model, X, y, L2Inf(0.5), **kw)  # type: ignore[arg-type]
    step = torch.tensor([[0.5, 0.5]], dtype=F64) / math.sqrt(2)
    torch.testing.assert_close(full.x, (X + step).clamp(0, 1))


def test_stochastic_ascent_refuses_a_bad_batch_size() -> None:
    X, y = _binary(5, 3, 0)
    model = LinearModel.pytorch_init(1, 3, dtype=F64)
    with pytest.raises(ValueError, match="batch_size"):
        clean_label(model, X, y, L21(1.0), batch_size=0)
