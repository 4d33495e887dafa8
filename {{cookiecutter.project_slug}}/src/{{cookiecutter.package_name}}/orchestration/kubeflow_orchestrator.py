"""ZenML's Kubeflow orchestrator with the resource fixes this project needs, as a custom flavor.

ZenML 0.98 compiles each step into a KFP v2 container task, but on the way it drops
`ResourceSettings(gpu_count=...)` unless a node selector named `accelerator` is set, crashes on
`ResourceSettings(memory=...)` (a float reaches kfp's `set_memory_limit`) and ignores node
selectors and tolerations. This subclass replaces only the resource step: CPU and memory become
requests and limits, a GPU count becomes an accelerator type and limit, and the step's node
selectors and tolerations reach the spec through kfp-kubernetes. Each task also declares its
step's parameters (gate thresholds, XGBoost parameters, ...) as its inputs, so the compiled spec
and the KFP UI show what the run decides with; the values are those of the ZenML snapshot the
step executes.

`compile_only(folder)` turns a submission into a compilation: the stack is not required to use
a ZenML server and the spec is copied into `folder` instead of being uploaded.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import requests
from kfp import dsl, kubernetes
from pydantic import BaseModel, Field
from zenml.integrations.kubeflow.flavors.kubeflow_orchestrator_flavor import (
    KubeflowOrchestratorConfig,
    KubeflowOrchestratorFlavor,
    KubeflowOrchestratorSettings,
)
from zenml.integrations.kubeflow.orchestrators.kubeflow_orchestrator import KubeflowOrchestrator
from zenml.logger import get_logger

if TYPE_CHECKING:
    from zenml.config.resource_settings import ResourceSettings
    from zenml.integrations.kubernetes.pod_settings import KubernetesPodSettings
    from zenml.models import PipelineRunResponse, PipelineSnapshotResponse
    from zenml.orchestrators import SubmissionResult
    from zenml.stack import Stack

FLAVOR = "{{ cookiecutter.package_name }}_kubeflow"
TOKEN_VARIABLE = "KFP_TOKEN"  # a bearer token for multi-user Kubeflow, from the environment
# Variables whose names say they carry a credential never enter a spec: pods read them from a
# Kubernetes Secret (the orchestrator setting `credentials_secret`).
CREDENTIAL_NAME = re.compile(
    r"(^|_)(TOKEN|PASSWORD|SECRET|API_KEY|ACCESS_KEY|ACCESS_KEY_ID|ACCOUNT_KEY|CONNECTION_STRING)$"
)
ZENML_RUN_TOKEN = "ZENML_STORE_API_TOKEN"
ZENML_API_KEY = "ZENML_STORE_API_KEY"
NVIDIA_GPU = "nvidia.com/gpu"
# ZenML's byte units and their Kubernetes suffixes: decimal kilo is a lower-case `k` there.
QUANTITY_SUFFIXES = {
    "B": "",
    "KB": "k",
    "MB": "M",
    "GB": "G",
    "TB": "T",
    "PB": "P",
    "KiB": "Ki",
    "MiB": "Mi",
    "GiB": "Gi",
    "TiB": "Ti",
    "PiB": "Pi",
}

logger = get_logger(__name__)


class _AppliedPodSettingsFilter(logging.Filter):
    """Drop upstream's warning about ignored pod settings: this flavor applies or refuses them."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every other record."""
        return "pod settings are not supported" not in record.getMessage()


logging.getLogger(KubeflowOrchestrator.__module__).addFilter(_AppliedPodSettingsFilter())
_compile_folder: ContextVar[Path | None] = ContextVar("compile_folder", default=None)
# The fields of ZenML's pod settings that kfp-kubernetes can put on a KFP v2 task.
APPLIED_POD_SETTINGS = (
    "annotations",
    "image_pull_secrets",
    "labels",
    "node_selectors",
    "tolerations",
)


@contextmanager
def compile_only(folder: Path) -> Iterator[None]:
    """Compile pipelines into `folder` instead of submitting them; nothing leaves this machine."""
    folder.mkdir(parents=True, exist_ok=True)
    token = _compile_folder.set(folder)
    try:
        yield
    finally:
        _compile_folder.reset(token)


