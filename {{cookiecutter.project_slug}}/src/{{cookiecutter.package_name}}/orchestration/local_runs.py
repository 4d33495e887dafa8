"""Run the pipelines on the embedded local stack and return what they decided and produced.

The runner is an entry point: it gets the loaded settings and hands each pipeline the sections
its steps need. It takes no decision of its own; after monitoring, it follows the decision step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
    staged: bool = False  # passed, and waits for a person's approval (`promote`)


def run_training(
    settings: Settings,
    trigger: dict[str, Any] | None = None,
    overrides: list[str] | None = None,
) -> TrainingOutcome:
    """Run the training pipeline on the local stack; `trigger` says why (for the evidence).

    `overrides` are `section.key=value` assignments for this run only (params.yaml unchanged).
    """
    settings = settings.with_overrides(overrides or [])
    ensure_local_stack(settings)
    from zenml.integrations.mlflow.flavors.mlflow_experiment_tracker_flavor import (
        MLFlowExperimentTrackerSettings,
    )

    from {{ cookiecutter.package_name }}.pipelines.training import training

    tracker = MLFlowExperimentTrackerSettings(experiment_name=settings.tracking.experiment_name)
    with explained_failures("training"):
        run = training.with_options(settings={"experiment_tracker": tracker})(
            **training_parameters(settings), trigger=trigger, overrides=overrides or []
        )
    if run is None:
        raise RuntimeError("the training pipeline did not run")
    return training_outcome(run)


def training_outcome(run: Any) -> TrainingOutcome:
    """The gate's verdict and the metrics, read from a finished training run's artifacts."""
    decision: dict[str, Any] = _output(run, "promotion_gate", "gate_decision")
    return TrainingOutcome(
        run_name=run.name,
        version=decision["version"],
        passed=decision["passed"],
        reasons=decision["reasons"],
        champion=decision["champion"],
        metrics=_output(run, "evaluate_model", "metrics"),
        staged=decision.get("staged", False),
    )


def run_batch_inference(settings: Settings, path: str, newest: int) -> Path:
    """Run the batch-inference pipeline; return the local copy of its `predictions` artifact."""
    ensure_local_stack(settings)
    from {{ cookiecutter.package_name }}.pipelines.batch_inference import batch_inference

    with explained_failures("batch_inference"):
        run = batch_inference(features=settings.features, path=path, newest=newest)
    if run is None:
        raise RuntimeError("the batch-inference pipeline did not run")
    from {{ cookiecutter.package_name }}.data.files import save_predictions

    return save_predictions(settings, _output(run, "score_batch", "predictions"))


@dataclass(frozen=True)
class MonitoringOutcome:
    """The drift summary of the champion, and the retraining it started, if any."""

    summary: dict[str, Any]
    retraining: TrainingOutcome | None = None
    request: Path | None = None


def run_monitoring(settings: Settings, source: str, path: str, newest: int) -> MonitoringOutcome:
    """Run the monitoring pipeline; retrain when its decision step says so."""
    ensure_local_stack(settings)
    from zenml.integrations.mlflow.flavors.mlflow_experiment_tracker_flavor import (
        MLFlowExperimentTrackerSettings,
    )

    from {{ cookiecutter.package_name }}.model.registry import monitoring_experiment
    from {{ cookiecutter.package_name }}.monitoring.trigger import request_path
    from {{ cookiecutter.package_name }}.pipelines.monitoring import monitoring

    tracker = MLFlowExperimentTrackerSettings(experiment_name=monitoring_experiment(settings))
    with explained_failures("monitoring"):
        run = monitoring.with_options(settings={"experiment_tracker": tracker})(
            **monitoring_parameters(settings), source=source, path=path, newest=newest
        )
    if run is None:
        raise RuntimeError("the monitoring pipeline did not run")
    summary: dict[str, Any] = _output(run, "decide_retraining", "monitoring")
    if summary["action"] == "request":
        return MonitoringOutcome(summary, request=request_path(settings))
    if summary["action"] == "retrain":
        return MonitoringOutcome(summary, retraining=run_training(settings, trigger=summary))
    return MonitoringOutcome(summary)


def training_parameters(settings: Settings) -> dict[str, Any]:
    """The training pipeline's parameters: the sections its steps decide with."""
    return {
        "quality": settings.quality,
        "features": settings.features,
        "model": settings.model,
        "gate": settings.gate,
        "governance": settings.governance,
        "seed": settings.seed,
    }


def monitoring_parameters(settings: Settings) -> dict[str, Any]:
    """The monitoring pipeline's sections (the data source is the caller's choice)."""
    return {"features": settings.features, "monitoring": settings.monitoring}


class StepFailedError(RuntimeError):
    """A pipeline step failed; the message is the step's own error, not ZenML's summary."""


@contextmanager
def explained_failures(pipeline_name: str) -> Iterator[None]:
    """Replace ZenML's "failure in step(s): x" with each failed step's own error message.

    A quality gate that lists its failed tests, or a contract that names the broken column, is
    only useful if the person running the pipeline sees that message.
    """
    try:
        yield
    except RuntimeError as error:
        if "failure in step(s)" not in str(error):
            raise
        from zenml.client import Client
        from zenml.enums import ExecutionStatus

        runs = Client().list_pipeline_runs(
            pipeline_name=pipeline_name, sort_by="desc:created", size=1, hydrate=True
        )
        failed = [
            f"{name}: {step.exception_info.message}"
            for name, step in runs.items[0].steps.items()
            if step.status == ExecutionStatus.FAILED and step.exception_info is not None
        ]
        if not failed:
            raise
        raise StepFailedError("; ".join(failed)) from error


def _output(run: Any, step: str, name: str) -> Any:
    return run.steps[step].outputs[name][0].load()
