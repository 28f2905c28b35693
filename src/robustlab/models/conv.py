"""The small convolutional network of paper 001 section 5 (Figure 3, MNIST panel).

conv(1 -> 10, 5x5) -> max-pool 2 -> ReLU -> conv(10 -> 20, 5x5) -> max-pool 2 -> ReLU -> flatten
(320 features for 28x28 inputs) -> fc(320 -> m) -> ReLU -> fc(m -> 10), with m the swept width.
A plain `torch.nn.Module` without an ensemble axis: attacks reach it through their generic
(autograd) path, since its outputs are independent across samples. `PaperConvEnsemble` stacks E
such nets of one width (one seed each) and evaluates them in one grouped pass.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from robustlab import _checks
from robustlab.models.io import register_model

_KERNEL = 5
_META_SIZES = ("width", "num_classes", "in_channels", "image_size")
_CHANNELS = (10, 20)
_LAYERS = ("conv1", "conv2", "fc1", "fc2")


def _features_side(image_size: int) -> int:
    """Spatial side after two (conv 5x5 valid, max-pool 2) stages."""
    side = image_size
    for _ in range(2):
        side = (side - _KERNEL + 1) // 2
    return side


@register_model
class PaperConvNet(nn.Module):
    """Two conv + two fully connected layers with ReLU (paper 001 section 5, Figure 3).

    x: (n, C * s * s) flattened images or (n, C, s, s); output logits (n, num_classes).
    `width` is the hidden size m of the first fully connected layer. Initialization is PyTorch's
    default (as in the paper), drawn from `generator` when given. Raises ValueError for sizes
    that leave no features or for a bad input shape.
    """

    def __init__(
        self,
        width: int,
        num_classes: int = 10,
        in_channels: int = 1,
        image_size: int = 28,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        for name, value in (
            ("width", width),
            ("num_classes", num_classes),
            ("in_channels", in_channels),
        ):
            _checks.integer(name, value, low=1)
        _checks.integer("image_size", image_size)
        _checks.generator_(generator)
        side = _features_side(image_size)
        if side < 1:
            raise ValueError(
                f"image_size must be >= 16 so two 5x5 conv + pool stages leave features, "
                f"got {image_size}"
            )
        self.width = int(width)
        self.num_classes = int(num_classes)
        self.in_channels = int(in_channels)
        self.image_size = int(image_size)
        self.features = _CHANNELS[1] * side * side
        self.conv1 = nn.Conv2d(in_channels, _CHANNELS[0], _KERNEL)
        self.conv2 = nn.Conv2d(_CHANNELS[0], _CHANNELS[1], _KERNEL)
        self.fc1 = nn.Linear(self.features, width)
        self.fc2 = nn.Linear(width, num_classes)
        if generator is not None:
            self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """PyTorch's default init (kaiming-uniform weights, U(+-1/sqrt(fan_in)) biases)."""
        for layer in (self.conv1, self.conv2, self.fc1, self.fc2):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            if layer.bias is not None:
                bound = 1 / math.sqrt(layer.weight[0].numel())
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)

    def _as_images(self, x: Tensor) -> Tensor:
        _checks.tensor("x", x, floating=True, finite=False)
        _checks.matches_model("x", x, self)
        c, s = self.in_channels, self.image_size
        if x.ndim == 2 and x.shape[1] == c * s * s:
            return x.reshape(x.shape[0], c, s, s)
        if x.ndim == 4 and tuple(x.shape[1:]) == (c, s, s):
            return x
        raise ValueError(
            f"x must be (n, {c * s * s}) or (n, {c}, {s}, {s}), got shape {tuple(x.shape)}"
        )

    def hidden(self, x: Tensor) -> Tensor:
        """The width-m representation relu(fc1(features)): (n, m)."""
        h = F.relu(F.max_pool2d(self.conv1(self._as_images(x)), 2))
        h = F.relu(F.max_pool2d(self.conv2(h), 2))
        return F.relu(self.fc1(h.flatten(1)))

    def forward(self, x: Tensor) -> Tensor:
        """Logits (n, num_classes)."""
        logits: Tensor = self.fc2(self.hidden(x))
        return logits

    # ----------------------------------------------------------------- persistence
    def saved_state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors = {k: v.detach() for k, v in self.state_dict().items()}
        meta = {
            "width": self.width,
            "num_classes": self.num_classes,
            "in_channels": self.in_channels,
            "image_size": self.image_size,
        }
        return tensors, meta

    @classmethod
    def from_saved(cls, tensors: dict[str, Tensor], meta: dict[str, Any]) -> PaperConvNet:
        try:
            net = cls(
                *(_checks.integer(f"metadata {key}", meta[key]) for key in _META_SIZES),
            )
        except KeyError as err:
            missing = f"saved PaperConvNet metadata lacks {err}; got {sorted(meta)}"
            raise ValueError(missing) from err
        dtype = next(iter(tensors.values())).dtype if tensors else torch.float32
        net = net.to(dtype)
        try:
            net.load_state_dict(tensors, strict=True)
        except RuntimeError as err:
            raise ValueError(f"saved PaperConvNet tensors do not fit its metadata: {err}") from err
        return net

    def extra_repr(self) -> str:
        return (
            f"width={self.width}, num_classes={self.num_classes}, "
            f"in_channels={self.in_channels}, image_size={self.image_size}"
        )


