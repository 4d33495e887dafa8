"""Compile the pipelines for Kubeflow Pipelines, or submit them, through ZenML's own code path.

Compiling goes through everything a submission does (stack validation, code upload to the
artifact store, snapshot, KFP compiler) and stops before the network upload. Without any cluster
variable set it runs in a sandbox: a moto S3 API on 127.0.0.1 and placeholder endpoints, so the
specs validate on any machine but point at nothing a cluster could reach.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from {{ cookiecutter.package_name }}.governance.lineage import SUBMITTED_COMMIT, SUBMITTED_DIRTY, git_state
from {{ cookiecutter.package_name }}.model import tags
from {{ cookiecutter.package_name }}.orchestration.cluster_stack import (
    PIPELINES,
    cluster_variables,
    ensure_kubeflow_stack,
    image_digests,
    load_config,
    pin_images,
    required_variables,
)
from {{ cookiecutter.package_name }}.orchestration.kubeflow_orchestrator import (
    TOKEN_VARIABLE,
    check_endpoint,
    compile_only,
)
from {{ cookiecutter.package_name }}.orchestration.local_runs import (
    TrainingOutcome,
    monitoring_parameters,
    training_outcome,
    training_parameters,
)
from {{ cookiecutter.package_name }}.orchestration.local_stack import STACK as LOCAL_STACK
from {{ cookiecutter.package_name }}.settings import Settings

SANDBOX_SUFFIX = "_sandbox"


@dataclass(frozen=True)
class KubeflowRun:
    """What one compile or submission produced."""

    stack: str
    sandbox: bool
    specs: list[Path]
    run_configs: list[Path]
    training: TrainingOutcome | None = None  # a submission's gate verdict


def run_on_kubeflow(
    settings: Settings, folder: Path, *, submit: bool, train: bool = True
) -> KubeflowRun:
    """Compile the three pipelines into `folder`, or submit them in order.

    Each pipeline gets its sections of `settings` as parameters, so the specs carry them;
    monitoring carries its schedule (`monitoring.schedule`). A submission waits for training
    and its gate; only a new champion goes on to batch inference and scheduled monitoring, so
    nothing scores with a model the gate is still judging. `train=False` submits those two for
    the current champion (after a staged version was approved).
    """
    variables = cluster_variables(settings)
    sandbox = not submit and not required_variables(settings) & variables.keys()
    with _sandbox(settings) if sandbox else nullcontext(variables) as values:
        stack = ensure_kubeflow_stack(settings, values, SANDBOX_SUFFIX if sandbox else "")
        from zenml.client import Client

        if submit:
            _check_cluster_reachable(settings, values, Client())
            if TOKEN_VARIABLE in values:  # .env's token, for the client in this process only
                os.environ[TOKEN_VARIABLE] = values[TOKEN_VARIABLE]
        client = Client()
        client.activate_stack(stack)
        run_configs = [write_run_config(settings, name, folder, values) for name in PIPELINES]
        configs = dict(zip(PIPELINES, run_configs, strict=True))
        pipelines = _configured_pipelines(settings, configs, wait_for_training=submit)
        try:
            if submit:
                outcome = _submit_in_order(pipelines, train)
                return KubeflowRun(stack, sandbox, [], run_configs, outcome)
            with compile_only(folder):
                for name in PIPELINES:
                    pipelines[name]()
        finally:
            client.activate_stack(LOCAL_STACK)
    return KubeflowRun(stack, sandbox, [folder / f"{name}.yaml" for name in PIPELINES], run_configs)


def _configured_pipelines(
    settings: Settings, configs: dict[str, Path], *, wait_for_training: bool
) -> dict[str, Any]:
    """Each pipeline with its run configuration and parameters, ready to call.

    `wait_for_training`: submitting training returns once the run has finished (or after
    `kubeflow.training_timeout_s`).
    """
    from zenml.config.schedule import Schedule

    from {{ cookiecutter.package_name }}.pipelines.batch_inference import batch_inference
    from {{ cookiecutter.package_name }}.pipelines.monitoring import monitoring
    from {{ cookiecutter.package_name }}.pipelines.training import training

    schedule = Schedule(cron_expression=settings.monitoring.schedule)
    wait = {"synchronous": True, "timeout": settings.kubeflow.training_timeout_s}
    configured = {
        "training": training.with_options(
            config_path=str(configs["training"]),
            settings={"orchestrator": wait} if wait_for_training else {},
        ),
        "batch_inference": batch_inference.with_options(
            config_path=str(configs["batch_inference"])
        ),
        "monitoring": monitoring.with_options(
            config_path=str(configs["monitoring"]), schedule=schedule
        ),
    }
    parameters = {
        "training": training_parameters(settings),
        "batch_inference": {"features": settings.features},
        "monitoring": monitoring_parameters(settings),
    }
    return {name: partial(configured[name], **parameters[name]) for name in PIPELINES}


def _submit_in_order(pipelines: dict[str, Any], train: bool) -> TrainingOutcome | None:
    """Training first, waited for; then, if its model is the champion, the others."""
    from zenml.client import Client

    if not train:
        pipelines["batch_inference"]()
        pipelines["monitoring"]()
        return None
    run = pipelines["training"]()
    finished = Client().get_pipeline_run(run.id)
    if finished.status.value != "completed":
        raise RuntimeError(
            f"training run {finished.name} ended {finished.status.value}: nothing else was "
            "submitted; its steps' logs are in the KFP UI and `zenml pipeline runs get`"
        )
    outcome = training_outcome(finished)
    if outcome.passed and outcome.champion == outcome.version:
        pipelines["batch_inference"]()
        pipelines["monitoring"]()
    return outcome


def fetch_predictions(settings: Settings, run: str | None = None) -> tuple[str, Path]:
    """Copy a batch-inference run's `predictions` artifact (default: the newest run) locally.

    The artifact lives in the stack's artifact store; this reads it through the project's ZenML
    store, so it needs the same login and bucket access as `make kfp-run`.
    """
    from {{ cookiecutter.package_name }}.data.files import save_predictions
    from {{ cookiecutter.package_name }}.orchestration.local_stack import use_project_zenml

    use_project_zenml(settings)
    from zenml.client import Client

    client = Client()
    if run is None:
        runs = client.list_pipeline_runs(
            pipeline_name="batch_inference", status="completed", sort_by="desc:created", size=1
        )
        if not runs.items:
            raise RuntimeError("no completed batch_inference run in this ZenML store")
        found = runs.items[0]
    else:
        found = client.get_pipeline_run(run)
    predictions = found.steps["score_batch"].outputs["predictions"][0].load()
    return found.name, save_predictions(settings, predictions)


def _check_cluster_reachable(settings: Settings, variables: dict[str, str], client: Any) -> None:
    """Before uploading anything: the KFP API answers and pods can reach the ZenML store."""
    orchestrator = load_config(settings, "stack", variables)["components"]["orchestrator"]
    check_endpoint(
        orchestrator["configuration"].get("kubeflow_hostname"), variables.get(TOKEN_VARIABLE)
    )
    if client.zen_store.is_local_store():
        raise RuntimeError(
            "pods cannot reach this machine's ZenML store: deploy a ZenML server and run "
            "`zenml login <server-url>` (docs/kubeflow.md); `make kfp-compile` needs no server"
        )


def write_run_config(
    settings: Settings, name: str, folder: Path, variables: dict[str, str]
) -> Path:
    """The pipeline's run configuration: placeholders filled, the GPU overlay if on, images pinned.

    An image is pinned by the digest recorded when it was pushed (`kfp pin`), if any.
    """
    config = load_config(settings, name, variables)
    if name == "training" and settings.kubeflow.gpu:
        config = merge(config, load_config(settings, "gpu", variables))
    config = pin_images(config, image_digests(settings))
    state = git_state(settings.project_root)
    submitted = {SUBMITTED_COMMIT: state[tags.GIT_COMMIT], SUBMITTED_DIRTY: state[tags.GIT_DIRTY]}
    config["environment"] = {**config.get("environment", {}), **submitted}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.run.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge two YAML mappings; the overlay wins."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@contextmanager
def _sandbox(settings: Settings) -> Iterator[dict[str, str]]:
    """A moto S3 API on a free loopback port, a bucket, and placeholder cluster endpoints."""
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }
    saved = {name: os.environ.get(name) for name in credentials}
    os.environ.update(credentials)
    bucket = f"{settings.tracking.experiment_name.replace('_', '-')}-sandbox"
    try:
        boto3.client("s3").create_bucket(Bucket=bucket)
        yield {
            "KFP_HOST": "http://kubeflow.invalid/pipeline",
            "ARTIFACT_STORE_URI": f"s3://{bucket}/zenml",
            "ARTIFACT_STORE_FLAVOR": "s3",
            "AWS_ENDPOINT_URL": endpoint,
            "CONTAINER_REGISTRY_URI": "registry.invalid/sandbox",
            "MLFLOW_TRACKING_URI": "http://mlflow.invalid",
            "MLFLOW_TRACKING_TOKEN": "sandbox",
        }
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()
