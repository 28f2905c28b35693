"""multiclass-reflected: Table 2 as curves, and R-PGD against PGD beside the paper's numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from robustlab.experiments.multiclass_reflected.config import PAPER_TABLE2, Config
from robustlab.plotting import new_figure, plot_theory


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Table 2 as curves (RA and SA against the training steps, per nu and data set) and a
    scatter of R-PGD against PGD with the no-impact line y = x (ours and the paper's CIFAR-10)."""
    parts = table["part"] if "part" in table else pd.Series(["training"] * len(table))
    train = table[parts == "training"]
    out: dict[str, Figure] = {}
    if not len(train):
        return out
    datasets = [d for d in config.dataset if d in set(train["dataset"])]
    nus = sorted(train["nu_255"].unique())
    fig, axes = new_figure(len(nus), nrows=len(datasets), width=3.4, height=3.0)
    axes = np.asarray(axes).reshape(len(datasets), len(nus))
    colors = {"PGD": "tab:blue", "R-PGD": "tab:red"}
    for i, dataset in enumerate(datasets):
        for j, nu in enumerate(nus):
            ax = axes[i, j]
            rows = train[(train["dataset"] == dataset) & (train["nu_255"] == nu)]
            for method, group in rows.groupby("method"):
                stats_ = group.groupby("steps")[["robust_accuracy", "standard_accuracy"]].mean()
                color = colors.get(str(method), "tab:gray")
                ax.plot(
                    stats_.index, stats_["robust_accuracy"], "o-", color=color, label=f"{method} RA"
                )
                ax.plot(
                    stats_.index,
                    stats_["standard_accuracy"],
                    "s--",
                    color=color,
                    alpha=0.6,
                    label=f"{method} SA",
                )
            ax.set_xscale("log", base=2)
            ticks = sorted(int(v) for v in rows["steps"].unique())
            ax.set_xticks(ticks, [str(v) for v in ticks])
            ax.minorticks_off()
            ax.set_title(f"{dataset}, train $\\nu = {nu:g}/255$", fontsize=9)
            ax.set_xlabel("training PGD steps")
            ax.grid(True, alpha=0.25)
        axes[i, 0].set_ylabel(f"accuracy (test $\\nu = {config.test_nu_255:g}/255$)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(4, 2 * len(nus)), fontsize=8)
    fig.suptitle(
        f"Table 2 protocol on {' and '.join(datasets)} in place of CIFAR-10 (two-layer ReLU net, "
        f"width {config.width})",
        fontsize=9,
    )
    out["table2"] = fig

    fig2, axes2 = new_figure(2, width=3.8, height=3.6)
    paired = train.pivot_table(
        index=["dataset", "nu_255", "steps", "seed", "member"],
        columns="method",
        values=["robust_accuracy", "standard_accuracy"],
    )
    for ax, (column, short) in zip(
        axes2, (("robust_accuracy", "RA"), ("standard_accuracy", "SA")), strict=True
    ):
        if (column, "PGD") in paired and (column, "R-PGD") in paired:
            ax.scatter(
                paired[(column, "PGD")],
                paired[(column, "R-PGD")],
                s=14,
                color="tab:red",
                label="ours (Fashion-MNIST / MNIST)",
            )
        index = 0 if short == "RA" else 1
        theirs = np.array(
            [
                (b["PGD"][index] / 100, b["R-PGD"][index] / 100)
                for s in PAPER_TABLE2.values()
                for b in s.values()
            ]
        )
        ax.scatter(
            theirs[:, 0], theirs[:, 1], s=14, marker="x", color="tab:gray", label="paper (CIFAR-10)"
        )
        plot_theory(ax, [0, 1], [0, 1], label="no impact: R-PGD = PGD")
        ax.set_xlabel(f"{short} after PGD training")
        ax.set_ylabel(f"{short} after R-PGD training")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.grid(True, alpha=0.25)
    axes2[0].legend(fontsize=7)
    out["r_pgd_vs_pgd"] = fig2
    return out
