"""The Kubernetes manifests as kustomize renders them: CPU base and GPU overlay."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import PROJECT_ROOT

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"


def render(overlay: str) -> dict[str, dict[str, Any]]:
    """`kubectl kustomize` output, by kind."""
    result = subprocess.run(
        [KUBECTL, "kustomize", str(PROJECT_ROOT / "deploy" / "k8s" / overlay)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return {document["kind"]: document for document in yaml.safe_load_all(result.stdout)}


def serving_container(rendered: dict[str, dict[str, Any]]) -> dict[str, Any]:
    containers = rendered["Deployment"]["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "serving")


@pytest.mark.parametrize("overlay", ["base", "overlays/gpu"])
def test_both_variants_render_a_probed_non_root_deployment(overlay: str) -> None:
    rendered = render(overlay)
    assert {"Deployment", "Service", "HorizontalPodAutoscaler"} <= rendered.keys()
    pod = rendered["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = serving_container(rendered)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert {"requests", "limits"} <= container["resources"].keys()
    key = next(e for e in container["env"] if e["name"].endswith("SERVING__API_KEY"))
    assert key["valueFrom"]["secretKeyRef"]["name"] == "{{ cookiecutter.project_slug }}-api-key"
    target = rendered["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"]
    assert target == rendered["Deployment"]["metadata"]["name"]
    selector = rendered["Service"]["spec"]["selector"]
    assert selector.items() <= pod_labels(rendered).items()


def pod_labels(rendered: dict[str, dict[str, Any]]) -> dict[str, str]:
    labels: dict[str, str] = rendered["Deployment"]["spec"]["template"]["metadata"]["labels"]
    return labels


def test_the_gpu_overlay_asks_for_one_gpu_on_gpu_nodes_only() -> None:
    rendered = render("overlays/gpu")
    container = serving_container(rendered)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert {"name": "{{ cookiecutter.package_name | upper }}_SERVING__DEVICE", "value": "cuda"} in container["env"]
    assert container["image"].endswith("-cuda")
    pod = rendered["Deployment"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_cpu_base_asks_for_no_gpu() -> None:
    rendered = render("base")
    container = serving_container(rendered)
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert "nodeSelector" not in rendered["Deployment"]["spec"]["template"]["spec"]
