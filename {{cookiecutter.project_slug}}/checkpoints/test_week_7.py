"""Week 7: the quality gate stopped a run, monitoring found drift, the champion was checked."""

from __future__ import annotations

import json

from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.model import registry, tags
from {{ cookiecutter.package_name }}.settings import Settings


def test_the_quality_gate_stopped_a_training_run(settings: Settings) -> None:
    runs = registry.training_runs(settings)
    verdicts = [json.loads(run.data.tags.get(tags.QUALITY_GATE, "{}")) for run in runs]
    if not any(verdict and not verdict.get("passed") for verdict in verdicts):
        next_step(
            "the quality gate has not stopped a training run yet: tighten quality.max_fraud_rate "
            "below the data's rate and run `make train` (week 7, exercise 1), then restore it"
        )


def test_a_monitoring_run_found_drift(settings: Settings) -> None:
    folder = settings.resolve(settings.paths.reports_dir) / "monitoring"
    summaries = sorted(folder.glob("*/summary.json")) if folder.is_dir() else []
    if not any(json.loads(path.read_text()).get("failed_tests") for path in summaries):
        next_step(
            "no monitoring run has found drift yet: lower a drift threshold below the noise and "
            "run `make monitor` (week 7, exercise 3), or shift the data (week 8, exercise 2)"
        )


def test_a_drift_report_of_the_champion_exists(settings: Settings, champion: str) -> None:
    folder = settings.resolve(settings.paths.reports_dir) / "monitoring"
    reports = list(folder.glob(f"*-v{champion}/drift.json")) if folder.is_dir() else []
    if not reports:
        next_step(f"no drift report of the champion (version {champion}): run `make monitor`")
