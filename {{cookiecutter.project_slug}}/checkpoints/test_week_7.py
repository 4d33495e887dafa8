"""Week 7: the champion passed the quality gate, and its drift has been checked."""

from __future__ import annotations

import json

from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.model import registry, tags
from {{ cookiecutter.package_name }}.settings import Settings


def test_the_champion_s_training_data_passed_the_quality_gate(
    settings: Settings, champion: str
) -> None:
    client = registry.mlflow_client(settings)
    run_id = client.get_model_version(registry.model_name(settings), champion).run_id
    gate = json.loads(client.get_run(run_id).data.tags.get(tags.QUALITY_GATE, "{}"))
    if not gate.get("passed"):
        next_step(
            f"the champion's training run (version {champion}) has no passed quality gate: "
            "run `make train` so the Evidently gate checks the data first"
        )


def test_a_drift_report_of_the_champion_exists(settings: Settings, champion: str) -> None:
    folder = settings.resolve(settings.paths.reports_dir) / "monitoring"
    reports = list(folder.glob(f"*-v{champion}/drift.json")) if folder.is_dir() else []
    if not reports:
        next_step(f"no drift report of the champion (version {champion}): run `make monitor`")
