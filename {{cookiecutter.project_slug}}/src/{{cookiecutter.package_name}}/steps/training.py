"""Steps of the training pipeline, in the order they run.

No `from __future__ import annotations` here: ZenML reads the output annotations at runtime.
"""

import json
from dataclasses import asdict
from typing import Annotated, Any

import mlflow
import pandas as pd
from zenml import step

from {{ cookiecutter.package_name }}.data.contract import TRANSACTIONS, validate
from {{ cookiecutter.package_name }}.data.files import DataFiles
from {{ cookiecutter.package_name }}.data.versioning import pull_missing
from {{ cookiecutter.package_name }}.features.request_time import model_columns
from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures
from {{ cookiecutter.package_name }}.features.store import feature_service_definition, open_offline_store
from {{ cookiecutter.package_name }}.governance import audit, evidence
from {{ cookiecutter.package_name }}.governance.environment import environment_report
from {{ cookiecutter.package_name }}.governance.lineage import dvc_data_hashes, file_md5, lineage_tags
from {{ cookiecutter.package_name }}.model import plots, registry
from {{ cookiecutter.package_name }}.model.evaluate import Evaluation, evaluate
from {{ cookiecutter.package_name }}.model.gate import judge
from {{ cookiecutter.package_name }}.model.train import LABEL, TIME, TrainedModel, split_by_time, train
from {{ cookiecutter.package_name }}.monitoring.quality import QualityGateError
from {{ cookiecutter.package_name }}.monitoring.quality import check_quality as check_labels_quality
from {{ cookiecutter.package_name }}.monitoring.reference import drift_reference, log_reference
from {{ cookiecutter.package_name }}.monitoring.reports import report_folder
from {{ cookiecutter.package_name }}.settings import load_settings


@step
def load_labels() -> Annotated[pd.DataFrame, "labels"]:
    """Read the labelled transactions, refusing a file that is not the version in dvc.lock."""
    settings = load_settings()
    path = DataFiles.of(settings).transactions
    pull_missing(settings, path)
    recorded = dvc_data_hashes(settings.project_root)
    key = f"dvc:{path.relative_to(settings.project_root).as_posix()}"
    if key not in recorded:
        raise RuntimeError(f"{path} is not in dvc.lock: run `make data` first")
    if file_md5(path) != recorded[key]:
        raise RuntimeError(f"{path} differs from its version in dvc.lock: run `make data`")
    return pd.read_parquet(path)


@step
def check_contract(labels: pd.DataFrame) -> Annotated[pd.DataFrame, "checked_labels"]:
    """Stop the run, before any feature or model work, if the data breaks its contract."""
    return validate(labels, TRANSACTIONS)


@step(experiment_tracker=True)
def check_quality(labels: pd.DataFrame) -> Annotated[dict[str, Any], "quality"]:
    """The Evidently data-quality gate: a failed test stops the run before any training.

    The report is saved under reports/quality/ and attached to the MLflow run either way.
    """
    settings = load_settings()
    folder = report_folder(settings, "quality")
    result = check_labels_quality(labels, settings.quality, folder)
    mlflow.log_artifacts(str(folder), "quality")
    mlflow.set_tag("quality_gate", json.dumps(asdict(result)))
    if not result.passed:
        raise QualityGateError(
            f"quality gate failed ({result.report}): " + "; ".join(result.failed)
        )
    return asdict(result)


@step
def build_training_set(labels: pd.DataFrame) -> Annotated[pd.DataFrame, "training_set"]:
    """Point-in-time join with the `fraud_model_v1` features, plus request-time features."""
    settings = load_settings()
    return CustomerFeatures(settings, open_offline_store(settings)).training_set(labels)


@step
def split_train_test(
    frame: pd.DataFrame,
) -> tuple[Annotated[pd.DataFrame, "train"], Annotated[pd.DataFrame, "test"]]:
    """Hold out the newest rows: the model is judged on the future, as in production."""
    older, newest = split_by_time(frame, load_settings().model.test_fraction)
    return older, newest  # a literal tuple: ZenML reads it as two outputs


@step(experiment_tracker=True)
def train_model(train_df: pd.DataFrame) -> Annotated[bytes, "model"]:
    """Train XGBoost and log its parameters; the model leaves as UBJSON bytes, never a pickle."""
    settings = load_settings()
    features = model_columns(settings.features)
    model = train(train_df, settings.model, features, seed=settings.seed)
    mlflow.log_params(
        {
            **settings.model.model_dump(),
            "seed": settings.seed,
            "train_rows": len(train_df),
            "boosting_rounds": model.booster.num_boosted_rounds(),
            "threshold": model.threshold,
        }
    )
    return model.to_bytes()


