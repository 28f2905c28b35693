"""Exact robustness of two-layer (leaky-)ReLU nets and certified lower bounds.

- `exact_minimal_perturbation`: the smallest perturbation (linf, l1, l2) that changes the
  prediction, as a mixed-integer program per point (HiGHS for linf / l1; SCIP for l2, the
  optional extra ``robustlab[verify]``), with the solver status and proved bounds.
- `certified_radius`: a sound lower bound in closed form (linear relaxation of the ReLUs, one
  hidden layer), batched over members and points, for widths up to 1e4 and beyond.

Every attack's radius is an upper bound on the exact one, the certified radius a lower bound.
"""

from robustlab.verify.certified import certified_radius, margin_lower_bound
from robustlab.verify.exact import STATUSES, ExactResult, exact_minimal_perturbation

__all__ = [
    "STATUSES",
    "ExactResult",
    "certified_radius",
    "exact_minimal_perturbation",
    "margin_lower_bound",
]
