"""random_subset: a seeded uniform subset, the whole set when n is None or too large."""

from __future__ import annotations

import torch

from robustlab.data import random_subset


def test_random_subset_is_seeded_distinct_and_paired() -> None:
    x = torch.arange(20.0).reshape(10, 2)
    y = torch.arange(10)
    xs, ys = random_subset(x, y, 4, torch.Generator().manual_seed(3))
    again, _ = random_subset(x, y, 4, torch.Generator().manual_seed(3))
    assert xs.shape == (4, 2) and torch.equal(xs, again)
    assert len(set(ys.tolist())) == 4 and torch.equal(xs[:, 0], 2.0 * ys)  # rows stay paired
    assert random_subset(x, y, None, torch.Generator())[0] is x
    assert random_subset(x, y, 50, torch.Generator())[1] is y
