"""Fuzz suite of the public library functions (issue 13, "Done when" and items 1 and 10).

Every slot of `cases.SLOTS` (a function and one of its arguments) is filled with non-finite,
mistyped and mismatched values; each must be refused with a ValueError or TypeError whose message
names the argument, never answered. The deterministic cases are enumerated one test each (their
count is the "cases tried" of the issue); hypothesis then places NaN / inf at random entries,
draws random wrong last axes and random finite-but-wrong numbers. The default run keeps
hypothesis short; the slow suite runs a larger profile.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
import torch
from fuzz_cases import SLOTS, Slot, base_value, enumerate_cases
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CASES = enumerate_cases()
FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
THOROUGH = settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))


def assert_refused(slot: Slot, value: Any) -> None:
    """The call with `value` in the slot raises ValueError/TypeError naming the argument."""
    with pytest.raises((ValueError, TypeError)) as caught:
        slot.call(value)
    message = str(caught.value)
    pattern = rf"(?<![A-Za-z0-9_]){re.escape(slot.word)}(?![A-Za-z0-9_])"
    assert re.search(pattern, message), (
        f"{slot!r}: the error does not name {slot.word!r}: {type(caught.value).__name__}: {message}"
    )


def _bases() -> list[Slot]:
    seen: dict[tuple[Any, ...], Slot] = {}
    for slot in SLOTS:
        key = (slot.label, id(slot.target), id(slot.args), tuple(sorted(slot.kwargs)))
        seen.setdefault(key, slot)
    return list(seen.values())


@pytest.mark.parametrize("slot", _bases(), ids=repr)
def test_the_valid_call_of_every_slot_succeeds(slot: Slot) -> None:
    """Each fuzz target's unmodified call works: a refusal below is caused by the bad value."""
    slot.call(replace=False)


@pytest.mark.parametrize(("slot", "name", "value"), CASES, ids=[f"{s!r}-{n}" for s, n, _ in CASES])
def test_bad_value_is_refused_by_name(slot: Slot, name: str, value: Any) -> None:
    assert_refused(slot, value)


def test_the_suite_covers_every_library_area() -> None:
    modules = {getattr(slot.target, "__module__", None) or "" for slot in SLOTS}
    areas = {name.split(".")[1] for name in modules if name.startswith("robustlab.")}
    assert {"models", "geometry", "losses", "attacks", "learners", "poisoning", "data"} <= areas
    assert len(CASES) >= 400


TENSOR_SLOTS = [
    s for s in SLOTS if s.kind in ("tensor", "input", "labels") and "nan entry" not in s.skip
]
NUMBER_SLOTS = [s for s in SLOTS if s.kind in ("positive", "count")]
INPUT_SLOTS = [s for s in SLOTS if s.kind == "input"]


def _poisoned(slot: Slot, position: int, value: float) -> torch.Tensor:
    base = base_value(slot)
    reference = base if isinstance(base, torch.Tensor) else torch.zeros(6, 4)
    out = (
        reference.detach()
        .clone()
        .to(reference.dtype if reference.is_floating_point() else torch.float32)
    )
    flat = out.reshape(-1)
    flat[position % flat.numel()] = value
    return out


def _random_nonfinite(data: st.DataObject, slots: list[Slot]) -> None:
    slot = data.draw(st.sampled_from(slots), label="slot")
    position = data.draw(st.integers(0, 10_000), label="position")
    value = data.draw(st.sampled_from([math.nan, math.inf, -math.inf]), label="value")
    assert_refused(slot, _poisoned(slot, position, value))


@FAST
@given(st.data())
def test_nan_or_inf_anywhere_in_a_tensor_is_refused(data: st.DataObject) -> None:
    _random_nonfinite(data, TENSOR_SLOTS)


@pytest.mark.slow
@THOROUGH
@given(st.data())
def test_nan_or_inf_anywhere_in_a_tensor_is_refused_thoroughly(data: st.DataObject) -> None:
    _random_nonfinite(data, TENSOR_SLOTS)