@step(experiment_tracker=True)
def evaluate_model(model: bytes, test_df: pd.DataFrame) -> Annotated[dict[str, float], "metrics"]:
    """Evaluate on the held-out rows; log metrics, ROC and PR curves and feature importance."""
    settings = load_settings()
    trained = TrainedModel.from_bytes(model)
    evaluation = evaluate(trained, test_df, settings.model.target_fpr)
    mlflow.log_metrics(evaluation.metrics())
    labels, scores = test_df[LABEL].to_numpy(), trained.predict(test_df)
    mlflow.log_figure(plots.roc_figure(labels, scores), "plots/roc_curve.png")
    mlflow.log_figure(plots.precision_recall_figure(labels, scores), "plots/pr_curve.png")
    mlflow.log_figure(plots.importance_figure(trained), "plots/feature_importance.png")
    return evaluation.metrics()


@step
def evaluate_champion(test_df: pd.DataFrame) -> Annotated[dict[str, Any], "champion"]:
    """The current champion's metrics on the same held-out rows (empty when there is none)."""
    settings = load_settings()
    version = registry.champion_version(settings)
    if version is None:
        return {}
    champion = registry.load_version(settings, version)
    metrics = evaluate(champion, test_df, settings.model.target_fpr).metrics()
    return {"version": version, "metrics": metrics}


@step(experiment_tracker=True)
def register_model(
    model: bytes,
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    metrics: dict[str, float],
    champion: dict[str, Any],
    trigger: dict[str, Any],
) -> Annotated[str, "model_version"]:
    """Log the model, its lineage and its drift reference; register it as `challenger`.

    The drift reference is the newest slice of the training rows (the early-stopping slice) with
    the model's scores: customer histories are complete there, as they are in production.
    """
    settings = load_settings()
    trained = TrainedModel.from_bytes(model)
    run = mlflow.active_run()
    labels = pd.concat([train_df, test_df])
    tags = {
        **lineage_tags(settings),
        "mlflow_run_id": run.info.run_id if run else "",
        "metrics": json.dumps(metrics, sort_keys=True),
        "compared_with_champion": champion.get("version", "none"),
        "feature_service_definition": json.dumps(feature_service_definition(settings)),
        "training_data": json.dumps(
            {
                "rows": len(labels),
                "start": str(labels[TIME].min()),
                "end": str(labels[TIME].max()),
                "fraud_rate": round(float(labels[LABEL].mean()), 5),
            }
        ),
        "environment": json.dumps(asdict(environment_report(settings.project_root))),
        "gate_thresholds": json.dumps(settings.gate.model_dump()),
        "retraining_trigger": json.dumps(trigger),
    }
    mlflow.set_tags(tags)
    recent = split_by_time(train_df, settings.model.validation_fraction)[1]
    log_reference(drift_reference(trained, recent))
    return registry.log_and_register(settings, trained, test_df, tags)


@step
def promotion_gate(
    version: str, metrics: dict[str, float], champion: dict[str, Any]
) -> Annotated[dict[str, Any], "gate_decision"]:
    """Promote the challenger only if it passes the gate; otherwise the champion stays."""
    settings = load_settings()
    champion_metrics = champion.get("metrics")
    decision = judge(
        Evaluation.from_metrics(metrics),
        Evaluation.from_metrics(champion_metrics) if champion_metrics else None,
        settings.gate,
    )
    client = registry.mlflow_client(settings)
    client.set_model_version_tag(registry.model_name(settings), version, "gate", decision.summary())
    if decision.passed:
        registry.set_champion(settings, version, "promote", "gate", decision.summary())
    else:
        event = audit.AuditEvent(
            "reject", "gate", champion.get("version"), version, decision.summary()
        )
        registry.record(settings, event)
    return {
        "version": version,
        "passed": decision.passed,
        "reasons": decision.reasons,
        "champion": registry.champion_version(settings),
    }


@step
def write_release_evidence(decision: dict[str, Any]) -> Annotated[str, "evidence_page"]:
    """Write the registered version's release evidence (after the gate, so its verdict is in)."""
    return str(evidence.write(load_settings(), decision["version"]))