class Toleration(BaseModel):
    """A Kubernetes toleration, e.g. for the taint that keeps other pods off GPU nodes."""

    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Exists"
    value: str | None = None
    effect: Literal["NoExecute", "NoSchedule", "PreferNoSchedule"] | None = None


class ProjectKubeflowOrchestratorSettings(KubeflowOrchestratorSettings):
    """Per-step scheduling: where a GPU step may run and which accelerator it asks for."""

    accelerator_type: str = NVIDIA_GPU
    node_selectors: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    credentials_secret: str = "{{ cookiecutter.project_slug }}-pipeline-credentials"


class ProjectKubeflowOrchestratorConfig(
    KubeflowOrchestratorConfig, ProjectKubeflowOrchestratorSettings
):
    """The upstream configuration; remote, except while compiling only."""

    @property
    def is_remote(self) -> bool:
        """A compile-only run executes nothing remotely, so it needs no ZenML server."""
        return _compile_folder.get() is None


class ProjectKubeflowOrchestrator(KubeflowOrchestrator):
    """Kubeflow orchestrator whose compiled tasks carry every resource setting of their step."""

    _snapshot: PipelineSnapshotResponse | None = None
    _credentials: dict[str, list[str]] | None = None  # step -> variables read from the Secret

    @property
    def settings_class(self) -> type[ProjectKubeflowOrchestratorSettings]:
        """Settings with node selectors, tolerations and the accelerator type."""
        return ProjectKubeflowOrchestratorSettings

    def submit_pipeline(
        self,
        snapshot: PipelineSnapshotResponse,
        stack: Stack,
        base_environment: dict[str, str],
        step_environments: dict[str, dict[str, str]],
        placeholder_run: PipelineRunResponse | None = None,
    ) -> SubmissionResult | None:
        """Keep the snapshot at hand, and take every credential out of the tasks' environment.

        Each task's resources are looked up by its step; the credentials removed here reach the
        pods as references to the Kubernetes Secret instead of values in the spec.
        """
        self._snapshot = snapshot
        for name, configuration in snapshot.step_configurations.items():
            settings = self.get_settings(configuration)
            assert isinstance(settings, ProjectKubeflowOrchestratorSettings)
            check_pod_settings(name, settings.pod_settings)
        base, base_credentials = split_credentials(base_environment)
        environments: dict[str, dict[str, str]] = {}
        self._credentials = {}
        for step, environment in step_environments.items():
            environments[step], credentials = split_credentials(environment)
            self._credentials[step] = sorted({*credentials, *base_credentials})
        return super().submit_pipeline(snapshot, stack, base, environments, placeholder_run)

    def _create_dynamic_component(
        self, image: str, command: list[str], arguments: list[str], component_name: str
    ) -> Any:
        """The step's container task, with the step's parameters as its declared inputs."""
        assert self._snapshot is not None
        step = self._snapshot.step_configurations[component_name]
        return step_component(image, command, arguments, component_name, step.config.parameters)

    def _configure_container_resources(
        self,
        dynamic_component: dsl.PipelineTask,
        resource_settings: ResourceSettings,
        node_selector_constraint: tuple[str, str] | None = None,
    ) -> dsl.PipelineTask:
        """Requests and limits for CPU, memory and GPU, plus node selectors and tolerations."""
        task = dynamic_component
        assert self._snapshot is not None
        step = self._snapshot.step_configurations[task._task_spec.display_name]
        settings = self.get_settings(step)
        assert isinstance(settings, ProjectKubeflowOrchestratorSettings)
        if resource_settings.cpu_count:
            cpus = f"{resource_settings.cpu_count:g}"
            task.set_cpu_request(cpus).set_cpu_limit(cpus)
        if resource_settings.memory:
            memory = kubernetes_quantity(resource_settings.memory)
            task.set_memory_request(memory).set_memory_limit(memory)
        if resource_settings.gpu_count:
            task.set_accelerator_type(settings.accelerator_type)
            task.set_accelerator_limit(resource_settings.gpu_count)
        for label, value in settings.node_selectors.items():
            kubernetes.add_node_selector(task, label_key=label, label_value=value)
        for toleration in settings.tolerations:
            kubernetes.add_toleration(task, **toleration.model_dump())
        if settings.pod_settings is not None:
            apply_pod_settings(task, settings.pod_settings)
        credentials = (self._credentials or {}).get(task._task_spec.display_name, [])
        if credentials:
            kubernetes.use_secret_as_env(
                task,
                secret_name=settings.credentials_secret,
                secret_key_to_env={name: name for name in credentials},
            )
        return task

    def _get_kfp_client(self, settings: KubeflowOrchestratorSettings) -> Any:
        """Upstream's client, given `KFP_TOKEN` as its existing token when that is set.

        The token stays in the submitting process: not in the stack's configuration, not in
        the spec.
        """
        token = os.environ.get(TOKEN_VARIABLE)
        if token and "existing_token" not in settings.client_args:
            client_args = {**settings.client_args, "existing_token": token}
            settings = settings.model_copy(update={"client_args": client_args})
        return super()._get_kfp_client(settings)

    def _upload_and_run_pipeline(
        self, snapshot: PipelineSnapshotResponse, pipeline_file_path: str, run_name: str
    ) -> SubmissionResult | None:
        """Copy the spec when compiling only; otherwise check the endpoint, then submit."""
        folder = _compile_folder.get()
        if folder is not None:
            name = snapshot.pipeline_configuration.name
            shutil.copyfile(pipeline_file_path, folder / f"{name}.yaml")
            if snapshot.schedule is not None:
                (folder / f"{name}.schedule.json").write_text(recurring_run(snapshot.schedule))
            logger.info("Compile only: %s written, submission to Kubeflow skipped.", name)
            return None
        check_endpoint(self.config.kubeflow_hostname, os.environ.get(TOKEN_VARIABLE))
        return super()._upload_and_run_pipeline(snapshot, pipeline_file_path, run_name)


