"""Run the pipelines on the active stack and return what they decided and produced."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from {{ cookiecutter.package_name }}.orchestration.local_stack import ensure_local_stack
from {{ cookiecutter.package_name }}.settings import Settings


@dataclass(frozen=True)
class TrainingOutcome:
    """The registered version, the gate's verdict and the champion after the run."""

    run_name: str
    version: str
    passed: bool
    reasons: list[str]
    champion: str | None
    metrics: dict[str, float]


def run_training(settings: Settings) -> TrainingOutcome:
    """Run the training pipeline on the local stack."""
    ensure_local_stack(settings)
    from zenml.integrations.mlflow.flavors.mlflow_experiment_tracker_flavor import (
        MLFlowExperimentTrackerSettings,
    )

    from {{ cookiecutter.package_name }}.pipelines.training import training

    tracker = MLFlowExperimentTrackerSettings(experiment_name=settings.tracking.experiment_name)
    run = training.with_options(settings={"experiment_tracker": tracker})()
    if run is None:
        raise RuntimeError("the training pipeline did not run")
    decision: dict[str, Any] = _output(run, "promotion_gate", "gate_decision")
    return TrainingOutcome(
        run_name=run.name,
        version=decision["version"],
        passed=decision["passed"],
        reasons=decision["reasons"],
        champion=decision["champion"],
        metrics=_output(run, "evaluate_model", "metrics"),
    )


def run_batch_inference(settings: Settings, path: str, newest: int) -> Path:
    """Run the batch-inference pipeline; return the predictions file."""
    ensure_local_stack(settings)
    from {{ cookiecutter.package_name }}.pipelines.batch_inference import batch_inference

    run = batch_inference(path=path, newest=newest)
    if run is None:
        raise RuntimeError("the batch-inference pipeline did not run")
    return Path(_output(run, "write_predictions", "predictions_path"))


def _output(run: Any, step: str, name: str) -> Any:
    return run.steps[step].outputs[name][0].load()
