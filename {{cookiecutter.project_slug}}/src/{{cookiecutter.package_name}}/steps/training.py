"""Steps of the training pipeline, in the order they run.

Each step gets its decisions (XGBoost parameters, gate thresholds, quality limits) as step
parameters, so the ZenML run and the compiled Kubeflow spec show them and a run can override
them; where the files, the store and the registry are comes from the running process.
No `from __future__ import annotations` here: ZenML reads the annotations at runtime.
"""

import json
from dataclasses import asdict
from typing import Annotated, Any

import mlflow
import pandas as pd
from zenml import step

from {{ cookiecutter.package_name }}.data.contract import (
    AGE_BAND,
    CATEGORICAL,
    LABEL,
    TIME,
    TRANSACTIONS,
    validate,
)
from {{ cookiecutter.package_name }}.data.files import DataFiles
from {{ cookiecutter.package_name }}.data.versioning import pull_missing
from {{ cookiecutter.package_name }}.features.request_time import category_names, model_columns
from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures
from {{ cookiecutter.package_name }}.features.store import feature_service_definition, open_offline_store
from {{ cookiecutter.package_name }}.governance import evidence, promotion
from {{ cookiecutter.package_name }}.governance.environment import environment_report
from {{ cookiecutter.package_name }}.governance.lineage import dvc_data_hashes, file_md5, lineage_tags
from {{ cookiecutter.package_name }}.model import plots, registry, tags
from {{ cookiecutter.package_name }}.model.evaluate import Evaluation, evaluate
from {{ cookiecutter.package_name }}.model.explain import global_importance
from {{ cookiecutter.package_name }}.model.fairness import group_metrics
from {{ cookiecutter.package_name }}.model.gate import (
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    Comparison,
    comparison_rows,
    judge,
)
from {{ cookiecutter.package_name }}.model.train import TrainedModel, split_by_time, train
from {{ cookiecutter.package_name }}.monitoring.quality import QualityGateError
from {{ cookiecutter.package_name }}.monitoring.quality import check_quality as check_labels_quality
from {{ cookiecutter.package_name }}.monitoring.reference import drift_reference, log_reference
from {{ cookiecutter.package_name }}.monitoring.reports import report_folder
from {{ cookiecutter.package_name }}.settings import (
    FairnessSettings,
    FeatureSettings,
    GateSettings,
    GovernanceSettings,
    ModelSettings,
    QualitySettings,
    load_workspace,
)


@step(experiment_tracker=True)
def load_labels() -> Annotated[pd.DataFrame, "labels"]:
    """Read the labelled transactions, refusing a file that is not the version in dvc.lock.

    The import report (what the `raw` stage read, dropped and mapped) goes with the MLflow run.
    """
    workspace = load_workspace()
    files = DataFiles.of(workspace)
    path = files.transactions
    pull_missing(workspace, path, files.import_report, files.import_report_markdown)
    for report in (files.import_report, files.import_report_markdown):
        mlflow.log_artifact(str(report), "data")
    recorded = dvc_data_hashes(workspace.project_root)
    key = f"{tags.DVC_PREFIX}{path.relative_to(workspace.project_root).as_posix()}"
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
def check_quality(
    labels: pd.DataFrame, quality: QualitySettings
) -> Annotated[dict[str, Any], "quality"]:
    """The Evidently data-quality gate: a failed test stops the run before any training.

    The report is saved under reports/quality/ and attached to the MLflow run either way.
    """
    folder = report_folder(load_workspace(), "quality")
    result = check_labels_quality(labels, quality, folder)
    mlflow.log_artifacts(str(folder), "quality")
    mlflow.log_params({f"quality.{name}": value for name, value in quality.model_dump().items()})
    mlflow.set_tag(tags.QUALITY_GATE, json.dumps(asdict(result)))
    if not result.passed:
        raise QualityGateError(
            f"quality gate failed ({result.report}): " + "; ".join(result.failed)
        )
    return asdict(result)


@step
def build_training_set(
    labels: pd.DataFrame, features: FeatureSettings
) -> Annotated[pd.DataFrame, "training_set"]:
    """Point-in-time join with the model's feature service, plus request-time features."""
    workspace = load_workspace()
    return CustomerFeatures(workspace, features, open_offline_store(workspace)).training_set(labels)


