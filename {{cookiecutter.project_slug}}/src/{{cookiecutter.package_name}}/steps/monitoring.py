"""Steps of the monitoring pipeline (annotations stay evaluated: ZenML reads them)."""

import json
from dataclasses import asdict
from typing import Annotated, Any

import mlflow
import pandas as pd
from zenml import step

from {{ cookiecutter.package_name }}.data.contract import TRANSACTIONS_TO_SCORE, read_table
from {{ cookiecutter.package_name }}.data.versioning import pull_missing
from {{ cookiecutter.package_name }}.features.request_time import encode_categories
from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures
from {{ cookiecutter.package_name }}.features.store import open_offline_store
from {{ cookiecutter.package_name }}.governance import evidence
from {{ cookiecutter.package_name }}.model import registry
from {{ cookiecutter.package_name }}.monitoring.drift import LABEL, SCORE, check_drift
from {{ cookiecutter.package_name }}.monitoring.reference import load_reference
from {{ cookiecutter.package_name }}.monitoring.reports import report_folder
from {{ cookiecutter.package_name }}.monitoring.trigger import decide
from {{ cookiecutter.package_name }}.serving.prediction_log import read_log
from {{ cookiecutter.package_name }}.settings import load_settings


@step
def load_champion_reference() -> tuple[
    Annotated[pd.DataFrame, "reference"], Annotated[str, "champion_version"]
]:
    """The champion's drift reference (logged with its run when it was registered)."""
    settings = load_settings()
    version = registry.champion_version(settings)
    if version is None:
        raise RuntimeError("no champion model yet: run `make train` first")
    return load_reference(settings, version), version


@step
def load_current(
    source: str, path: str, newest: int, version: str
) -> Annotated[pd.DataFrame, "current"]:
    """What the champion sees now: its rows of the prediction log, or a scored batch.

    `log` reads the serving prediction log (inputs as served, no labels); `batch` scores the
    newest `newest` transactions of `path` on point-in-time features (labels kept if present).
    """
    settings = load_settings()
    model = registry.load_version(settings, version)
    if source == "log":
        served = read_log(settings.resolve(settings.serving.prediction_log), version)
        return served.tail(newest) if newest else served
    if source != "batch":
        raise ValueError(f"unknown source {source!r}: use log or batch")
    file = settings.resolve(settings.project_root / path)
    pull_missing(settings, file)
    batch = read_table(file, TRANSACTIONS_TO_SCORE).sort_values("event_timestamp")
    batch = batch.tail(newest) if newest else batch
    rows = CustomerFeatures(settings, open_offline_store(settings)).historical_features(batch)
    inputs = encode_categories(rows)[model.features]
    current = inputs.assign(**{SCORE: model.predict(inputs)})
    return current.assign(**{LABEL: rows[LABEL].to_numpy()}) if LABEL in rows else current


@step(experiment_tracker=True)
def check_champion_drift(
    reference: pd.DataFrame, current: pd.DataFrame, version: str, source: str
) -> Annotated[dict[str, Any], "monitoring"]:
    """Drift report and retraining decision; kept under reports/monitoring/ and in MLflow."""
    settings = load_settings()
    model = registry.load_version(settings, version)
    folder = report_folder(settings, "monitoring", f"v{version}")
    result = check_drift(
        reference, current, model.features, settings.monitoring, model.threshold, folder
    )
    decision = decide(result, settings.monitoring)
    summary = {
        "model_version": version,
        "source": source,
        "drift_share": result.drift_share,
        "score_drift": result.score_drift,
        "drifted_features": result.drifted_features,
        "retrain": decision.retrain,
        "reasons": decision.reasons,
        "report": result.report,
    }
    (folder / "summary.json").write_text(
        json.dumps({**summary, **result.as_dict(), **asdict(decision)}, indent=2) + "\n"
    )
    mlflow.log_artifacts(str(folder), "monitoring")
    mlflow.log_metrics({"drift_share": result.drift_share, "score_drift": result.score_drift})
    mlflow.log_metrics({f"current_{name}": value for name, value in result.performance.items()})
    client = registry.mlflow_client(settings)
    client.set_model_version_tag(
        registry.model_name(settings), version, "last_monitoring", json.dumps(summary)
    )
    evidence.write(settings, version)
    return summary
