"""The shared Config checks (issue 13 items 4, 7, 8), as properties over generated values."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from robustlab.experiments import get_experiment
from robustlab.experiments.base import SEED_LIMIT, ConfigError

RANDOM_NET = get_experiment("random-net-single-step")


def _accepted(overrides: dict[str, object]) -> bool:
    try:
        RANDOM_NET.config("quick", overrides)
    except ConfigError:
        return False
    return True


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-(2**70), max_value=2**70), min_size=1, max_size=5))
def test_widths_are_accepted_exactly_when_positive_distinct_and_64_bit(widths: list[int]) -> None:
    valid = all(1 <= w < SEED_LIMIT for w in widths) and len(set(widths)) == len(widths)
    assert _accepted({"width": widths}) == valid


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-(2**70), max_value=2**70), min_size=1, max_size=5))
def test_seeds_are_accepted_exactly_when_distinct_and_in_range(seeds: list[int]) -> None:
    valid = all(0 <= s < SEED_LIMIT for s in seeds) and len(set(seeds)) == len(seeds)
    assert _accepted({"seeds": seeds}) == valid


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_budget_is_accepted_exactly_when_finite_and_positive(max_eta: float) -> None:
    assert _accepted({"max_eta": max_eta}) == (math.isfinite(max_eta) and max_eta > 0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["relu", "tanh", "softplus"]), min_size=1, max_size=4))
def test_a_swept_list_with_a_repeat_is_refused(activations: list[str]) -> None:
    assert _accepted({"activation": activations}) == (len(set(activations)) == len(activations))
