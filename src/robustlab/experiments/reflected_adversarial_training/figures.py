"""Table 1 as bars, one panel per training method and variant, and paper 004 Fig. 1."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from robustlab.experiments.reflected_adversarial_training.config import PAPER_TABLE1, Config
from robustlab.experiments.reflected_adversarial_training.table import (
    select,
    unstable,
    variant_label,
    variants,
)
from robustlab.plotting import margin_loss_figure, new_figure


def _panel(ax: Axes, table: pd.DataFrame, training: str, attacks: list[str], title: str) -> None:
    """Bars of one training method: mean over all runs, min-max over the stable runs, the
    unstable runs as crosses and the paper's numbers as dashed ticks."""
    here = table["training"] == training
    flagged = unstable(table)
    positions = np.arange(len(attacks))
    means = table[here].groupby("attack")["robust_error"].mean()
    height = np.array([means.get(a, math.nan) for a in attacks], dtype=float)
    spread = table[here & ~flagged].groupby("attack")["robust_error"].agg(["min", "max"])
    low = np.array([spread["min"].get(a, math.nan) for a in attacks], dtype=float)
    high = np.array([spread["max"].get(a, math.nan) for a in attacks], dtype=float)
    colors = ["tab:red" if a.startswith("R-") else "tab:blue" for a in attacks]
    colors = ["tab:gray" if a == "clean" else c for a, c in zip(attacks, colors, strict=True)]
    bars = np.vstack([np.clip(height - low, 0, None), np.clip(high - height, 0, None)])
    ax.bar(positions, height, 0.7, yerr=np.nan_to_num(bars), color=colors, capsize=2)
    lost = table[here & flagged]
    for i, attack in enumerate(attacks):
        values = lost[lost["attack"] == attack]["robust_error"].to_numpy(dtype=float)
        label = "unstable run" if i == 0 and values.size else None
        ax.plot(np.full(values.size, i), values, "kx", markersize=5, label=label)
        paper = PAPER_TABLE1.get(training, {}).get(attack)
        if paper is not None:
            ax.hlines(
                paper,
                i - 0.4,
                i + 0.4,
                colors="black",
                linestyles="--",
                linewidth=1.3,
                label="paper (Table 1)" if i == 1 else "_nolegend_",
            )
    ax.set_xticks(positions, attacks, rotation=60, fontsize=7)
    runs = table[here][["seed", "member"]].drop_duplicates().shape[0]
    count = lost[["seed", "member"]].drop_duplicates().shape[0]
    note = f" ({count} of {runs} runs unstable)" if count else ""
    ax.set_title(title + note, fontsize=7 if count else 8)
    ax.grid(True, axis="y", alpha=0.25)


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Table 1 as bars (one panel per training method, one column per variant where there are
    several) and paper 004 Fig. 1, the losses the attacks maximize."""
    if "train_top" not in table or "raw_step_loss" not in table:
        table = table.assign(train_top=False, raw_step_loss="per-sample")
    trainings = [t for t in config.training if t in set(table["training"])]
    attacks = [a for a in ["clean", *config.attacks] if a in set(table["attack"])]
    present = variants(table)
    panels = [(t, v) for t in trainings for v in present]
    ncols = len(present) if len(present) > 1 else min(len(trainings), 3)
    nrows = math.ceil(len(panels) / ncols)
    fig, grid_axes = new_figure(ncols, nrows=nrows, width=4.0, height=3.2)
    all_axes = np.atleast_1d(grid_axes).ravel()
    for spare in all_axes[len(panels) :]:
        spare.set_visible(False)
    for ax, (training, variant) in zip(all_axes, panels, strict=False):
        title = f"trained with {training}"
        if len(present) > 1:
            title += f"\n{variant_label(variant)}"
        _panel(ax, select(table, variant), training, attacks, title)
    for ax in all_axes[::ncols]:
        ax.set_ylabel(r"robust test error  $\hat\varepsilon_{\mathrm{rob}}$")
    handles: list[Any] = []
    labels: list[str] = []
    for ax in all_axes[: len(panels)]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if handles:
        fig.legend(handles, labels, loc="outside lower center", fontsize=8, ncols=len(labels))
    fig.suptitle(
        rf"MNIST 0 vs 1, $\nu_\infty = {config.nu_linf:g}$, $\nu_2 = {config.nu_l2:g}$ "
        "(blue: logistic loss, red: reflected loss; bars: mean over all runs, "
        "min-max over stable runs)",
        fontsize=9,
    )
    return {"table1": fig, "losses": margin_loss_figure()}
