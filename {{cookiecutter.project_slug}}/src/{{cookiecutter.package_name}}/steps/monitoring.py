"""Steps of the monitoring pipeline (annotations stay evaluated: ZenML reads them).

Drift thresholds, the feature windows and `auto_retrain` arrive as step parameters; the
retraining decision is made once, in `decide_retraining`, from Evidently's test results.
"""

import json
import logging
from dataclasses import asdict
from typing import Annotated, Any

import mlflow
import pandas as pd
from zenml import step

from {{ cookiecutter.package_name }}.data.contract import LABEL
from {{ cookiecutter.package_name }}.data.files import read_transactions_to_score
from {{ cookiecutter.package_name }}.features.request_time import encode_categories
from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures
from {{ cookiecutter.package_name }}.features.store import open_offline_store
from {{ cookiecutter.package_name }}.governance import evidence
from {{ cookiecutter.package_name }}.governance.lineage import LABELLED_DATA, dvc_data_hashes
from {{ cookiecutter.package_name }}.model import registry, tags
from {{ cookiecutter.package_name }}.monitoring.drift import SCORE, check_drift
from {{ cookiecutter.package_name }}.monitoring.reference import load_reference
from {{ cookiecutter.package_name }}.monitoring.reports import report_folder
from {{ cookiecutter.package_name }}.monitoring.trigger import decide, write_request
from {{ cookiecutter.package_name }}.serving.prediction_log import newest_served_version, read_log
from {{ cookiecutter.package_name }}.settings import FeatureSettings, MonitoringSettings, load_workspace

logger = logging.getLogger(__name__)


@step
def load_champion_reference(
    source: str,
) -> tuple[Annotated[pd.DataFrame, "reference"], Annotated[str, "champion_version"]]:
    """The drift reference (logged with its run) of the model to watch.

    For a batch, the champion. For the prediction log, the version that answered the newest
    request: after a promotion and before the redeploy, the old champion still serves, and it
    is the one to watch.
    """
    workspace = load_workspace()
    version = registry.require_champion(workspace)
    if source == "log":
        served = newest_served_version(workspace.resolve(workspace.serving.prediction_log))
        if served is not None and served != version:
            logger.warning(
                "version %s answers the served requests, the champion is %s: redeploy "
                "(make bento) to serve it; watching version %s",
                served,
                version,
                served,
            )
            version = served
    return load_reference(workspace, version), version


@step
def load_current(
    source: str, path: str, newest: int, version: str, features: FeatureSettings
) -> Annotated[pd.DataFrame, "current"]:
    """What the champion sees now: its rows of the prediction log, or a scored batch.

    `log` reads the serving prediction log (inputs as served, no labels); `batch` scores the
    newest `newest` transactions of `path` on point-in-time features (labels kept if present).
    """
    workspace = load_workspace()
    model = registry.load_version(workspace, version)
    if source == "log":
        served = read_log(workspace.resolve(workspace.serving.prediction_log), version)
        return served.tail(newest) if newest else served
    if source != "batch":
        raise ValueError(f"unknown source {source!r}: use log or batch")
    batch = read_transactions_to_score(workspace, path, newest)
    store = open_offline_store(workspace)
    rows = CustomerFeatures(workspace, features, store).historical_features(batch)
    inputs = encode_categories(rows)[model.features]
    current = inputs.assign(**{SCORE: model.predict(inputs)})
    return current.assign(**{LABEL: rows[LABEL].to_numpy()}) if LABEL in rows else current


@step(experiment_tracker=True)
def check_champion_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    version: str,
    source: str,
    monitoring: MonitoringSettings,
) -> Annotated[dict[str, Any], "drift"]:
    """The drift report against the champion's reference; kept under reports/ and in MLflow."""
    workspace = load_workspace()
    model = registry.load_version(workspace, version)
    folder = report_folder(workspace, "monitoring", f"v{version}")
    result = check_drift(reference, current, model.features, monitoring, model.threshold, folder)
    summary = {"model_version": version, "source": source, **result.as_dict()}
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    mlflow.log_artifacts(str(folder), "monitoring")
    mlflow.log_params({f"monitoring.{k}": v for k, v in monitoring.model_dump().items()})
    mlflow.log_metrics({"drift_share": result.drift_share, "score_drift": result.score_drift})
    mlflow.log_metrics({f"current_{name}": value for name, value in result.performance.items()})
    return {
        "model_version": version,
        "source": source,
        "drift_share": result.drift_share,
        "score_drift": result.score_drift,
        "drifted_features": result.drifted_features,
        "failed_tests": result.failed_tests,
        "report": result.report,
    }


@step
def decide_retraining(
    drift: dict[str, Any], auto_retrain: bool
) -> Annotated[dict[str, Any], "monitoring"]:
    """The one retraining decision: retrain, file a request, or nothing; kept on the champion.

    The decision is written to the champion's version in the registry (and, for a request, to
    reports/retraining_request.json), so it outlives the pod that made it.
    """
    workspace = load_workspace()
    version = drift["model_version"]
    labels_now = dvc_data_hashes(workspace.project_root).get(LABELLED_DATA)
    labels_then = registry.version_record(workspace, version).tags.get(LABELLED_DATA)
    new_labels = labels_now is not None and labels_now != labels_then
    decision = decide(drift["failed_tests"], auto_retrain, new_labels, version)
    summary = {**drift, **asdict(decision)}
    client = registry.mlflow_client(workspace)
    name = registry.model_name(workspace)
    client.set_model_version_tag(name, version, tags.LAST_MONITORING, json.dumps(summary))
    if decision.action == "request":
        write_request(workspace, decision, summary)
        client.set_model_version_tag(name, version, tags.RETRAINING_REQUEST, json.dumps(summary))
    evidence.write(workspace, version)
    return summary
