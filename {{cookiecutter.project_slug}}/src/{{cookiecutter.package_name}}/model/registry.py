"""The MLflow model registry: register versions, move the champion, read what is there.

Every new version gets the alias `challenger`; a version that passes the gate gets `staging`
(or `champion` where no approval is required); only the gate or a named approver moves
`champion`, through `governance.promotion`, which records who and why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from {{ cookiecutter.package_name }}.features.request_time import encode_categories
from {{ cookiecutter.package_name }}.model import tags
from {{ cookiecutter.package_name }}.model.requirements import model_requirements
from {{ cookiecutter.package_name }}.model.train import TrainedModel
from {{ cookiecutter.package_name }}.settings import Workspace

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

CHAMPION = "champion"
STAGING = "staging"
CHALLENGER = "challenger"


def model_name(settings: Workspace) -> str:
    """The registered model's name: the package name."""
    return settings.tracking.experiment_name


def mlflow_client(settings: Workspace) -> MlflowClient:
    """A client of the project's tracking store (tracking URI set for the process too)."""
    import mlflow

    mlflow.set_tracking_uri(settings.tracking.resolved_uri(settings.project_root))
    return mlflow.MlflowClient()


def monitoring_experiment(settings: Workspace) -> str:
    """The experiment the monitoring runs go to, beside the training one."""
    return f"{settings.tracking.experiment_name}-monitoring"


def training_runs(settings: Workspace) -> list[Run]:
    """Every run of the training experiment, any status; none before the first training."""
    client = mlflow_client(settings)
    experiment = client.get_experiment_by_name(settings.tracking.experiment_name)
    return list(client.search_runs([experiment.experiment_id])) if experiment else []


def ensure_experiment(settings: Workspace, name: str | None = None) -> str:
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
    settings: Workspace, model: TrainedModel, example: pd.DataFrame, tags: dict[str, str]
) -> str:
    """Log the model (UBJSON, signature, input example, pinned requirements); register it."""
    import mlflow
    from mlflow.models import infer_signature

    inputs = encode_categories(example)[model.features].head(5)
    info = mlflow.xgboost.log_model(
        model.booster,
        name="model",
        model_format="ubj",
        signature=infer_signature(inputs, model.predict(inputs)),
        input_example=inputs,
        pip_requirements=model_requirements(),
        registered_model_name=model_name(settings),
    )
    version = str(info.registered_model_version)
    client = mlflow_client(settings)
    for key, value in tags.items():
        client.set_model_version_tag(model_name(settings), version, key, value)
    client.set_registered_model_alias(model_name(settings), CHALLENGER, version)
    return version


class NoChampionError(RuntimeError):
    """No version carries the `champion` alias yet."""


def require_champion(settings: Workspace) -> str:
    """The champion's version; a clear error saying what to run when there is none."""
    version = champion_version(settings)
    if version is None:
        raise NoChampionError("no champion model yet: run `make train` first")
    return version


def champion_version(settings: Workspace) -> str | None:
    """The version the `champion` alias points at, if any."""
    return alias_version(settings, CHAMPION)


def alias_version(settings: Workspace, alias: str) -> str | None:
    """The version an alias points at, if any."""
    from mlflow.exceptions import MlflowException

    try:
        found = mlflow_client(settings).get_model_version_by_alias(model_name(settings), alias)
    except MlflowException:
        return None
    return str(found.version)


def load_version(settings: Workspace, version: str) -> TrainedModel:
    """Load a registered version's booster (threshold and features come with it)."""
    import mlflow

    mlflow_client(settings)
    booster = mlflow.xgboost.load_model(f"models:/{model_name(settings)}/{version}")
    return TrainedModel.from_booster(booster)


def set_alias(settings: Workspace, alias: str, version: str) -> None:
    """Point `alias` at a registered `version` (governance decides when)."""
    mlflow_client(settings).set_registered_model_alias(model_name(settings), alias, version)


def delete_alias(settings: Workspace, alias: str) -> None:
    """Remove `alias` from whichever version carries it."""
    mlflow_client(settings).delete_registered_model_alias(model_name(settings), alias)


@dataclass(frozen=True)
class VersionRecord:
    """What a promotion is judged on: the version's tags and who ran its training."""

    version: str
    tags: dict[str, str]
    trained_by: str

    def trained_until(self) -> pd.Timestamp:
        """The newest row the version trained on.

        For a version registered before that was recorded: the end of its whole labelled span
        (train and held-out), to be safe.
        """
        recorded = self.tags.get(tags.TRAINED_UNTIL)
        if recorded is None:
            recorded = json.loads(self.tags.get(tags.TRAINING_DATA, "{}")).get("end")
        if recorded is None:
            raise ValueError(f"version {self.version} records no training window")
        return pd.Timestamp(recorded)


def version_record(settings: Workspace, version: str) -> VersionRecord:
    """A registered version's tags and its run's user; a clear error for an unknown version."""
    from mlflow.exceptions import MlflowException

    client = mlflow_client(settings)
    try:
        found = client.get_model_version(model_name(settings), version)
    except MlflowException:
        raise ValueError(f"{model_name(settings)} has no version {version!r}") from None
    run = client.get_run(str(found.run_id))
    return VersionRecord(str(found.version), dict(found.tags), str(run.info.user_id))


def record_gate(
    settings: Workspace, version: str, thresholds: dict[str, float], verdict: str
) -> None:
    """Keep the gate's verdict and the thresholds it applied on the version and its run."""
    client = mlflow_client(settings)
    found = client.get_model_version(model_name(settings), version)
    client.set_model_version_tag(model_name(settings), version, tags.GATE, verdict)
    client.set_model_version_tag(
        model_name(settings), version, tags.GATE_THRESHOLDS, json.dumps(thresholds)
    )
    for name, value in thresholds.items():
        client.log_param(str(found.run_id), f"gate.{name}", value)


def set_version_tag(settings: Workspace, version: str, key: str, value: str) -> None:
    """Keep one fact on a registered version."""
    mlflow_client(settings).set_model_version_tag(model_name(settings), version, key, value)


def version_of_run(settings: Workspace, run_id: str) -> str:
    """The registered version a run produced (a served `lineage_id` is such a run id)."""
    found = mlflow_client(settings).search_model_versions(
        f"name='{model_name(settings)}' and run_id='{run_id}'"
    )
    if not found:
        raise ValueError(f"no version of {model_name(settings)} was registered by run {run_id}")
    return str(found[0].version)


def list_versions(settings: Workspace) -> list[VersionInfo]:
    """Every registered version, newest first."""
    client = mlflow_client(settings)
    versions = client.search_model_versions(f"name='{model_name(settings)}'")
    details = [client.get_model_version(model_name(settings), v.version) for v in versions]
    return sorted(
        (
            VersionInfo(
                version=str(v.version),
                aliases=list(v.aliases),
                metrics=json.loads(v.tags.get(tags.METRICS, "{}")),
                gate=v.tags.get(tags.GATE, "unknown"),
                run_id=str(v.run_id),
                tags=dict(v.tags),
            )
            for v in details
        ),
        key=lambda info: int(info.version),
        reverse=True,
    )
