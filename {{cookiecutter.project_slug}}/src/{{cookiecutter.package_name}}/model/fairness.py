"""Fairness across customer groups: false-positive rate and recall per group, at the threshold.

A fraud model's errors cost people: a false positive blocks a legitimate payment, a missed fraud
costs its victim. Fairlearn's `MetricFrame` gives both per group of each attribute in
`gate.fairness.groups` (by default the customer's age band, which the model never sees, and the
payment channel). The gate refuses a model whose largest gap between two groups exceeds its
threshold and is at least `min_z` standard errors wide (a gap that small samples produce by
chance is reported, not judged), and names the groups. Groups too small to measure are reported,
not judged.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.settings import FairnessSettings

FPR = "false_positive_rate"
RECALL = "recall"


def group_metrics(
    labels: np.ndarray, flagged: np.ndarray, groups: pd.DataFrame, settings: FairnessSettings
) -> dict[str, Any]:
    """Per attribute: each group's rows, frauds, false-positive rate and recall, and the gaps.

    `flagged` are the model's decisions at its shipped threshold.
    """
    from fairlearn.metrics import MetricFrame, count, false_positive_rate, true_positive_rate

    report: dict[str, Any] = {}
    for attribute in settings.groups:
        frame = MetricFrame(
            metrics={
                "rows": count,
                "frauds": lambda truth, _: int(np.sum(truth)),
                FPR: false_positive_rate,
                RECALL: true_positive_rate,
            },
            y_true=labels,
            y_pred=flagged,
            sensitive_features=groups[attribute].astype(str).to_numpy(),
        )
        table = frame.by_group.reset_index(names="group")
        table = table.astype({"rows": int, "frauds": int})
        table["judged"] = table["rows"] >= settings.min_group_rows
        table["recall_judged"] = table["judged"] & (table["frauds"] >= settings.min_group_frauds)
        report[attribute] = {
            "groups": json.loads(table.to_json(orient="records")),  # plain JSON types
            f"{FPR}_gap": _gap(table, FPR, table["judged"]),
            f"{RECALL}_gap": _gap(table, RECALL, table["recall_judged"]),
        }
    return report


def _gap(table: pd.DataFrame, metric: str, judged: pd.Series) -> dict[str, Any] | None:
    """The worst and the best judged group for `metric`, how far apart, and in standard errors.

    Each rate is a share of the group's legitimate transactions (false-positive rate) or of its
    frauds (recall); the standard error of the difference of two shares tells a real gap from
    the noise of small groups.
    """
    rows = table[judged]
    if len(rows) < 2:
        return None
    lower_is_better = metric == FPR
    best = rows.loc[rows[metric].idxmin() if lower_is_better else rows[metric].idxmax()]
    worst = rows.loc[rows[metric].idxmax() if lower_is_better else rows[metric].idxmin()]
    difference = float(abs(worst[metric] - best[metric]))

    def variance(group: pd.Series) -> float:
        base = group["rows"] - group["frauds"] if metric == FPR else group["frauds"]
        share = float(group[metric])
        return share * (1 - share) / max(int(base), 1)

    error = (variance(worst) + variance(best)) ** 0.5
    return {
        "worst": str(worst["group"]),
        "worst_value": float(worst[metric]),
        "best": str(best["group"]),
        "best_value": float(best[metric]),
        "difference": difference,
        "z": round(difference / error, 2) if error else (99.0 if difference else 0.0),
    }


def breaches(report: dict[str, Any], settings: FairnessSettings) -> list[str]:
    """One reason per gap above its threshold, naming the attribute and both groups."""
    limits = {
        FPR: ("max_fpr_difference", settings.max_fpr_difference),
        RECALL: ("max_recall_difference", settings.max_recall_difference),
    }
    reasons = []
    for attribute, measured in report.items():
        for metric, (setting, limit) in limits.items():
            gap = measured[f"{metric}_gap"]
            if gap is not None and gap["difference"] > limit and gap["z"] >= settings.min_z:
                reasons.append(
                    f"{metric} of {attribute}={gap['worst']} is {gap['worst_value']:.3f} against "
                    f"{gap['best_value']:.3f} for {attribute}={gap['best']}: a gap of "
                    f"{gap['difference']:.3f} ({gap['z']:.1f} standard errors) > "
                    f"gate.fairness.{setting} {limit}"
                )
    return reasons
