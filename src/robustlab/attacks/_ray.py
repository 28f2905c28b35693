"""Exact profile of a piecewise-linear two-layer net along rays (private).

Along x + tau * v the preactivation of neuron s is p_s + tau q_s (q_s = w_s . v), so with a
(leaky) ReLU of negative slope alpha the output f(tau) = sum_s c_s sigma(p_s + tau q_s) is linear
between the breakpoints tau_s = -p_s / q_s > 0. Sorting the breakpoints and summing the slope
jumps c_s |q_s| (1 - alpha) gives f at every breakpoint from cumulative sums: the whole profile of
each ray, batched over any leading axes, in float64 (DESIGN.md principle 3; paper 002 section 5.1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class RayProfile:
    """f along each ray at tau = 0 and at its sorted breakpoints, in float64.

    tau, value, slope: (..., m + 1); index 0 is tau = 0, then the breakpoints in increasing order
    (inf past the last one, where value and slope repeat the last finite entry). slope[j] is the
    slope of f on the segment that starts at tau[j]. count: (...,), finite breakpoints. noise:
    (..., m + 1), a bound on the rounding error of `value`: 1e-12 * sum_s |c_s| |p_s + tau q_s|;
    slope_noise: (...,), the same for `slope`: 1e-12 * sum_s |c_s q_s|.
    """

    tau: Tensor
    value: Tensor
    slope: Tensor
    count: Tensor
    noise: Tensor
    slope_noise: Tensor

    def negative(self, sign: Tensor) -> Tensor:
        """sign * f < 0 at each profile point, by more than the float64 rounding noise (so
        that a profile that only touches 0, e.g. a ReLU net whose neurons all switch off, is
        not taken for a crossing): (..., m + 1)."""
        phi = self.value * sign.unsqueeze(-1)
        result: Tensor = phi < -self.noise
        return result


def ray_profile(p: Tensor, q: Tensor, weight: Tensor, alpha: float) -> RayProfile:
    """Profile of f(tau) = sum_s weight_s sigma(p_s + tau q_s), sigma(z) = max(z, alpha z).

    p, q: (..., m); weight: broadcastable to (..., m) (scale * a_s for a two-layer net).
    """
    p = p.to(torch.float64)
    q = q.to(torch.float64)
    c = weight.to(torch.float64).expand_as(p)
    with torch.no_grad():
        active = (p > 0) | ((p == 0) & (q > 0))
        value0 = (c * torch.where(p > 0, p, alpha * p)).sum(dim=-1)
        slope0 = (c * q * torch.where(active, 1.0, alpha)).sum(dim=-1)
        breaks = -p / q
        finite = (q != 0) & (breaks > 0) & torch.isfinite(breaks)
        breaks = torch.where(finite, breaks, torch.inf)
        jumps = torch.where(finite, c * q.abs() * (1.0 - alpha), 0.0)
        tau, order = torch.sort(breaks, dim=-1)
        jumps = jumps.gather(-1, order)
        zero = torch.zeros_like(value0).unsqueeze(-1)
        tau = torch.cat([zero, tau], dim=-1)
        slope = torch.cat([slope0.unsqueeze(-1), slope0.unsqueeze(-1) + jumps.cumsum(dim=-1)], -1)
        steps = torch.nan_to_num(tau[..., 1:] - tau[..., :-1], nan=0.0, posinf=0.0)
        value = torch.cat(
            [value0.unsqueeze(-1), value0.unsqueeze(-1) + (slope[..., :-1] * steps).cumsum(-1)],
            dim=-1,
        )
        count = finite.sum(dim=-1)
        size0 = (c.abs() * p.abs()).sum(dim=-1, keepdim=True)
        rate = (c.abs() * q.abs()).sum(dim=-1, keepdim=True)
        noise = 1e-12 * (size0 + torch.nan_to_num(tau, posinf=0.0) * rate)
    return RayProfile(
        tau=tau,
        value=value,
        slope=slope,
        count=count,
        noise=noise,
        slope_noise=1e-12 * rate[..., 0],
    )


def first_sign_change(profile: RayProfile, sign: Tensor) -> Tensor:
    """Smallest tau > 0 where sign * f(tau) crosses below 0, inf if it never does: (...,).

    Assumes sign * f(0) > 0. Between breakpoints f is linear, so the root is solved exactly in
    the first segment whose end is negative (beyond rounding noise), or on the unbounded last
    segment if it slopes down.
    """
    phi = profile.value * sign.unsqueeze(-1)
    kappa = profile.slope * sign.unsqueeze(-1)
    crossed = profile.negative(sign) & torch.isfinite(profile.tau)
    crossed[..., 0] = False
    has = crossed.any(dim=-1)
    first = crossed.to(torch.int8).argmax(dim=-1)
    start = torch.where(has, first - 1, profile.count)
    start_i = start.unsqueeze(-1)
    tau0 = profile.tau.gather(-1, start_i).squeeze(-1)
    phi0 = phi.gather(-1, start_i).squeeze(-1)
    k0 = kappa.gather(-1, start_i).squeeze(-1)
    falling = k0 < -profile.slope_noise
    root = torch.where(falling, tau0 + phi0.clamp_min(0.0) / (-k0), torch.inf)
    end = profile.tau.gather(-1, first.unsqueeze(-1)).squeeze(-1)
    return torch.where(has, torch.minimum(root, end), root)


Predicate = Callable[[Tensor], Tensor]
"""Maps steps tau (..., S) in float64 to a bool (..., S): is the ray flipped there?"""


def scan_first(
    predicate: Predicate, bound: Tensor, *, scan_points: int, block: int
) -> tuple[Tensor, Tensor, Tensor]:
    """First of `scan_points` equally spaced steps on (0, bound] where `predicate` holds.

    bound: (...,) float64 (rays with a bound that is not finite and > 0 are skipped). Returns
    found (...,) bool and the bracket lo < hi (...,) around the first hit (hi = inf if none).
    """
    hi = torch.full_like(bound, torch.inf)
    lo = torch.zeros_like(bound)
    found = torch.zeros(bound.shape, dtype=torch.bool, device=bound.device)
    usable = torch.isfinite(bound) & (bound > 0)
    for start in range(0, scan_points, max(1, block)):
        if bool((found | ~usable).all()):
            break
        stop = min(start + max(1, block), scan_points)
        levels = torch.arange(start + 1, stop + 1, dtype=torch.float64, device=bound.device)
        hits = predicate(bound.unsqueeze(-1) * levels / scan_points) & usable.unsqueeze(-1)
        new = hits.any(dim=-1) & ~found
        first = start + hits.to(torch.int8).argmax(dim=-1).to(torch.float64)
        hi = torch.where(new, bound * (first + 1) / scan_points, hi)
        lo = torch.where(new, bound * first / scan_points, lo)
        found |= new
    return found, lo, hi


def bisect(predicate: Predicate, lo: Tensor, hi: Tensor, active: Tensor, rtol: float) -> Tensor:
    """Shrink brackets (predicate false at lo, true at hi) until hi - lo <= rtol * hi.

    Returns hi (where the predicate holds); at most 200 halvings.
    """
    active = active.clone()
    for _ in range(200):
        active &= (hi - lo) > rtol * hi
        if not bool(active.any()):
            break
        mid = 0.5 * (lo + hi)
        hit = predicate(mid.unsqueeze(-1)).squeeze(-1)
        hi = torch.where(active & hit, mid, hi)
        lo = torch.where(active & ~hit, mid, lo)
    return hi