class ProjectKubeflowOrchestratorFlavor(KubeflowOrchestratorFlavor):
    """The flavor `make stack-kubeflow` registers for the cluster stack."""

    @property
    def name(self) -> str:
        """The flavor's name in the ZenML store."""
        return FLAVOR

    @property
    def config_class(self) -> type[ProjectKubeflowOrchestratorConfig]:
        """Upstream configuration plus the per-step scheduling settings."""
        return ProjectKubeflowOrchestratorConfig

    @property
    def implementation_class(self) -> type[ProjectKubeflowOrchestrator]:
        """The orchestrator with the resource fixes."""
        return ProjectKubeflowOrchestrator


def check_pod_settings(step: str, pod_settings: KubernetesPodSettings | None) -> None:
    """Refuse, in one line, pod settings a KFP v2 task cannot carry (upstream drops them).

    A field counts when it differs from its default: a stored configuration marks every field
    as set.
    """
    if pod_settings is None:
        return
    defaults = type(pod_settings)()
    unsupported = [
        name
        for name in sorted(type(pod_settings).model_fields)
        if name not in APPLIED_POD_SETTINGS
        and getattr(pod_settings, name) != getattr(defaults, name)
    ]
    if unsupported:
        raise ValueError(
            f"step {step}: pod settings {', '.join(unsupported)} cannot reach a Kubeflow Pipelines "
            f"v2 task; this flavor applies {', '.join(APPLIED_POD_SETTINGS)}"
        )


def apply_pod_settings(task: dsl.PipelineTask, pod_settings: KubernetesPodSettings) -> None:
    """Put ZenML's pod settings on the task through kfp-kubernetes."""
    for label, value in pod_settings.node_selectors.items():
        kubernetes.add_node_selector(task, label_key=label, label_value=value)
    for toleration in pod_settings.tolerations:
        kubernetes.add_toleration(
            task,
            key=toleration.get("key"),
            operator=toleration.get("operator"),
            value=toleration.get("value"),
            effect=toleration.get("effect"),
            toleration_seconds=toleration.get(
                "toleration_seconds", toleration.get("tolerationSeconds")
            ),
        )
    for label, value in pod_settings.labels.items():
        kubernetes.add_pod_label(task, label, value)
    for annotation, value in pod_settings.annotations.items():
        kubernetes.add_pod_annotation(task, annotation, value)
    if pod_settings.image_pull_secrets:
        kubernetes.set_image_pull_secrets(task, pod_settings.image_pull_secrets)


