"""The monitoring pipeline: the champion's reference against what it sees now, then a decision."""

from __future__ import annotations

from zenml import pipeline

from {{ cookiecutter.package_name }}.settings import FeatureSettings, MonitoringSettings
from {{ cookiecutter.package_name }}.steps.monitoring import (
    check_champion_drift,
    decide_retraining,
    load_champion_reference,
    load_current,
)


@pipeline(enable_cache=False)
def monitoring(
    features: FeatureSettings,
    monitoring: MonitoringSettings,
    source: str,
    path: str,
    newest: int,
) -> None:
    """Champion's reference + current rows (prediction log or batch) -> drift -> decision."""
    reference, version = load_champion_reference(source)
    current = load_current(source, path, newest, version, features)
    drift = check_champion_drift(reference, current, version, source, monitoring)
    decide_retraining(drift, monitoring.auto_retrain)