def _wrong_number(data: st.DataObject) -> None:
    slot = data.draw(st.sampled_from(NUMBER_SLOTS), label="slot")
    if slot.kind == "count":
        wrong = [st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3), st.booleans()]
        if "negative" not in slot.skip:  # counts >= 1 (or >= 0): draw integers below
            highest = -1 if "zero" in slot.skip else 0
            wrong.append(st.integers(max_value=highest))
        value: Any = data.draw(st.one_of(*wrong), label="value")
    else:
        forbidden = [
            st.sampled_from([math.nan, math.inf, -math.inf]),
            st.text(max_size=3),
            st.booleans(),
        ]
        if "negative" not in slot.skip:
            forbidden.append(st.floats(max_value=-1e-6, allow_infinity=False))
        value = data.draw(st.one_of(*forbidden), label="value")
    assert_refused(slot, value)


@FAST
@given(st.data())
def test_non_finite_mistyped_or_out_of_range_numbers_are_refused(data: st.DataObject) -> None:
    _wrong_number(data)


@pytest.mark.slow
@THOROUGH
@given(st.data())
def test_non_finite_mistyped_or_out_of_range_numbers_are_refused_thoroughly(
    data: st.DataObject,
) -> None:
    _wrong_number(data)


@FAST
@given(st.data())
def test_inputs_with_a_wrong_last_axis_or_dtype_are_refused(data: st.DataObject) -> None:
    slot = data.draw(st.sampled_from(INPUT_SLOTS), label="slot")
    base = base_value(slot)
    assert isinstance(base, torch.Tensor)
    width = data.draw(st.integers(1, 12).filter(lambda k: k != base.shape[-1]), label="width")
    dtype = data.draw(st.sampled_from([torch.float32, torch.float64, torch.float16]))
    bad = torch.zeros(*base.shape[:-1], width, dtype=dtype)
    if width == base.shape[-1] and dtype == base.dtype:
        return
    assert_refused(slot, bad)


# --------------------------------------------------------------------------- empty inputs
def test_empty_inputs_give_empty_answers_or_a_named_refusal() -> None:
    """Per-sample functions answer an empty batch with empty results; functions that average
    over the samples refuse it (an accuracy of 0 / 0 is not an answer)."""
    import fuzz_cases as cases

    empty_x = torch.zeros(0, cases.D)
    empty_y = torch.zeros(0)
    from robustlab.attacks import clean_margin, fgsm, gradient_step, minimal_gradient_step, pgd

    assert pgd(cases.NET, empty_x, empty_y, eps=0.5, steps=2).success.shape == (1, cases.E, 0)
    assert fgsm(cases.NET, empty_x, empty_y, eps=0.5).success.shape == (1, cases.E, 0)
    assert gradient_step(cases.NET, empty_x, 0.1).flipped.shape == (cases.E, 0)
    assert minimal_gradient_step(cases.NET, empty_x).eta.shape == (cases.E, 0)
    assert clean_margin(cases.NET, empty_x, empty_y).shape == (cases.E, 0)

    from robustlab.attacks import quantiles, robust_accuracy, universal_perturbation
    from robustlab.geometry import L21
    from robustlab.learners import sgd
    from robustlab.poisoning import clean_label

    refusals = [
        (lambda: robust_accuracy(pgd, cases.NET, empty_x, empty_y, [0.1]), "y"),
        (lambda: universal_perturbation(cases.NET, empty_x, empty_y), "point"),
        (lambda: quantiles(torch.zeros(0), [0.5]), "values"),
        (lambda: sgd(cases.NET, empty_x, empty_y, lr=0.1), "X"),
        (lambda: clean_label(cases.NET1, empty_x, empty_y, L21(1.0)), "X"),
    ]
    for call, word in refusals:
        with pytest.raises(ValueError, match=word):
            call()
