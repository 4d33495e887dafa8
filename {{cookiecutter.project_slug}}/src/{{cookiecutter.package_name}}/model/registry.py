"""The MLflow model registry: register versions, move the champion, read what is there.

Every new version gets the alias `challenger`; only the gate or a named approver moves
`champion`, and each move is written to the audit log.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import pandas as pd

from {{ cookiecutter.package_name }}.features.request_time import encode_categories
from {{ cookiecutter.package_name }}.governance import audit
from {{ cookiecutter.package_name }}.model.train import TrainedModel
from {{ cookiecutter.package_name }}.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

CHAMPION = "champion"
CHALLENGER = "challenger"


def model_name(settings: Settings) -> str:
    """The registered model's name: the package name."""
    return settings.tracking.experiment_name


def mlflow_client(settings: Settings) -> MlflowClient:
    """A client of the project's tracking store (tracking URI set for the process too)."""
    import mlflow

    mlflow.set_tracking_uri(settings.tracking.resolved_uri(settings.project_root))
    return mlflow.MlflowClient()


def monitoring_experiment(settings: Settings) -> str:
    """The experiment the monitoring runs go to, beside the training one."""
    return f"{settings.tracking.experiment_name}-monitoring"


def ensure_experiment(settings: Settings, name: str | None = None) -> str:
    """Create an experiment (default: training) with an explicit artifact root, never ./mlruns."""
    client = mlflow_client(settings)
    name = name or settings.tracking.experiment_name
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    root = settings.resolve(settings.tracking.artifact_root)
    root.mkdir(parents=True, exist_ok=True)
    return str(client.create_experiment(name, root.as_uri()))


@dataclass(frozen=True)
class VersionInfo:
    """One registered version, its aliases and the figures it was registered with."""

    version: str
    aliases: list[str]
    metrics: dict[str, float]
    gate: str
    run_id: str
    tags: dict[str, str]


def log_and_register(
    settings: Settings, model: TrainedModel, example: pd.DataFrame, tags: dict[str, str]
) -> str:
    """Log the model (UBJSON, signature, input example) in the active run and register it."""
    import mlflow
    from mlflow.models import infer_signature

    inputs = encode_categories(example)[model.features].head(5)
    info = mlflow.xgboost.log_model(
        model.booster,
        name="model",
        model_format="ubj",
        signature=infer_signature(inputs, model.predict(inputs)),
        input_example=inputs,
        registered_model_name=model_name(settings),
    )
    version = str(info.registered_model_version)
    client = mlflow_client(settings)
    for key, value in tags.items():
        client.set_model_version_tag(model_name(settings), version, key, value)
    client.set_registered_model_alias(model_name(settings), CHALLENGER, version)
    return version


def champion_version(settings: Settings) -> str | None:
    """The version the `champion` alias points at, if any."""
    from mlflow.exceptions import MlflowException

    try:
        found = mlflow_client(settings).get_model_version_by_alias(model_name(settings), CHAMPION)
    except MlflowException:
        return None
    return str(found.version)


def load_version(settings: Settings, version: str) -> TrainedModel:
    """Load a registered version's booster (threshold and features come with it)."""
    import mlflow

    mlflow_client(settings)
    booster = mlflow.xgboost.load_model(f"models:/{model_name(settings)}/{version}")
    return TrainedModel.from_booster(booster)


def set_champion(settings: Settings, version: str, action: str, who: str, why: str) -> None:
    """Point `champion` at `version` and record the move in the audit log."""
    client = mlflow_client(settings)
    client.get_model_version(model_name(settings), version)  # fails clearly if unknown
    previous = champion_version(settings)
    client.set_registered_model_alias(model_name(settings), CHAMPION, version)
    record(settings, audit.AuditEvent(action, who, previous, version, why))


def record(settings: Settings, event: audit.AuditEvent) -> audit.AuditEvent:
    """Append an event to the audit log and keep it with the versions it concerns in MLflow.

    The local log is lost with a pipeline pod; the copy on the model versions is not, and the
    release evidence reads its approvals from there.
    """
    stamped = audit.append(settings, event)
    client = mlflow_client(settings)
    line = json.dumps(asdict(stamped))
    key = "audit." + stamped.when.replace("+00:00", "Z")  # tag keys allow no "+"
    for version in {stamped.from_version, stamped.to_version} - {None}:
        client.set_model_version_tag(model_name(settings), str(version), key, line)
    return stamped


def version_of_run(settings: Settings, run_id: str) -> str:
    """The registered version a run produced (a served `lineage_id` is such a run id)."""
    found = mlflow_client(settings).search_model_versions(
        f"name='{model_name(settings)}' and run_id='{run_id}'"
    )
    if not found:
        raise ValueError(f"no version of {model_name(settings)} was registered by run {run_id}")
    return str(found[0].version)


def rollback(settings: Settings, who: str, why: str) -> str:
    """Point `champion` back at the version it replaced last; return that version."""
    current = champion_version(settings)
    if current is None:
        raise RuntimeError("there is no champion to roll back")
    for event in reversed(audit.read(settings)):
        if event.to_version == current and event.from_version and event.action != "rollback":
            set_champion(settings, event.from_version, "rollback", who, why)
            return event.from_version
    raise RuntimeError(f"champion v{current} replaced no earlier champion: nothing to roll back to")


def list_versions(settings: Settings) -> list[VersionInfo]:
    """Every registered version, newest first."""
    client = mlflow_client(settings)
    versions = client.search_model_versions(f"name='{model_name(settings)}'")
    details = [client.get_model_version(model_name(settings), v.version) for v in versions]
    return sorted(
        (
            VersionInfo(
                version=str(v.version),
                aliases=list(v.aliases),
                metrics=json.loads(v.tags.get("metrics", "{}")),
                gate=v.tags.get("gate", "unknown"),
                run_id=str(v.run_id),
                tags=dict(v.tags),
            )
            for v in details
        ),
        key=lambda info: int(info.version),
        reverse=True,
    )
