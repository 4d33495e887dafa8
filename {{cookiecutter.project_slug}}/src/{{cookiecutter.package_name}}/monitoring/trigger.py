"""The retraining trigger: when Evidently's drift tests fail, retrain or ask to."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from {{ cookiecutter.package_name }}.settings import Workspace


@dataclass(frozen=True)
class RetrainingDecision:
    """Whether the drift calls for a new model, what happens about it, and the failed tests.

    `action` is `retrain` (auto_retrain on), `request` (a person or scheduler decides) or `none`.
    """

    retrain: bool
    action: Literal["retrain", "request", "none"]
    reasons: list[str] = field(default_factory=list)


def decide(
    failed_tests: list[str], auto_retrain: bool, new_labels: bool, champion: str
) -> RetrainingDecision:
    """Retrain when Evidently's drifted-share test or the score's drift test failed.

    Retraining needs labelled data the champion has not seen: without it (`new_labels` false)
    a new run would learn the same model again, so the decision becomes a request.
    """
    if not failed_tests:
        return RetrainingDecision(retrain=False, action="none")
    reasons = list(failed_tests)
    if not new_labels:
        reasons.append(f"no new labelled data since version {champion}: label newer data first")
    action: Literal["retrain", "request"] = "retrain" if auto_retrain and new_labels else "request"
    return RetrainingDecision(retrain=True, action=action, reasons=reasons)


def request_path(settings: Workspace) -> Path:
    """Where a pending retraining request waits for a scheduler or a person."""
    return settings.resolve(settings.paths.reports_dir) / "retraining_request.json"


def write_request(
    settings: Workspace, decision: RetrainingDecision, monitoring: dict[str, Any]
) -> Path:
    """Record a pending retraining request (when `auto_retrain` is off) and return its path."""
    path = request_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    request = {
        "requested_at": datetime.now(timezone.utc).isoformat(),
        **asdict(decision),
        "monitoring": monitoring,
    }
    path.write_text(json.dumps(request, indent=2) + "\n")
    return path