def split_credentials(environment: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The variables a spec may carry, and the names of those the pods read from the Secret.

    ZenML mints a token for the run at submission (`ZENML_STORE_API_TOKEN`); its value would
    have to be in the spec, so the pods log in to the ZenML server with the service account's
    API key (`ZENML_STORE_API_KEY`) from the Secret instead.
    """
    found = {name for name in environment if CREDENTIAL_NAME.search(name)}
    public = {k: v for k, v in environment.items() if k not in found}
    if ZENML_RUN_TOKEN in found:
        found = (found - {ZENML_RUN_TOKEN}) | {ZENML_API_KEY}
    return public, sorted(found)


def step_component(
    image: str,
    command: list[str],
    arguments: list[str],
    name: str,
    parameters: dict[str, Any],
) -> Any:
    """A KFP container component that runs one ZenML step and declares its parameters.

    Mappings become STRUCT inputs, lists LIST, numbers, booleans and strings their own types;
    anything else (None) travels as JSON text. The entrypoint reads the values from the snapshot.
    """
    kinds = (dict, list, bool, int, float, str)
    values = {
        key: value if isinstance(value, kinds) else json.dumps(value, default=str)
        for key, value in parameters.items()
    }

    def component(*_: Any) -> dsl.ContainerSpec:
        return dsl.ContainerSpec(image=image, command=command, args=arguments)

    component.__name__ = name
    component.__annotations__ = {key: type(value) for key, value in values.items()}
    component.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                key, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=value, annotation=type(value)
            )
            for key, value in values.items()
        ],
        return_annotation=dsl.ContainerSpec,
    )
    return dsl.container_component(component)


def kubernetes_quantity(memory: str) -> str:
    """ZenML's memory string ("4GB", "64KB", "512MiB") as a Kubernetes quantity ("4G", "64k")."""
    number = memory.rstrip("KMGTPiB")
    suffix = QUANTITY_SUFFIXES.get(memory[len(number) :])
    if not number.isdigit() or suffix is None:
        raise ValueError(f"memory must look like 4GB or 512MiB, got {memory!r}")
    return number + suffix


def recurring_run(schedule: Any) -> str:
    """The recurring run a submission creates for a scheduled pipeline, as JSON.

    A KFP spec holds no schedule: upstream passes these values to `create_recurring_run`.
    """
    return (
        json.dumps(
            {
                "cron_expression": schedule.cron_expression,
                "timezone": "UTC",
                "no_catchup": not schedule.catchup,
                "start_time": str(schedule.utc_start_time or ""),
            },
            indent=2,
        )
        + "\n"
    )


def check_endpoint(host: str | None, token: str | None = None) -> None:
    """Fail with one line unless the KFP API answers its health check with JSON.

    Upstream only logs a warning. A login page (multi-user Kubeflow without a token) answers
    200 with HTML after a redirect: that is refused too, as is any status other than 200.
    """
    if not host:
        return
    url = f"{host.rstrip('/')}/apis/v2beta1/healthz"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = requests.get(url, headers=headers, timeout=10)
    except requests.RequestException as error:
        raise RuntimeError(
            f"cannot reach the Kubeflow Pipelines API at {host} ({type(error).__name__}): "
            "set KFP_HOST to a reachable endpoint, e.g. http://localhost:8080/pipeline after "
            "`kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80`"
        ) from None
    if response.status_code in (401, 403):
        raise RuntimeError(
            f"the Kubeflow Pipelines API at {host} refused the request (HTTP "
            f"{response.status_code}): set {TOKEN_VARIABLE} to a token it accepts "
            "(docs/kubeflow.md, multi-user Kubeflow)"
        )
    try:
        healthy = response.status_code == 200 and isinstance(response.json(), dict)
    except ValueError:
        healthy = False
    if not healthy:
        kind = response.headers.get("Content-Type", "no content type")
        raise RuntimeError(
            f"{url} is not a Kubeflow Pipelines API health check (HTTP {response.status_code}, "
            f"{kind}{', after a redirect' if response.history else ''}): set KFP_HOST to the "
            f"API endpoint and, behind a login page, {TOKEN_VARIABLE}"
        )
