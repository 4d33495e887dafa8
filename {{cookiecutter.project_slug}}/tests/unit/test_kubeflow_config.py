"""The Kubeflow recipe's placeholders, the GPU overlay and the memory conversion."""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from {{ cookiecutter.package_name }}.orchestration.cluster_stack import (
    MissingVariableError,
    expand,
    load_config,
    record_image_digest,
    required_variables,
)
from {{ cookiecutter.package_name }}.orchestration.kubeflow_orchestrator import (
    apply_pod_settings,
    check_endpoint,
    check_pod_settings,
    kubernetes_quantity,
    split_credentials,
)
from {{ cookiecutter.package_name }}.orchestration.kubeflow_runs import merge, write_run_config
from {{ cookiecutter.package_name }}.settings import load_settings
from tests.helpers import PROJECT_ROOT, copy_project, free_port


def test_placeholders_take_the_variable_then_the_default() -> None:
    document = {"a": "${HOST}/x", "b": ["${PORT:-80}"], "c": {"d": "${NS:-kubeflow}", "e": 3}}
    filled = expand(document, {"HOST": "http://h", "NS": "team"}, "f.yaml")
    assert filled == {"a": "http://h/x", "b": ["80"], "c": {"d": "team", "e": 3}}


def test_entries_left_empty_are_dropped() -> None:
    assert expand({"keep": "1", "drop": "${UNSET:-}"}, {}, "f.yaml") == {"keep": "1"}


def test_a_missing_variable_names_itself_the_file_and_where_to_set_it() -> None:
    with pytest.raises(MissingVariableError) as error:
        expand({"uri": "${CONTAINER_REGISTRY_URI}"}, {}, "configs/kubeflow/stack.yaml")
    message = str(error.value)
    assert message.startswith("CONTAINER_REGISTRY_URI is not set")
    assert "configs/kubeflow/stack.yaml" in message and ".env" in message


def test_the_recipe_needs_exactly_the_documented_variables() -> None:
    settings = load_settings(PROJECT_ROOT)
    documented = (PROJECT_ROOT / ".env.example").read_text()
    needed = required_variables(settings)
    assert needed == {
        "KFP_HOST",
        "ARTIFACT_STORE_URI",
        "CONTAINER_REGISTRY_URI",
        "MLFLOW_TRACKING_URI",
    }
    assert all(f"# {name}=" in documented for name in needed)


def test_the_gpu_overlay_adds_to_train_model_and_keeps_its_cpu_and_memory() -> None:
    settings = load_settings(PROJECT_ROOT)
    variables = {"CONTAINER_REGISTRY_URI": "r.example.com/ml"}
    training = load_config(settings, "training", variables)
    merged = merge(training, load_config(settings, "gpu", variables))
    resources = merged["steps"]["train_model"]["settings"]["resources"]
    assert resources["gpu_count"] == 1
    assert (
        resources["memory"] == training["steps"]["train_model"]["settings"]["resources"]["memory"]
    )
    assert merged["steps"]["load_labels"] == training["steps"]["load_labels"]
    assert merged["settings"]["docker"]["parent_image"] == "r.example.com/ml/{{ cookiecutter.project_slug }}:{{ cookiecutter.version }}"


# Kubernetes' quantity grammar (apimachinery resource.Quantity): a number, then a binary or
# decimal SI suffix; decimal kilo is a lower-case k.
KUBERNETES_QUANTITY = re.compile(r"^[0-9]+(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")


@pytest.mark.parametrize(
    ("memory", "quantity"), [("4GB", "4G"), ("512MiB", "512Mi"), ("1GiB", "1Gi"), ("64KB", "64k")]
)
def test_zenml_memory_becomes_a_kubernetes_quantity(memory: str, quantity: str) -> None:
    assert kubernetes_quantity(memory) == quantity


def test_every_zenml_memory_unit_becomes_a_valid_kubernetes_quantity() -> None:
    from zenml.config.resource_settings import ByteUnit

    quantities = {unit.value: kubernetes_quantity(f"3{unit.value}") for unit in ByteUnit}
    assert all(KUBERNETES_QUANTITY.match(quantity) for quantity in quantities.values()), quantities
    assert len(set(quantities.values())) == len(quantities)


