"""The retraining trigger: when drift passes the thresholds in settings, retrain or ask to."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from {{ cookiecutter.package_name }}.monitoring.drift import DriftResult
from {{ cookiecutter.package_name }}.settings import MonitoringSettings, Settings


@dataclass(frozen=True)
class RetrainingDecision:
    """Whether the drift calls for a new model, and every threshold it passed."""

    retrain: bool
    reasons: list[str] = field(default_factory=list)


def decide(result: DriftResult, settings: MonitoringSettings) -> RetrainingDecision:
    """Retrain when the drifted share of features or the score drift reaches its threshold."""
    reasons = []
    if result.drift_share >= settings.drift_share_threshold:
        reasons.append(
            f"{len(result.drifted_features)} of {len(result.feature_scores)} features drifted "
            f"({', '.join(result.drifted_features)}): share {result.drift_share:.2f} >= "
            f"{settings.drift_share_threshold}"
        )
    if result.score_drift >= settings.score_drift_threshold:
        reasons.append(
            f"fraud_probability drifted: score {result.score_drift:.3f} >= "
            f"{settings.score_drift_threshold}"
        )
    return RetrainingDecision(retrain=bool(reasons), reasons=reasons)


def request_path(settings: Settings) -> Path:
    """Where a pending retraining request waits for a scheduler or a person."""
    return settings.resolve(settings.paths.reports_dir) / "retraining_request.json"


def write_request(
    settings: Settings, decision: RetrainingDecision, monitoring: dict[str, Any]
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
