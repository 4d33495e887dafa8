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
from pathlib import Path
from typing import Any

import yaml

from {{ cookiecutter.package_name }}.governance.lineage import SUBMITTED_COMMIT, SUBMITTED_DIRTY, git_state
from {{ cookiecutter.package_name }}.model import tags
from {{ cookiecutter.package_name }}.orchestration.cluster_stack import (
    PIPELINES,
    cluster_variables,
    ensure_kubeflow_stack,
    load_config,
    required_variables,
)
from {{ cookiecutter.package_name }}.orchestration.kubeflow_orchestrator import (
    TOKEN_VARIABLE,
    check_endpoint,
    compile_only,
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


def run_on_kubeflow(settings: Settings, folder: Path, *, submit: bool) -> KubeflowRun:
    """Compile the three pipelines into `folder` (and submit them when `submit` is true).

    Each pipeline gets its sections of `settings` as parameters, so the specs carry them;
    monitoring carries its schedule (`monitoring.schedule`).
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
        from zenml.config.schedule import Schedule

        from {{ cookiecutter.package_name }}.orchestration.local_runs import (
            monitoring_parameters,
            training_parameters,
        )
        from {{ cookiecutter.package_name }}.pipelines.batch_inference import batch_inference
        from {{ cookiecutter.package_name }}.pipelines.monitoring import monitoring
        from {{ cookiecutter.package_name }}.pipelines.training import training

        pipelines = {
            "training": training.with_options(),
            "batch_inference": batch_inference.with_options(),
            "monitoring": monitoring.with_options(
                schedule=Schedule(cron_expression=settings.monitoring.schedule)
            ),
        }
        parameters = {
            "training": training_parameters(settings),
            "batch_inference": {"features": settings.features},
            "monitoring": monitoring_parameters(settings),
        }
        client = Client()
        client.activate_stack(stack)
        run_configs = [write_run_config(settings, name, folder, values) for name in PIPELINES]
        try:
            with nullcontext() if submit else compile_only(folder):
                for name, config in zip(PIPELINES, run_configs, strict=True):
                    pipelines[name].with_options(config_path=str(config))(**parameters[name])
        finally:
            client.activate_stack(LOCAL_STACK)
    specs = [folder / f"{name}.yaml" for name in PIPELINES] if not submit else []
    return KubeflowRun(stack, sandbox, specs, run_configs)


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
    """The pipeline's run configuration with placeholders filled (and the GPU overlay if on)."""
    config = load_config(settings, name, variables)
    if name == "training" and settings.kubeflow.gpu:
        config = merge(config, load_config(settings, "gpu", variables))
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
