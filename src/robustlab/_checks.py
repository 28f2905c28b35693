"""Entry checks shared by the public functions (private): a bad value is refused where it enters.

Every check raises TypeError (wrong kind of object) or ValueError (right kind, meaningless value)
with a message that names the argument, shows what was given and says what is allowed. A check
costs at most one pass over a tensor and one host synchronization.

The cast-or-refuse rule for inputs: robustlab never casts silently. A floating input whose dtype
differs from the model's parameters (float64 data on a float32 net), or that lives on another
device, is refused with the fix in the message (`x.to(torch.float32)` or `model.double()`).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn


def _show(value: object) -> str:
    """A short description of a value for an error message."""
    if isinstance(value, Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: object) -> str:
    return type(value).__name__


def real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number (int, float or 0-d tensor; not bool) within the given bounds."""
    if isinstance(value, Tensor) and value.ndim == 0 and not value.dtype.is_complex:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_show(value)} ({_kind(value)})")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be a finite number, got {number}")
    below = low is not None and (number <= low if low_open else number < low)
    above = high is not None and (number >= high if high_open else number > high)
    if below or above:
        left = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        right = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
        allowed = " and ".join(part for part in (left, right) if part)
        raise ValueError(f"{name} must be {allowed}, got {number:g}")
    return number


def optional_real(name: str, value: object, **bounds: Any) -> float | None:
    """None, or a finite real number within bounds (see `real`)."""
    return None if value is None else real(name, value, **bounds)


def integer(name: str, value: object, *, low: int | None = None) -> int:
    """A whole number (int or numpy integer; not bool, not float) >= low."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {_show(value)} ({_kind(value)})")
    number = int(value)
    if low is not None and number < low:
        raise ValueError(f"{name} must be >= {low}, got {number}")
    return number


def optional_integer(name: str, value: object, *, low: int | None = None) -> int | None:
    """None, or a whole number >= low (see `integer`)."""
    return None if value is None else integer(name, value, low=low)


def flag(name: str, value: object) -> bool:
    """A real bool (the string "false" is not False)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {_show(value)} ({_kind(value)})")
    return value


def choice(name: str, value: object, allowed: Sequence[str]) -> str:
    """One of the allowed names."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {_show(value)}")
    return value


def tensor(
    name: str,
    value: object,
    *,
    floating: bool = False,
    finite: bool = True,
    ndim: int | tuple[int, ...] | None = None,
) -> Tensor:
    """A torch.Tensor; with `floating` of a floating dtype; with `finite` free of NaN and inf."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_show(value)} ({_kind(value)})")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if value.ndim not in allowed:
            axes = " or ".join(str(k) for k in allowed)
            raise ValueError(f"{name} must have {axes} axes, got shape {tuple(value.shape)}")
    if finite:
        nonfinite(name, value)
    return value


def nonfinite(name: str, value: Tensor) -> None:
    """Raise ValueError if the tensor holds NaN or inf (one pass, one synchronization)."""
    if value.is_floating_point() or value.is_complex():
        bad = ~torch.isfinite(value.detach())
        if bool(bad.any()):
            count = int(bad.sum())
            raise ValueError(
                f"{name} contains NaN or inf ({count} of {value.numel()} entries); "
                "it must be finite"
            )


def optional_tensor(name: str, value: object, **options: Any) -> Tensor | None:
    """None, or a tensor passing `tensor`."""
    return None if value is None else tensor(name, value, **options)


def radius(name: str, value: object) -> None:
    """A finite radius >= 0: a real number or a tensor of them."""
    if isinstance(value, Tensor):
        tensor(name, value)
        if value.numel() and bool((value < 0).any()):
            raise ValueError(f"{name} must be >= 0, got min {float(value.min()):g}")
        return
    real(name, value, low=0.0)


def box(name: str, value: object) -> None:
    """A pair (low, high) of finite reals or tensors with low <= high everywhere."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (low, high), got {_show(value)}")
    low, high = value
    for part, bound in (("low", low), ("high", high)):
        if isinstance(bound, Tensor):
            tensor(f"{name} {part}", bound)
        else:
            real(f"{name} {part}", bound)
    if bool((torch.as_tensor(low) > torch.as_tensor(high)).any()):
        raise ValueError(f"{name} needs low <= high, got ({_show(low)}, {_show(high)})")


def optional_box(name: str, value: object) -> None:
    """None, or a box (see `box`)."""
    if value is not None:
        box(name, value)


def budget(name: str, value: object) -> None:
    """An attack budget: a real, a tensor, or a non-empty sequence of reals or tensors; all
    finite and >= 0 (shapes are checked where the number of samples is known)."""
    if isinstance(value, Tensor | numbers.Real):
        radius(name, value)
        return
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(
            f"{name} must be a number, a tensor or a list of them, got {_show(value)} "
            f"({_kind(value)})"
        )
    if len(value) == 0:
        raise ValueError(f"{name} is an empty list: give at least one budget")
    for item in value:
        radius(f"{name} entry", item)


def model_dtype(model: object) -> tuple[torch.dtype, torch.device] | None:
    """The floating dtype and device of a module's first floating parameter or buffer."""
    if not isinstance(model, nn.Module):
        return None
    for t in (*model.parameters(), *model.buffers()):
        if t.is_floating_point():
            return t.dtype, t.device
    return None