@step
def split_train_test(
    frame: pd.DataFrame, test_fraction: float
) -> tuple[Annotated[pd.DataFrame, "train"], Annotated[pd.DataFrame, "test"]]:
    """Hold out the newest rows: the model is judged on the future, as in production."""
    older, newest = split_by_time(frame, test_fraction)
    return older, newest  # a literal tuple: ZenML reads it as two outputs


@step(experiment_tracker=True)
def train_model(
    train_df: pd.DataFrame, model: ModelSettings, features: FeatureSettings, seed: int
) -> Annotated[bytes, "model"]:
    """Train XGBoost and log its parameters; the model leaves as UBJSON bytes, never a pickle."""
    trained = train(train_df, model, model_columns(features), seed=seed)
    mlflow.log_params(
        {
            **model.model_dump(),
            "seed": seed,
            "train_rows": len(train_df),
            "boosting_rounds": trained.booster.num_boosted_rounds(),
            "threshold": trained.threshold,
        }
    )
    return trained.to_bytes()


@step(experiment_tracker=True)
def evaluate_model(
    model: bytes, test_df: pd.DataFrame, target_fpr: float, fairness: FairnessSettings
) -> tuple[Annotated[dict[str, float], "metrics"], Annotated[dict[str, Any], "fairness"]]:
    """Evaluate on the held-out rows: metrics, curves, importance, SHAP, and per group.

    The groups' attributes come from the customers table (the age band is never a feature).
    """
    workspace = load_workspace()
    trained = TrainedModel.from_bytes(model)
    evaluation = evaluate(trained, test_df, target_fpr)
    mlflow.log_metrics(evaluation.metrics())
    mlflow.log_param("test_rows", len(test_df))
    labels, scores = test_df[LABEL].to_numpy(), trained.predict(test_df)
    mlflow.log_figure(plots.roc_figure(labels, scores), "plots/roc_curve.png")
    mlflow.log_figure(plots.precision_recall_figure(labels, scores), "plots/pr_curve.png")
    mlflow.log_figure(plots.importance_figure(trained), "plots/feature_importance.png")
    importance = global_importance(trained, test_df)
    mlflow.log_figure(plots.shap_figure(importance), "plots/shap_importance.png")
    mlflow.set_tag(tags.GLOBAL_IMPORTANCE, json.dumps(importance))
    customers = DataFiles.of(workspace).customers
    pull_missing(workspace, customers)
    groups = test_df.merge(
        pd.read_parquet(customers, columns=["customer_id", AGE_BAND]), on="customer_id", how="left"
    )
    groups = groups.assign(**{c: category_names(c, groups[c]) for c in CATEGORICAL})
    by_group = group_metrics(labels, scores >= trained.threshold, groups, fairness)
    mlflow.log_dict(by_group, "fairness/groups.json")
    return evaluation.metrics(), by_group


@step
def evaluate_champion(
    model: bytes, test_df: pd.DataFrame, target_fpr: float, min_rows: int
) -> Annotated[dict[str, Any], "champion"]:
    """Challenger and champion on the same held-out rows, none of which either trained on.

    The rows are those of the challenger's held-out set that are newer than the champion's
    training data. Empty when there is no champion.
    """
    workspace = load_workspace()
    version = registry.champion_version(workspace)
    if version is None:
        return {}
    trained_until = registry.version_record(workspace, version).trained_until()
    rows = comparison_rows(test_df, version, trained_until, min_rows)
    champion = registry.load_version(workspace, version)
    challenger = TrainedModel.from_bytes(model)
    return {
        "version": version,
        "metrics": evaluate(champion, rows, target_fpr).metrics(),
        "challenger_metrics": evaluate(challenger, rows, target_fpr).metrics(),
        "rows": len(rows),
        "first_row": str(rows[TIME].min()),
        "champion_trained_until": str(trained_until),
    }


