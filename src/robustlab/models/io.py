"""Save and load models as safetensors: tensors plus a flat string metadata header, no pickle.

A savable model implements `saved_state() -> (tensors, metadata)` and a classmethod
`from_saved(tensors, metadata)`, and registers itself with `register_model`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

_REGISTRY: dict[str, Callable[[dict[str, Tensor], dict[str, Any]], nn.Module]] = {}
_CLASS_KEY = "robustlab_class"
_META_KEY = "robustlab_meta"

M = TypeVar("M", bound=type)


@runtime_checkable
class Savable(Protocol):
    def saved_state(self) -> tuple[dict[str, Tensor], dict[str, Any]]: ...


def register_model(cls: M) -> M:
    """Class decorator: make `load_model` able to rebuild instances of `cls`."""
    _REGISTRY[cls.__name__] = cls.from_saved  # type: ignore[attr-defined]
    return cls


def save_model(model: nn.Module, path: str | Path) -> Path:
    """Write `model` to `path` (safetensors). Metadata is JSON in the header."""
    if not isinstance(model, Savable):
        raise TypeError(f"model: {type(model).__name__} has no saved_state(); it cannot be saved")
    tensors, meta = model.saved_state()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {_CLASS_KEY: type(model).__name__, _META_KEY: json.dumps(meta, sort_keys=True)}
    contiguous = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(contiguous, str(tmp), metadata=header)
    tmp.replace(path)
    return path


def load_model(path: str | Path) -> nn.Module:
    """Read a model written by `save_model`. Raises ValueError for a foreign or corrupt file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{path} is not a readable safetensors file: {err}") from err
    name = header.get(_CLASS_KEY)
    if name is None or name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ValueError(f"{path} holds model class {name!r}; robustlab can load: {known}")
    try:
        meta = json.loads(header.get(_META_KEY, "{}"))
        return _REGISTRY[name](tensors, meta)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        # A header that names a class but whose tensors or metadata do not fit it.
        problem = f"{type(err).__name__}: {err}"
        raise ValueError(f"{path} does not hold a valid {name}: {problem}") from err
