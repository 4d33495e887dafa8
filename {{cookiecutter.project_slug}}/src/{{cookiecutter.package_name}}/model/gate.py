"""The promotion gate: absolute thresholds, and no regression against the champion.

The challenger and the champion are compared as they ship, each at its own threshold, on the
same held-out rows, none of which either of them trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from {{ cookiecutter.package_name }}.data.contract import TIME
from {{ cookiecutter.package_name }}.model.evaluate import Evaluation
from {{ cookiecutter.package_name }}.model.fairness import breaches
from {{ cookiecutter.package_name }}.settings import GateSettings

HIGHER_IS_BETTER = ("roc_auc", "pr_auc", "precision", "recall")
LOWER_IS_BETTER = ("false_positive_rate",)


@dataclass(frozen=True)
class GateDecision:
    """Whether the challenger may become champion, and every reason it may not."""

    passed: bool
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: `passed` or `failed: reason; reason`."""
        return "passed" if self.passed else "failed: " + "; ".join(self.reasons)


@dataclass(frozen=True)
class Comparison:
    """Challenger and champion evaluated on the same rows, newer than both training windows."""

    challenger: Evaluation
    champion: Evaluation


def comparison_rows(
    held_out: pd.DataFrame, champion: str, trained_until: pd.Timestamp, min_rows: int
) -> pd.DataFrame:
    """The held-out rows newer than the champion's training data: neither model trained on them.

    Refuses, in one line, to judge on fewer than `min_rows`.
    """
    rows = held_out[held_out[TIME] > trained_until]
    if len(rows) < min_rows:
        raise ValueError(
            f"cannot compare with champion v{champion}: {len(rows)} held-out rows are newer than "
            f"its training data (up to {trained_until}), the gate needs {min_rows} "
            "(gate.min_comparison_rows): add newer labelled data"
        )
    return rows


def judge(
    challenger: Evaluation,
    comparison: Comparison | None,
    gate: GateSettings,
    fairness: dict[str, Any] | None = None,
) -> GateDecision:
    """Apply the gate to the challenger, its comparison with the champion, and its groups.

    `challenger` is measured on its held-out rows, `comparison` on the rows newer than both
    training windows, `fairness` per customer group (`model.fairness.group_metrics`).
    """
    reasons = []
    if challenger.roc_auc < gate.min_roc_auc:
        reasons.append(f"roc_auc {challenger.roc_auc:.4f} < minimum {gate.min_roc_auc}")
    if challenger.recall < gate.min_recall:
        reasons.append(
            f"recall at the shipped threshold {challenger.recall:.4f} < minimum {gate.min_recall}"
        )
    if comparison is not None:
        for metric in (*HIGHER_IS_BETTER, *LOWER_IS_BETTER):
            new = getattr(comparison.challenger, metric)
            old = getattr(comparison.champion, metric)
            worse = old - new if metric in HIGHER_IS_BETTER else new - old
            if worse > gate.max_regression:
                reasons.append(
                    f"{metric} {new:.4f} is worse than the champion's {old:.4f} "
                    f"by more than {gate.max_regression}"
                )
    reasons += breaches(fairness or {}, gate.fairness)
    return GateDecision(passed=not reasons, reasons=reasons)