@pytest.mark.parametrize("memory", ["4.5GB", "GB", "4XB"])
def test_a_memory_kubernetes_cannot_read_is_refused(memory: str) -> None:
    with pytest.raises(ValueError, match="memory must look like"):
        kubernetes_quantity(memory)


class FakeKubeflow(BaseHTTPRequestHandler):
    """A KFP API health check that needs a token; `/login` is what a gateway redirects to."""

    seen_tokens: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        token = self.headers.get("Authorization")
        FakeKubeflow.seen_tokens.append(token)
        if self.path.startswith("/gateway/"):
            self.send_response(302)
            self.send_header("Location", "/login")
            self.end_headers()
        elif self.path == "/login":
            self._answer(200, "text/html", b"<html>Sign in</html>")
        elif token != "Bearer good-token":
            self._answer(401, "application/json", b'{"error": "unauthenticated"}')
        else:
            self._answer(200, "application/json", b'{"commit_sha": "abc", "multi_user": true}')

    def _answer(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        """Keep the test output clean."""


@pytest.fixture(scope="module")
def kubeflow() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKubeflow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def test_a_healthy_api_with_the_token_passes_the_endpoint_check(kubeflow: str) -> None:
    check_endpoint(f"{kubeflow}/pipeline", "good-token")
    assert FakeKubeflow.seen_tokens[-1] == "Bearer good-token"


@pytest.mark.parametrize(
    ("path", "token", "expected"),
    [
        ("/pipeline", None, r"refused the request \(HTTP 401\): set KFP_TOKEN"),
        ("/pipeline", "stale-token", r"refused the request \(HTTP 401\): set KFP_TOKEN"),
        ("/gateway", "good-token", r"HTTP 200, text/html, after a redirect\): set KFP_HOST"),
    ],
)
def test_an_unauthenticated_or_wrong_endpoint_fails_in_one_line(
    kubeflow: str, path: str, token: str | None, expected: str
) -> None:
    with pytest.raises(RuntimeError, match=expected) as failure:
        check_endpoint(f"{kubeflow}{path}", token)
    assert "\n" not in str(failure.value)


def test_an_unreachable_endpoint_says_what_to_set() -> None:
    with pytest.raises(RuntimeError, match="cannot reach the Kubeflow Pipelines API"):
        check_endpoint(f"http://127.0.0.1:{free_port()}/pipeline")


def test_credentials_are_split_from_what_a_spec_may_carry() -> None:
    credentials = [
        "ZENML_STORE_API_KEY",
        "ZENML_STORE_PASSWORD",
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_PASSWORD",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "{{ cookiecutter.package_name | upper }}_FEAST__REDIS_CONNECTION_STRING",
    ]
    public = [
        "ZENML_STORE_URL",
        "ZENML_SECRETS_STORE_TYPE",
        "DISABLE_CREDENTIALS_DISK_CACHING",
        "MLFLOW_TRACKING_URI",
        "AWS_ENDPOINT_URL",
        "KFP_RUN_ID",
    ]
    kept, moved = split_credentials(dict.fromkeys(credentials + public, "value"))
    assert sorted(kept) == sorted(public)
    assert moved == sorted(credentials)


def test_the_run_token_zenml_mints_is_replaced_by_the_service_account_key() -> None:
    kept, moved = split_credentials({"ZENML_STORE_URL": "https://z", "ZENML_STORE_API_TOKEN": "t"})
    assert kept == {"ZENML_STORE_URL": "https://z"}
    assert moved == ["ZENML_STORE_API_KEY"]


def test_pod_settings_reach_the_task_through_kfp_kubernetes(tmp_path: Path) -> None:
    from kfp import compiler, dsl
    from zenml.integrations.kubernetes.pod_settings import KubernetesPodSettings

    pod_settings = KubernetesPodSettings(
        node_selectors={"pool": "batch"},
        tolerations=[
            {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
        ],
        labels={"team": "fraud"},
        annotations={"owner": "ml-platform"},
        image_pull_secrets=["registry-pull"],
    )
    check_pod_settings("train_model", pod_settings)

    @dsl.container_component
    def train_model():  # type: ignore[no-untyped-def]  # kfp cannot read string annotations
        return dsl.ContainerSpec(image="python:3.11", command=["true"])

    @dsl.pipeline(name="pod-settings")
    def pipeline():  # type: ignore[no-untyped-def]
        apply_pod_settings(train_model(), pod_settings)

    compiler.Compiler().compile(pipeline, str(tmp_path / "spec.yaml"))
    platform = list(yaml.safe_load_all((tmp_path / "spec.yaml").read_text()))[1]
    executor = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    placed = executor["exec-train-model"]
    assert placed["nodeSelector"]["labels"] == {"pool": "batch"}
    assert placed["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
    ]
    assert placed["podMetadata"] == {
        "labels": {"team": "fraud"},
        "annotations": {"owner": "ml-platform"},
    }
    assert [secret["secretName"] for secret in placed["imagePullSecret"]] == ["registry-pull"]


@pytest.mark.parametrize(
    ("field", "value"), [("volumes", [{"name": "scratch"}]), ("host_ipc", True)]
)
def test_pod_settings_a_task_cannot_carry_are_refused_in_one_line(
    field: str, value: object
) -> None:
    from zenml.integrations.kubernetes.pod_settings import KubernetesPodSettings

    with pytest.raises(ValueError, match=f"step score_batch: pod settings {field} cannot reach"):
        check_pod_settings("score_batch", KubernetesPodSettings(**{field: value}))


CPU_DIGEST, CUDA_DIGEST = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def test_recorded_digests_pin_each_image_of_the_run_configuration(tmp_path: Path) -> None:
    settings = load_settings(copy_project(tmp_path / "project")).with_overrides(
        ["kubeflow.gpu=true"]
    )
    variables = {"CONTAINER_REGISTRY_URI": "r.example.com/ml"}
    image = "r.example.com/ml/{{ cookiecutter.project_slug }}:{{ cookiecutter.version }}"
    unpinned = write_run_config(settings, "training", tmp_path, variables)
    assert yaml.safe_load(unpinned.read_text())["settings"]["docker"]["parent_image"] == image

    record_image_digest(settings, image, CPU_DIGEST)
    record_image_digest(settings, f"{image}-cuda", CUDA_DIGEST)
    config = yaml.safe_load(write_run_config(settings, "training", tmp_path, variables).read_text())
    assert config["settings"]["docker"]["parent_image"] == f"{image}@{CPU_DIGEST}"
    train_model = config["steps"]["train_model"]["settings"]["docker"]
    assert train_model["parent_image"] == f"{image}-cuda@{CUDA_DIGEST}"
    other = {"CONTAINER_REGISTRY_URI": "elsewhere.example.com/ml"}  # a tag never pushed from here
    config = yaml.safe_load(write_run_config(settings, "monitoring", tmp_path, other).read_text())
    assert "@" not in config["settings"]["docker"]["parent_image"]


@pytest.mark.parametrize(
    ("image", "digest", "expected"),
    [
        ("r.example.com/ml/x:1", "sha256:abc", "digest must look like sha256:<64 hex digits>"),
        ("r.example.com/ml/x@" + CPU_DIGEST, CPU_DIGEST, "give the image by tag"),
    ],
)
def test_a_malformed_digest_is_refused_in_one_line(
    tmp_path: Path, image: str, digest: str, expected: str
) -> None:
    settings = load_settings(copy_project(tmp_path / "project"))
    with pytest.raises(ValueError, match=expected):
        record_image_digest(settings, image, digest)


def test_the_makefile_reads_the_digest_from_docker_push() -> None:
    """The one line of `make pipeline-image` that cannot run here without a Docker engine."""
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    command = re.search(r"^PUSHED_DIGEST = (.+)$", makefile, re.MULTILINE)
    assert command is not None
    pushed = (
        "The push refers to repository [r.example.com/ml/x]\n"
        "5f70bf18a086: Pushed\n"
        f"{{ cookiecutter.version }}: digest: {CPU_DIGEST} size: 2417\n"
    )
    result = subprocess.run(
        ["bash", "-c", command[1]], input=pushed, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == CPU_DIGEST
