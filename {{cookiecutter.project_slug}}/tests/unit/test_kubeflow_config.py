"""The Kubeflow recipe's placeholders, the GPU overlay and the memory conversion."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.orchestration.cluster_stack import (
    MissingVariableError,
    expand,
    load_config,
    required_variables,
)
from {{ cookiecutter.package_name }}.orchestration.kubeflow_orchestrator import kubernetes_quantity
from {{ cookiecutter.package_name }}.orchestration.kubeflow_runs import merge
from {{ cookiecutter.package_name }}.settings import load_settings
from tests.helpers import PROJECT_ROOT


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
        "MLFLOW_TRACKING_TOKEN",
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


@pytest.mark.parametrize(
    ("memory", "quantity"), [("4GB", "4G"), ("512MiB", "512Mi"), ("1GiB", "1Gi"), ("64KB", "64K")]
)
def test_zenml_memory_becomes_a_kubernetes_quantity(memory: str, quantity: str) -> None:
    assert kubernetes_quantity(memory) == quantity


@pytest.mark.parametrize("memory", ["4.5GB", "GB", "4XB"])
def test_a_memory_kubernetes_cannot_read_is_refused(memory: str) -> None:
    with pytest.raises(ValueError, match="memory must look like"):
        kubernetes_quantity(memory)
