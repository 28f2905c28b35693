"""Shared matplotlib helpers for experiment figures: Agg rendering, theory overlays, PNG and
SVG output, legends that cover no data.

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
    "guard_log_axes",
    "legend_below",
    "legend_outside",
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


def legend_outside(ax: Axes, **options: Any) -> None:
    """The legend of ``ax`` to the right of its axes, where it covers no data."""
    ax.legend(
        **{"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0, **options}
    )


def legend_below(
    fig: Figure, handles: Sequence[Any], labels: Sequence[str], **options: Any
) -> None:
    """One legend for the whole figure, under its panels (readable size, covers no data)."""
    columns = max(1, min(len(labels), 4))
    fig.legend(handles, labels, **{"loc": "outside lower center", "ncol": columns, **options})


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


NO_POSITIVE_NOTE = "no positive values: linear scale"
"""Written on an axis that ``guard_log_axes`` turned from log to linear."""


def guard_log_axes(fig: Figure) -> int:
    """Turn every log axis with no positive range to a linear one, and say so on the axes.

    A sweep the Config admits can leave a log-scaled panel with nothing positive to show
    (a single point at zero, a measured gain that is negative everywhere); matplotlib then
    fails to draw the whole figure. Returns how many axes were changed.
    """
    changed = 0
    for ax in fig.axes:
        notes = []
        for name, limits, set_scale in (
            ("x", ax.get_xlim(), ax.set_xscale),
            ("y", ax.get_ylim(), ax.set_yscale),
        ):
            scale = ax.get_xscale() if name == "x" else ax.get_yscale()
            low, high = (float(value) for value in limits)
            if scale == "log" and not (np.isfinite([low, high]).all() and min(low, high) > 0):
                set_scale("linear")
                notes.append(name)
                changed += 1
        if notes:
            ax.text(
                0.5,
                0.5,
                f"{NO_POSITIVE_NOTE} ({', '.join(notes)})",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=8,
                color="gray",
            )
    return changed


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


def save_figure(fig: Figure, path: str | Path, *, vector: bool = True) -> Path:
    """Save ``fig`` as a PNG at ``path`` and, with ``vector``, as an SVG beside it (same stem).

    Each file is written atomically (temporary + rename); the bounding box is fitted to every
    artist, so a title or legend wider than the axes is not clipped. Closes ``fig`` if pyplot's.
    Log axes with nothing positive to show are drawn linear first (``guard_log_axes``).
    Returns the PNG's path.
    """
    guard_log_axes(fig)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    targets = [(path, "png")] + ([(path.with_suffix(".svg"), "svg")] if vector else [])
    try:
        for target, kind in targets:
            tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
            try:
                fig.savefig(tmp, dpi=DPI, format=kind, bbox_inches="tight", pad_inches=0.05)
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
    finally:
        _close(fig)
    return path


def _close(fig: Figure) -> None:
    """Release a figure made with pyplot (a no-op for ``new_figure``'s)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