@step(experiment_tracker=True)
def register_model(
    model: bytes,
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    metrics: dict[str, float],
    champion: dict[str, Any],
    trigger: dict[str, Any],
    validation_fraction: float,
    overrides: list[str],
) -> Annotated[str, "model_version"]:
    """Log the model, its lineage and its drift reference; register it as `challenger`.

    The drift reference is the newest slice of the training rows (the early-stopping slice) with
    the model's scores: customer histories are complete there, as they are in production.
    `overrides` are the `--set` assignments this run was started with (recorded, not applied).
    """
    workspace = load_workspace()
    trained = TrainedModel.from_bytes(model)
    run = mlflow.active_run()
    labels = pd.concat([train_df, test_df])
    version_tags = {
        **lineage_tags(workspace),
        tags.MLFLOW_RUN_ID: run.info.run_id if run else "",
        tags.METRICS: json.dumps(metrics, sort_keys=True),
        tags.COMPARED_WITH_CHAMPION: json.dumps(comparison_summary(champion))
        if champion
        else "none",
        tags.TRAINED_UNTIL: str(train_df[TIME].max()),
        tags.FEATURE_SERVICE_DEFINITION: json.dumps(feature_service_definition(workspace)),
        tags.TRAINING_DATA: json.dumps(
            {
                "rows": len(labels),
                "start": str(labels[TIME].min()),
                "end": str(labels[TIME].max()),
                "fraud_rate": round(float(labels[LABEL].mean()), 5),
            }
        ),
        tags.ENVIRONMENT: json.dumps(asdict(environment_report(workspace.project_root))),
        tags.RETRAINING_TRIGGER: json.dumps(trigger),
        tags.RUN_OVERRIDES: json.dumps(overrides),
    }
    mlflow.set_tags(version_tags)
    recent = split_by_time(train_df, validation_fraction)[1]
    log_reference(drift_reference(trained, recent))
    return registry.log_and_register(workspace, trained, test_df, version_tags)


def comparison_summary(champion: dict[str, Any]) -> dict[str, Any]:
    """What the gate compared: the rows, and both models' judged figures on them."""
    judged = (*HIGHER_IS_BETTER, *LOWER_IS_BETTER)
    return {
        **{
            key: champion[key] for key in ("version", "rows", "first_row", "champion_trained_until")
        },
        "champion": {name: round(champion["metrics"][name], 4) for name in judged},
        "challenger": {name: round(champion["challenger_metrics"][name], 4) for name in judged},
    }


@step
def promotion_gate(
    version: str,
    metrics: dict[str, float],
    fairness: dict[str, Any],
    champion: dict[str, Any],
    gate: GateSettings,
    governance: GovernanceSettings,
) -> Annotated[dict[str, Any], "gate_decision"]:
    """Judge the challenger; if it passes, stage it for approval (or make it champion).

    The thresholds applied are recorded here, with the verdict, on the version and its run. A
    direct promotion is refused if the champion is no longer the version it was scored against.
    """
    workspace = load_workspace()
    comparison = (
        Comparison(
            challenger=Evaluation.from_metrics(champion["challenger_metrics"]),
            champion=Evaluation.from_metrics(champion["metrics"]),
        )
        if champion
        else None
    )
    decision = judge(Evaluation.from_metrics(metrics), comparison, gate, fairness)
    registry.record_gate(workspace, version, gate.model_dump(), decision.summary())
    registry.set_version_tag(workspace, version, tags.FAIRNESS, json.dumps(fairness))
    staged = decision.passed and governance.require_approval
    if staged:
        promotion.stage(workspace, version, decision.summary())
    elif decision.passed:
        promotion.promote_by_gate(workspace, version, champion.get("version"), decision.summary())
    else:
        promotion.record_rejection(workspace, version, champion.get("version"), decision.summary())
    return {
        "version": version,
        "passed": decision.passed,
        "staged": staged,
        "reasons": decision.reasons,
        "thresholds": gate.model_dump(),
        "champion": registry.champion_version(workspace),
    }


@step
def write_release_evidence(decision: dict[str, Any]) -> Annotated[str, "evidence_page"]:
    """Write the registered version's release evidence (after the gate, so its verdict is in)."""
    return str(evidence.write(load_workspace(), decision["version"]))
