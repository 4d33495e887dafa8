"""Week 7: the quality and fairness gates stopped runs, monitoring found drift, reasons read."""

from __future__ import annotations

import json

from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.model import registry, tags
from {{ cookiecutter.package_name }}.serving.prediction_log import read_entries
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


def test_the_fairness_gate_rejected_a_version(settings: Settings) -> None:
    verdicts = [info.gate for info in registry.list_versions(settings)]
    if not any(v.startswith("failed") and "gate.fairness." in v for v in verdicts):
        next_step(
            "no version was rejected by the fairness gate yet: train once with "
            "`--set gate.fairness.max_fpr_difference=0 --set gate.fairness.min_z=0` and read "
            "which groups it names (week 7, exercise 4)"
        )


def test_you_asked_the_service_for_the_reasons_of_a_score(settings: Settings) -> None:
    log = settings.resolve(settings.serving.prediction_log)
    if not any(entry.get("reasons") for entry in read_entries(log)):
        next_step(
            "the prediction log holds no answer with its reasons: with `make serve` running, "
            "send a request with `--explain` (week 7, exercise 5)"
        )
