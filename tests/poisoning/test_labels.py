"""Label flips: rates, the i -> (i + 1) mod K shift, determinism."""

from __future__ import annotations

import math

import pytest
import torch

from robustlab.poisoning.labels import label_flip


@pytest.mark.parametrize("beta", [0.05, 0.3, 0.5])
def test_binary_flip_rate_and_values(beta: float) -> None:
    n = 20000
    y = torch.where(torch.rand(n, generator=torch.Generator().manual_seed(0)) < 0.5, 1.0, -1.0)
    result = label_flip(y, beta, seed=1)
    sd = math.sqrt(beta * (1 - beta) / n)
    assert abs(result.rate - beta) < 5 * sd
    assert torch.equal(result.y[result.flipped], -y[result.flipped])
    assert torch.equal(result.y[~result.flipped], y[~result.flipped])
    assert result.y.dtype == y.dtype
    # independent of the label: the rate is the same among positives and negatives
    for sign in (1.0, -1.0):
        mask = y == sign
        rate = float(result.flipped[mask].float().mean())
        assert abs(rate - beta) < 5 * math.sqrt(beta * (1 - beta) / int(mask.sum()))


def test_multiclass_shift_maps_i_to_i_plus_one_mod_k() -> None:
    K, n = 10, 30000
    y = torch.arange(n) % K
    result = label_flip(y, 0.3, num_classes=K, seed=2)
    assert torch.equal(result.y[result.flipped], (y[result.flipped] + 1) % K)
    assert torch.equal(result.y[~result.flipped], y[~result.flipped])
    assert (result.y[result.flipped & (y == K - 1)] == 0).all()
    assert result.y.dtype == torch.int64
    assert abs(result.rate - 0.3) < 5 * math.sqrt(0.21 / n)
    # per class, the flipped ones land on the next class only
    confusion = torch.zeros(K, K, dtype=torch.int64)
    confusion.index_put_((y, result.y), torch.ones(n, dtype=torch.int64), accumulate=True)
    off_diagonal = confusion - torch.diag(torch.diag(confusion))
    next_class = torch.tensor([confusion[i, (i + 1) % K] for i in range(K)])
    assert int(off_diagonal.sum()) == int(next_class.sum()) == int(result.flipped.sum())


def test_extremes_and_determinism() -> None:
    y = torch.tensor([1.0, -1.0, 1.0, 1.0])
    assert torch.equal(label_flip(y, 0.0, seed=0).y, y)
    assert torch.equal(label_flip(y, 1.0, seed=0).y, -y)
    a = label_flip(y.repeat(100), 0.4, seed=5)
    b = label_flip(y.repeat(100), 0.4, generator=torch.Generator().manual_seed(5))
    c = label_flip(y.repeat(100), 0.4, seed=6)
    assert torch.equal(a.y, b.y) and torch.equal(a.flipped, b.flipped)
    assert not torch.equal(a.flipped, c.flipped)
    # num_classes=2 with +-1 labels is the binary flip
    assert torch.equal(label_flip(y, 1.0, num_classes=2, seed=0).y, -y)
    assert torch.equal(label_flip(torch.tensor([0, 1]), 1.0, num_classes=2).y, torch.tensor([1, 0]))


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="beta"):
        label_flip(torch.ones(3), 1.5)
    with pytest.raises(ValueError, match="num_classes"):
        label_flip(torch.tensor([0, 1, 2]), 0.1)
    with pytest.raises(ValueError, match=r"0\.\.2"):
        label_flip(torch.tensor([0, 3]), 0.1, num_classes=3)
    with pytest.raises(ValueError, match="either"):
        label_flip(torch.ones(3), 0.1, seed=1, generator=torch.Generator())
