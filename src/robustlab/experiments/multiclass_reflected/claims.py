"""multiclass-reflected: what the paper states, and the verdicts (no impact; counterexample)."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from robustlab.experiments.base import Summary
from robustlab.experiments.multiclass_reflected.config import (
    COUNTEREXAMPLE_RADIUS,
    COUNTEREXAMPLE_W,
    COUNTEREXAMPLE_X,
    EQUIVALENCE_MARGIN,
    LEVEL,
    PAPER_TABLE2,
    Config,
)
from robustlab.theory import claims
from robustlab.theory.fitting import Verdict


def theory(config: Config) -> dict[str, Any]:
    """The paper's Table 2 (CIFAR-10, percent), the no-impact claim and the counterexample."""
    W = np.asarray(COUNTEREXAMPLE_W)
    x = np.asarray(COUNTEREXAMPLE_X)
    best = {
        f"class_{j + 1}": float(
            (W[j] - W[0]) @ x + COUNTEREXAMPLE_RADIUS * np.linalg.norm(W[j] - W[0])
        )
        for j in (1, 2)
    }
    table = {
        str(nu): {
            str(steps): {m: {"RA": v[0], "SA": v[1]} for m, v in by_method.items()}
            for steps, by_method in by_steps.items()
        }
        for nu, by_steps in PAPER_TABLE2.items()
    }
    return {
        "paper_table2_cifar10_percent": table,
        "claim": "greedy R-PGD training changes neither robust nor standard accuracy "
        f"(we call |mean difference| <= {EQUIVALENCE_MARGIN} no impact)",
        "counterexample_best_gain_over_class_1": best,
        "counterexample_prediction": "greedy R-PGD targets class 2, which never overtakes "
        "class 1 (gain < 0); targeting class 3 flips (gain > 0)",
    }


# --------------------------------------------------------------------------- summary
def _equivalence(diff: np.ndarray, what: str) -> Verdict:
    """No-impact verdict for paired differences (R-PGD minus PGD) of an accuracy."""
    return claims.paired_difference(
        diff,
        claim=f"R-PGD training does not change {what} (paired over settings and runs)",
        expect="zero",
        alpha=LEVEL,
        margin=EQUIVALENCE_MARGIN,
    )


def _paper_differences() -> dict[str, float]:
    ra = [b["R-PGD"][0] - b["PGD"][0] for s in PAPER_TABLE2.values() for b in s.values()]
    sa = [b["R-PGD"][1] - b["PGD"][1] for s in PAPER_TABLE2.values() for b in s.values()]
    return {"RA": float(np.mean(ra)) / 100, "SA": float(np.mean(sa)) / 100}


def _counterexample_verdicts(rows: pd.DataFrame) -> list[Verdict]:
    by_method: dict[str, dict[str, Any]] = {
        str(record["attack"]): {str(k): v for k, v in record.items()}
        for record in rows.to_dict("records")
    }
    verdicts = []
    exact2 = by_method["exact max f_1 - f_0"]
    exact3 = by_method["exact max f_2 - f_0"]
    greedy = by_method["greedy R-PGD"]
    verdicts.append(
        claims.fact(
            "greedy R-PGD fails to flip the section 4.3 counterexample",
            (not bool(greedy["flipped"])) and float(exact2["margin"]) > 0,
            measured=float(greedy["margin"]),
            predicted=float(exact2["margin"]),
            reason=f"after 200 steps greedy R-PGD leaves margin {float(greedy['margin']):.3f} "
            f"> 0; exact: class 2 stays {float(exact2['margin']):.3f} below class 1 everywhere "
            "in the ball",
        )
    )
    targeted = by_method["R-PGD targeted at class 3"]
    example = by_method["paper example delta"]
    ok = (
        bool(targeted["flipped"])
        and int(targeted["predicted_class"]) == 2
        and float(exact3["margin"]) < 0
        and int(example["predicted_class"]) == 2
    )
    verdicts.append(
        claims.fact(
            "targeting class 3 flips the counterexample (paper: delta = [0, 0.3])",
            ok,
            measured=float(targeted["margin"]),
            predicted=float(exact3["margin"]),
            reason=f"targeted R-PGD reaches margin {float(targeted['margin']):.3f} with class 3 "
            f"predicted; exact best margin {float(exact3['margin']):.3f}; the paper's delta "
            f"gives logits [{example['logit_0']:g}, {example['logit_1']:g}, "
            f"{example['logit_2']:g}]",
        )
    )
    return verdicts


def summarize(table: pd.DataFrame, config: Config) -> Summary:
    """RA/SA per setting and method, paired R-PGD - PGD differences, counterexample verdicts.

    The headline has one entry per (data set, nu, steps): each method's [RA, SA] (mean over
    runs) and the paper's CIFAR-10 values of the same setting (a reference, not a prediction:
    another data set and network), then the mean paired differences and the counterexample.
    """
    headline: dict[str, Any] = {
        "data": f"{' and '.join(config.dataset)} in place of CIFAR-10 (not available here); a "
        f"two-layer ReLU net of width {config.width} in place of PreActResNet"
    }
    verdicts: list[Verdict] = []
    parts = table["part"] if "part" in table else pd.Series(["training"] * len(table))
    train = table[parts == "training"]
    if len(train):
        keys = ["dataset", "nu_255", "steps"]
        means = train.groupby([*keys, "method"])[["robust_accuracy", "standard_accuracy"]].mean()
        for key_values, values in means.iterrows():
            dataset, nu, steps, method = cast(tuple[Any, Any, Any, Any], key_values)
            entry = headline.setdefault(f"{dataset}, nu={nu:g}/255, steps={int(steps)}", {})
            entry[f"{method} [RA, SA]"] = [
                round(float(values["robust_accuracy"]), 4),
                round(float(values["standard_accuracy"]), 4),
            ]
            reference = PAPER_TABLE2.get(int(nu), {}).get(int(steps), {}).get(str(method))
            if reference is not None and float(nu).is_integer():
                entry[f"paper CIFAR-10 {method}"] = [round(v / 100, 5) for v in reference]
        paired = train.pivot_table(
            index=[*keys, "seed", "member"],
            columns="method",
            values=["robust_accuracy", "standard_accuracy"],
        )
        if ("robust_accuracy", "PGD") in paired and ("robust_accuracy", "R-PGD") in paired:
            paper = _paper_differences()
            for column, what, short in (
                ("robust_accuracy", "robust accuracy (RA)", "RA"),
                ("standard_accuracy", "standard accuracy (SA)", "SA"),
            ):
                diff = (paired[(column, "R-PGD")] - paired[(column, "PGD")]).dropna()
                headline[f"mean_{short}_difference"] = float(diff.mean())
                headline[f"paper_mean_{short}_difference"] = paper[short]
                verdicts.append(_equivalence(diff.to_numpy(dtype=float), what))
    extra = table[parts == "counterexample"]
    if len(extra):
        flips = extra.set_index("attack")["flipped"].astype(bool)
        headline["counterexample"] = {
            "greedy_flips": bool(flips["greedy R-PGD"]),
            "targeted_class3_flips": bool(flips["R-PGD targeted at class 3"]),
            "cross_entropy_pgd_flips": bool(flips["PGD (cross entropy)"]),
        }
        verdicts += _counterexample_verdicts(extra)
    return Summary(headline=headline, verdicts=verdicts)
