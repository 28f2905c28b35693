"""Shared matplotlib helpers for experiment figures: Agg rendering, theory overlays, PNG output.

Figures are built with matplotlib's object API (``new_figure``), which renders with Agg and
needs no display and no pyplot global state; the ``robustlab`` command also sets
``MPLBACKEND=Agg`` for code that does use pyplot. Every experiment draws its measurement with
``plot_measured`` (mean and spread over seeds) and the theory beside it with ``plot_theory``
(a dashed black line), labels axes in the paper's notation (matplotlib mathtext, e.g.
``r"$\\|\\delta\\| / \\|x\\|$"``) and returns the figures; the runner saves them with
``save_figure``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from robustlab.losses import logistic, reflected

__all__ = [
    "MEASURED_STYLE",
    "THEORY_STYLE",
    "loglog",
    "margin_loss_figure",
    "mean_and_spread",
    "new_figure",
    "plot_measured",
    "plot_theory",
    "save_figure",
]

THEORY_STYLE: dict[str, Any] = {"color": "black", "linestyle": "--", "linewidth": 1.3, "zorder": 3}
"""Line style of every theory curve (dashed black, drawn over the measurement)."""

MEASURED_STYLE: dict[str, Any] = {"marker": "o", "markersize": 4, "linewidth": 1.5}
"""Line style of measured means; the spread is a shaded band of the same color."""

DPI = 120


def new_figure(
    ncols: int = 1, *, nrows: int = 1, width: float = 4.8, height: float = 3.6
) -> tuple[Figure, Any]:
    """A figure with an ``nrows`` x ``ncols`` grid of axes (each ``width`` x ``height`` in)."""
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


def loglog(ax: Axes, *, xlabel: str, ylabel: str, title: str | None = None) -> Axes:
    """Put ``ax`` on log-log scales with the given (mathtext) labels and a light grid."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.25)
    return ax


def mean_and_spread(table: pd.DataFrame, x: str, y: str, *, by: Sequence[str] = ()) -> pd.DataFrame:
    """Mean, standard deviation, min, max and count of column ``y`` per value of ``x`` (and ``by``).

    Rows are sorted by ``by`` then ``x``; columns ``mean``, ``std``, ``min``, ``max``, ``count``.
    Raises KeyError naming a missing column.
    """
    for column in (x, y, *by):
        if column not in table.columns:
            raise KeyError(f"column {column!r} not in table; columns: {list(table.columns)}")
    keys = [*by, x]
    stats = table.groupby(keys, sort=True)[y].agg(["mean", "std", "min", "max", "count"])
    return stats.reset_index()


def plot_measured(
    ax: Axes,
    x: npt.ArrayLike,
    mean: npt.ArrayLike,
    *,
    low: npt.ArrayLike | None = None,
    high: npt.ArrayLike | None = None,
    label: str = "measured",
    **style: Any,
) -> None:
    """Draw measured means against ``x``, with a shaded band from ``low`` to ``high`` if given."""
    (line,) = ax.plot(np.asarray(x), np.asarray(mean), label=label, **{**MEASURED_STYLE, **style})
    if low is not None and high is not None:
        ax.fill_between(
            np.asarray(x, dtype=float),
            np.asarray(low, dtype=float),
            np.asarray(high, dtype=float),
            color=line.get_color(),
            alpha=0.2,
            linewidth=0,
        )


def plot_theory(
    ax: Axes, x: npt.ArrayLike, y: npt.ArrayLike, *, label: str = "theory", **style: Any
) -> None:
    """Draw a theory curve (prediction or bound) in the shared dashed style."""
    ax.plot(np.asarray(x), np.asarray(y), label=label, **{**THEORY_STYLE, **style})


def margin_loss_figure(z_max: float = 4.0) -> Figure:
    """Paper 004 Fig. 1: the 0-1 loss (red), the logistic loss l(z) = log(1 + e^{-z}) (blue) and
    the reflected loss l_-(z) = -log(1 + e^{z}) (green), a concave lower bound on the 0-1 loss,
    against the margin z = y f(x); the curves come from ``robustlab.losses``.

    Raises ValueError for z_max <= 0.
    """
    if not z_max > 0:
        raise ValueError(f"z_max must be > 0, got {z_max}")
    z = torch.linspace(-z_max, z_max, 401, dtype=torch.float64)
    fig, ax = new_figure(width=4.8, height=3.4)
    ax.plot(z.numpy(), (z <= 0).to(torch.float64).numpy(), color="tab:red", label="0-1 loss")
    ax.plot(z.numpy(), logistic(z).numpy(), color="tab:blue", label=r"$\ell(z) = \log(1+e^{-z})$")
    ax.plot(
        z.numpy(), reflected(z).numpy(), color="tab:green", label=r"$\ell_-(z) = -\log(1+e^{z})$"
    )
    ax.axhline(0.0, color="gray", linewidth=0.6)
    ax.axvline(0.0, color="gray", linewidth=0.6)
    ax.set_xlabel(r"margin $z = y f(x)$")
    ax.set_ylabel("loss")
    ax.set_title("paper 004 Fig. 1: the losses of the margin", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.25)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` as a PNG at ``path`` atomically (temporary + rename); close it if pyplot's."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        fig.savefig(tmp, dpi=DPI, format="png")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        _close(fig)
    return path


def _close(fig: Figure) -> None:
    """Release a figure made with pyplot (a no-op for ``new_figure``'s)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
