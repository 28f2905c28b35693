"""Exhaustive grid search over perturbations (paper 004 section 4.1, Figure 2).

Every point of a regular grid in a box, intersected with an l2 ball, is evaluated; the k grid
points of largest loss are kept (a running top-k, chunk by chunk, so memory stays bounded at
800^3 points) and the function counts how many of them actually flip the label. The paper's
setting: x = [3, 2, 1], y = 0, the identity model, box (-0.51, 0.51)^3, radius 0.7078, 800 points
per axis, k in {10, 100, 1000}, losses "ce" and "reflected" (greedy multiclass).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from robustlab import _checks
from robustlab.attacks._common import check_labels, check_loss, loss_and_margin
from robustlab.attacks.result import GridResult

logger = logging.getLogger(__name__)

GridLoss = str | Callable[[Tensor, Tensor], Tensor]
"""A loss name ("ce", "reflected", "margin") or a function (outputs (N, K), labels (N,)) ->
(N,) to maximize."""


def _identity(x: Tensor) -> Tensor:
    return x


def grid_search(
    loss_fn: GridLoss,
    x: Tensor,
    y: int | float | Tensor,
    *,
    box: tuple[float, float],
    radius: float,
    points_per_axis: int,
    top_k: Sequence[int] = (10, 100, 1000),
    model: Callable[[Tensor], Tensor] | None = None,
    chunk_size: int = 1 << 20,
    dtype: torch.dtype = torch.float64,
) -> GridResult:
    """Count label flips among the top-k grid perturbations by loss (paper 004 section 4.1).

    x: (d,) one input; y: its label (class index, or +-1 for a one-logit model); box = (low,
    high) for every coordinate of delta; the grid is linspace(low, high, points_per_axis) per
    axis, kept where ||delta||_2 <= radius. `model` maps (N, d) to (N, K) or (N,) outputs
    (default: the identity, as in the paper). A flip is margin <= 0 at x + delta. Memory is
    bounded by `chunk_size` grid points at a time (about 100 bytes each); the loop runs over
    the leading coordinates, the trailing ones are one batch.
    Raises ValueError for bad shapes, sizes or loss names.
    """
    _checks.tensor("x", x, floating=True)
    _checks.finite("y", y)
    _checks.box("box", box)
    _checks.real("radius", radius, low=0.0)
    _checks.counts(points_per_axis=points_per_axis)
    _checks.counts(chunk_size=chunk_size, **{f"top_k entry {i}": k for i, k in enumerate(top_k)})
    if not isinstance(loss_fn, str):
        _checks.callable_("loss_fn", loss_fn)
    if model is not None:
        _checks.callable_("model", model)
    _checks.dtype("dtype", dtype)
    if x.ndim != 1:
        raise ValueError(f"x must be one input of shape (d,), got {tuple(x.shape)}")
    if points_per_axis < 1:
        raise ValueError(f"points_per_axis must be >= 1, got {points_per_axis}")
    if not radius >= 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    low, high = float(box[0]), float(box[1])
    if low > high:
        raise ValueError(f"box needs low <= high, got ({low}, {high})")
    ks = tuple(int(k) for k in top_k)
    if not ks or min(ks) < 1:
        raise ValueError(f"top_k must be positive integers, got {top_k}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if isinstance(loss_fn, str):
        check_loss(loss_fn)
    net = model or _identity
    d = x.shape[0]
    total = points_per_axis**d
    k_max = max(ks)
    axis = torch.linspace(low, high, points_per_axis, dtype=dtype, device=x.device)
    base = x.to(dtype)

    probe = net(base.unsqueeze(0))
    one_logit = probe.ndim == 1 or (probe.ndim == 2 and probe.shape[1] == 1)
    outputs_2d = probe.reshape(1, 1) if one_logit else probe.reshape(1, 1, -1)
    label = check_labels(torch.as_tensor([y]).reshape(1).to(x.device), outputs_2d, 1)

    # The last r axes form a sub-grid of at most chunk_size points, sorted by squared norm once:
    # for fixed leading coordinates the points inside the ball are then a prefix of it.
    r = 1
    while r < d and points_per_axis ** (r + 1) <= chunk_size:
        r += 1
    tail = torch.cartesian_prod(*([axis] * r)).reshape(-1, r)
    tail_sq = (tail * tail).sum(dim=1)
    tail_sq, order = torch.sort(tail_sq)
    tail = tail[order]
    lead_dims = d - r
    lead_powers = [points_per_axis ** (lead_dims - 1 - j) for j in range(lead_dims)]
    best_loss = torch.empty(0, dtype=dtype, device=x.device)
    best_delta = torch.empty(0, d, dtype=dtype, device=x.device)
    best_flip = torch.empty(0, dtype=torch.bool, device=x.device)
    threshold = -math.inf
    in_ball = 0
    limit = radius * radius * (1 + 1e-12)
    name = loss_fn if isinstance(loss_fn, str) else "margin"
    for lead_index in range(points_per_axis**lead_dims):
        digits = [(lead_index // pw) % points_per_axis for pw in lead_powers]
        lead = axis[digits] if digits else axis[:0]
        room = limit - float((lead * lead).sum())
        count = int(
            torch.searchsorted(
                tail_sq, torch.tensor(room, dtype=dtype, device=x.device), right=True
            )
        )
        if count == 0:
            continue
        in_ball += count
        delta = torch.cat([lead.expand(count, lead_dims), tail[:count]], dim=1)
        out = net(base + delta)
        out = out.reshape(1, -1) if one_logit else out.reshape(1, out.shape[0], -1)
        labels = label.expand(out.shape[1])
        loss, margin = loss_and_margin(out, labels, name)
        if not isinstance(loss_fn, str):
            loss = loss_fn(out[0], labels).reshape(1, -1)
        loss, margin = loss[0], margin[0]
        if best_loss.shape[0] >= k_max:
            keep = (loss > threshold).nonzero().squeeze(1)
            if keep.numel() == 0:
                continue
            loss, margin, delta = loss[keep], margin[keep], delta[keep]
        take = min(k_max, loss.shape[0])
        top = torch.topk(loss, take).indices
        best_loss = torch.cat([best_loss, loss[top]])
        best_delta = torch.cat([best_delta, delta[top]])
        best_flip = torch.cat([best_flip, margin[top] <= 0])
        if best_loss.shape[0] > k_max:
            keep = torch.topk(best_loss, k_max).indices
            best_loss, best_delta, best_flip = best_loss[keep], best_delta[keep], best_flip[keep]
        if best_loss.shape[0] >= k_max:
            threshold = float(best_loss.min())
    order = torch.argsort(best_loss, descending=True, stable=True)
    best_loss, best_delta, best_flip = best_loss[order], best_delta[order], best_flip[order]
    flips = torch.stack([best_flip[:k].sum() for k in ks]).to(torch.int64)
    logger.debug("grid_search: %d of %d points in the ball", in_ball, total)
    if in_ball < k_max:
        logger.warning("only %d grid points in the ball, fewer than top_k %d", in_ball, k_max)
    return GridResult(
        top_k=ks,
        flips=flips,
        top_delta=best_delta,
        top_loss=best_loss,
        top_flipped=best_flip,
        points_in_ball=in_ball,
        points_total=int(total),
    )


def paper_grid_search(
    loss_fn: GridLoss, *, points_per_axis: int = 800, top_k: Sequence[int] = (10, 100, 1000)
) -> GridResult:
    """The exact setting of paper 004 section 4.1 (Figure 2): x = [3, 2, 1], y = 0, identity
    model, box (-0.51, 0.51)^3, l2 radius 0.7078."""
    x = torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64)
    return grid_search(
        loss_fn,
        x,
        0,
        box=(-0.51, 0.51),
        radius=0.7078,
        points_per_axis=points_per_axis,
        top_k=top_k,
    )