def matches_model(name: str, x: Tensor, model: object) -> None:
    """Refuse a floating x whose dtype or device differs from the model's parameters, and for a
    robustlab ensemble model (integer `ensemble` and `dim`) a last axis other than d."""
    found = model_dtype(model)
    if found is not None and x.is_floating_point():
        dtype, device = found
        if x.dtype != dtype:
            raise TypeError(
                f"{name} has dtype {x.dtype} but the model computes in {dtype}; robustlab does "
                f"not cast silently: pass {name}.to({dtype}) or convert the model with "
                f".to({x.dtype})"
            )
        if x.device != device:
            raise ValueError(
                f"{name} is on {x.device} but the model is on {device}: move one of them"
            )
    dim = getattr(model, "dim", None)
    ensemble = getattr(model, "ensemble", None)
    ensemble_model = isinstance(dim, int) and isinstance(ensemble, int)
    if ensemble_model and x.ndim >= 1 and x.shape[-1] != dim:
        raise ValueError(
            f"{name} must be (n, d) or (E, n, d) with d = {dim} features for this model, "
            f"got shape {tuple(x.shape)}"
        )


def model_input(name: str, x: object, model: object) -> Tensor:
    """A finite floating tensor fit for the model (dtype, device, last axis; see above)."""
    checked = tensor(name, x, floating=True)
    matches_model(name, checked, model)
    return checked


def labels(name: str, y: object, n: int | None = None) -> Tensor:
    """A finite tensor of labels, shaped (n,) when n is given (values are checked by the
    function that knows the task: {-1, +1} or 0..K-1)."""
    checked = tensor(name, y)
    if n is not None and tuple(checked.shape) != (n,):
        raise ValueError(f"{name} must have shape (n,) = ({n},), got {tuple(checked.shape)}")
    return checked


def class_labels(name: str, y: Tensor, classes: int) -> None:
    """Integer labels must lie in 0..K-1."""
    if y.is_floating_point() or y.numel() == 0:
        return
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= classes:
        raise ValueError(
            f"{name} must lie in 0..{classes - 1} for a {classes}-output model, "
            f"got range {low}..{high}"
        )


def callable_(name: str, value: object) -> None:
    """Something callable (a function, a module, a partial)."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {_show(value)} ({_kind(value)})")


def dtype(name: str, value: object) -> torch.dtype:
    """A floating torch.dtype."""
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise TypeError(f"{name} must be a floating torch.dtype, got {_show(value)}")
    return value


def finite(name: str, value: object) -> None:
    """A finite real number or a finite tensor (any sign)."""
    if isinstance(value, Tensor):
        tensor(name, value)
    else:
        real(name, value)


def counts(**values: object) -> None:
    """Each keyword a whole number >= 1 (steps, restarts, epochs ...)."""
    for name, value in values.items():
        integer(name, value, low=1)


def positives(**values: object) -> None:
    """Each keyword None or a finite real > 0 (step sizes, learning rates ...)."""
    for name, value in values.items():
        optional_real(name, value, low=0.0, low_open=True)


def nonempty(name: str, x: Tensor, axis: int = 0) -> None:
    """At least one sample along `axis`."""
    if x.ndim <= axis or x.shape[axis] == 0:
        raise ValueError(f"{name} has no samples (shape {tuple(x.shape)}): give at least one")


_MISSING: Any = object()


def attack_inputs(
    model: object,
    x: object,
    y: object = None,
    *,
    eps: object = _MISSING,
    box: object = None,
    norm: object = None,
    generator: object = None,
    schedule: object = None,
    x_name: str = "x",
) -> None:
    """The entry checks every attack shares: a callable model; a finite floating x fit for it
    (dtype, device, d); finite labels y; a finite budget eps >= 0; a finite box; a norm name or
    object; a generator; a schedule."""
    callable_("model", model)
    model_input(x_name, x, model)
    if y is not None:
        labels("y", y)
    if eps is not _MISSING:
        budget("eps", eps)
    optional_box("box", box)
    methods = ("project", "normalize", "norm")
    if not (norm is None or isinstance(norm, str) or all(hasattr(norm, m) for m in methods)):
        raise TypeError(
            f"norm must be 'l2', 'linf' or a norm object with project / normalize / norm, "
            f"got {_show(norm)}"
        )
    generator_(generator)
    if schedule is not None:
        callable_("schedule", schedule)


def generator_(value: object, name: str = "generator") -> None:
    """None or a torch.Generator."""
    if value is not None and not isinstance(value, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None, got {_show(value)}")


def module(name: str, value: object) -> nn.Module:
    """A torch.nn.Module whose parameters are all finite."""
    if not isinstance(value, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {_show(value)} ({_kind(value)})")
    for key, parameter in value.named_parameters():
        nonfinite(f"{name} parameter {key}", parameter)
    return value


def training_data(model: nn.Module, X: object, y: object, name: str = "X") -> None:
    """Training inputs fit for the model (see `model_input`) and finite labels (shapes are
    checked by the caller). The label values ({-1, +1} or 0..K-1) are checked against the
    model's output shape by `models.generic.as_labels`, after the learner's one probe."""
    model_input(name, X, model)
    labels("y", y)