class PaperConvEnsemble(nn.Module):
    """E `PaperConvNet`s of one width evaluated in one pass (issue 10: seeds as an ensemble).

    Parameters carry a leading ensemble axis E; the convolutions run as one grouped convolution
    (member e owns channel group e) and the fully connected layers as batched products, so a
    step of E members costs one call per layer instead of E. x: (n, C * s * s) shared by all
    members, (E, n, C * s * s) one batch per member, or the image forms (n, C, s, s) /
    (E, n, C, s, s); output logits (E, n, num_classes). Member e computes exactly what
    `member(e)` computes (up to floating-point summation order). Raises ValueError for no
    members, members of different shapes, or a bad input shape.
    """

    conv1_weight: nn.Parameter
    conv1_bias: nn.Parameter
    conv2_weight: nn.Parameter
    conv2_bias: nn.Parameter
    fc1_weight: nn.Parameter
    fc1_bias: nn.Parameter
    fc2_weight: nn.Parameter
    fc2_bias: nn.Parameter

    def __init__(self, members: list[PaperConvNet]) -> None:
        super().__init__()
        if not members:
            raise ValueError("PaperConvEnsemble needs at least one member, got none")
        first = members[0]
        shape = (first.width, first.num_classes, first.in_channels, first.image_size)
        for e, net in enumerate(members):
            other = (net.width, net.num_classes, net.in_channels, net.image_size)
            if other != shape:
                raise ValueError(
                    f"member {e} has (width, classes, channels, image size) {other}, "
                    f"member 0 has {shape}: an ensemble needs one shape"
                )
        self.width, self.num_classes, self.in_channels, self.image_size = shape
        self.features = first.features
        for name in _LAYERS:
            for part in ("weight", "bias"):
                stacked = torch.stack([getattr(getattr(m, name), part).detach() for m in members])
                setattr(self, f"{name}_{part}", nn.Parameter(stacked.clone()))

    @property
    def ensemble(self) -> int:
        return int(self.conv1_weight.shape[0])

    def member(self, e: int) -> PaperConvNet:
        """Member e as a plain `PaperConvNet` (a copy)."""
        if not 0 <= e < self.ensemble:
            raise ValueError(f"member index must be in [0, {self.ensemble}), got {e}")
        net = PaperConvNet(self.width, self.num_classes, self.in_channels, self.image_size)
        net = net.to(device=self.conv1_weight.device, dtype=self.conv1_weight.dtype)
        with torch.no_grad():
            for name in _LAYERS:
                layer = getattr(net, name)
                layer.weight.copy_(getattr(self, f"{name}_weight")[e])
                layer.bias.copy_(getattr(self, f"{name}_bias")[e])
        return net

    def _as_images(self, x: Tensor) -> Tensor:
        """(E, n, C, s, s) from any accepted input form."""
        E, c, s = self.ensemble, self.in_channels, self.image_size
        flat = c * s * s
        if x.ndim == 2 and x.shape[1] == flat:
            x = x.reshape(1, x.shape[0], c, s, s).expand(E, -1, -1, -1, -1)
        elif x.ndim == 3 and x.shape[0] == E and x.shape[2] == flat:
            x = x.reshape(E, x.shape[1], c, s, s)
        elif x.ndim == 4 and tuple(x.shape[1:]) == (c, s, s):
            x = x.unsqueeze(0).expand(E, -1, -1, -1, -1)
        elif not (x.ndim == 5 and x.shape[0] == E and tuple(x.shape[2:]) == (c, s, s)):
            raise ValueError(
                f"x must be (n, {flat}), ({E}, n, {flat}), (n, {c}, {s}, {s}) or "
                f"({E}, n, {c}, {s}, {s}); got shape {tuple(x.shape)}"
            )
        return x

    def forward(self, x: Tensor) -> Tensor:
        """Logits (E, n, num_classes)."""
        images = self._as_images(x)
        E, n = images.shape[:2]
        # member e's channels form group e: (n, E * C, s, s)
        h = images.transpose(0, 1).reshape(n, E * self.in_channels, *images.shape[3:])
        for name in ("conv1", "conv2"):
            weight, bias = getattr(self, f"{name}_weight"), getattr(self, f"{name}_bias")
            h = F.conv2d(h, weight.flatten(0, 1), bias.flatten(), groups=E)
            h = F.relu(F.max_pool2d(h, 2))
        h = h.reshape(n, E, self.features).transpose(0, 1)  # (E, n, features), channel-major
        h = F.relu(torch.baddbmm(self.fc1_bias.unsqueeze(1), h, self.fc1_weight.transpose(1, 2)))
        logits: Tensor = torch.baddbmm(
            self.fc2_bias.unsqueeze(1), h, self.fc2_weight.transpose(1, 2)
        )
        return logits

    def extra_repr(self) -> str:
        return f"ensemble={self.ensemble}, width={self.width}, num_classes={self.num_classes}"
