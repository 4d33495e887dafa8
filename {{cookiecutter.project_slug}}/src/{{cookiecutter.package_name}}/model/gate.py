"""The promotion gate: absolute thresholds, and no regression against the champion."""

from __future__ import annotations

from dataclasses import dataclass, field

from {{ cookiecutter.package_name }}.model.evaluate import Evaluation
from {{ cookiecutter.package_name }}.settings import GateSettings

JUDGED = ("roc_auc", "recall_at_fpr")


@dataclass(frozen=True)
class GateDecision:
    """Whether the challenger may become champion, and every reason it may not."""

    passed: bool
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: `passed` or `failed: reason; reason`."""
        return "passed" if self.passed else "failed: " + "; ".join(self.reasons)


def judge(challenger: Evaluation, champion: Evaluation | None, gate: GateSettings) -> GateDecision:
    """Apply the gate. `champion` must be evaluated on the challenger's held-out rows."""
    reasons = []
    if challenger.roc_auc < gate.min_roc_auc:
        reasons.append(f"roc_auc {challenger.roc_auc:.4f} < minimum {gate.min_roc_auc}")
    if challenger.recall_at_fpr < gate.min_recall:
        reasons.append(f"recall_at_fpr {challenger.recall_at_fpr:.4f} < minimum {gate.min_recall}")
    if champion is not None:
        for metric in JUDGED:
            new, old = getattr(challenger, metric), getattr(champion, metric)
            if new < old - gate.max_regression:
                reasons.append(
                    f"{metric} {new:.4f} is worse than the champion's {old:.4f} "
                    f"by more than {gate.max_regression}"
                )
    return GateDecision(passed=not reasons, reasons=reasons)
