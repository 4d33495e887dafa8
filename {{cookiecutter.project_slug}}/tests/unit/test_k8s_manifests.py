"""The Kubernetes manifests as kustomize renders them: CPU base, GPU overlay, alerts component."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from {{ cookiecutter.package_name }}.settings import PathSettings, ServingSettings
from tests.helpers import PROJECT_ROOT

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"
K8S = PROJECT_ROOT / "deploy" / "k8s"
VARIANTS = ["base", "overlays/gpu"]
ALERTS = "components/alerts"
# `bentoml containerize` puts the Bento's code in /home/bentoml/bento/src, the service's project
# root in the image: its relative paths (data/feast, reports/...) resolve under it.
BENTO_PROJECT_ROOT = PurePosixPath("/home/bentoml/bento/src")
PREDICTION_LOG_VARIABLE = "{{ cookiecutter.package_name | upper }}_SERVING__PREDICTION_LOG"
# What the alerts may read: the service's own metrics and kube-state-metrics'.
SERVICE_METRICS = {
    "{{ cookiecutter.package_name }}_unknown_customers_total",
    "{{ cookiecutter.package_name }}_fraud_probability_count",
    "{{ cookiecutter.package_name }}_online_store_ready",
}
KUBE_STATE_METRICS = {"kube_pod_status_ready", "kube_pod_labels"}
SEVERITIES = {"page", "warning"}
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
QUANTITY_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def render_documents(folder: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize` output of a kustomization or component folder."""
    result = subprocess.run([KUBECTL, "kustomize", str(folder)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def render(overlay: str) -> dict[str, dict[str, Any]]:
    """`kubectl kustomize` output, by kind."""
    return {document["kind"]: document for document in render_documents(K8S / overlay)}


def serving_container(rendered: dict[str, dict[str, Any]]) -> dict[str, Any]:
    containers = rendered["Deployment"]["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "serving")


@pytest.mark.parametrize("overlay", VARIANTS)
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


def params() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    return loaded


def written_paths(container: dict[str, Any]) -> dict[str, PurePosixPath]:
    """Every folder the service writes at run time in the image, by what writes it."""
    env = {variable["name"]: variable.get("value") for variable in container["env"]}
    assert env.get(PREDICTION_LOG_VARIABLE), "the prediction log's path is spelt out"
    assert env.get("BENTOML_HOME"), "BentoML's home is moved off the image's read-only root"
    data_dir = PathSettings.model_validate(params().get("paths", {})).data_dir
    return {
        "prediction log": PurePosixPath(env[PREDICTION_LOG_VARIABLE]).parent,
        # BentoML creates its store folders and prometheus_multiproc_dir there at start.
        "BentoML home": PurePosixPath(env["BENTOML_HOME"]),
        # features/store.py feature_repo(): Feast's registry and SQLite files.
        "Feast": BENTO_PROJECT_ROOT / data_dir / "feast",
        # tempfile: BentoML's worker sockets, Feast's metrics folder.
        "temporary files": PurePosixPath("/tmp"),
    }


def mounted_volumes(rendered: dict[str, dict[str, Any]]) -> dict[PurePosixPath, dict[str, Any]]:
    """The serving container's mounts: path -> the pod's volume."""
    volumes = {
        volume["name"]: volume
        for volume in rendered["Deployment"]["spec"]["template"]["spec"].get("volumes", [])
    }
    return {
        PurePosixPath(mount["mountPath"]): volumes[mount["name"]]
        for mount in serving_container(rendered).get("volumeMounts", [])
        if not mount.get("readOnly")
    }


def quantity_bytes(quantity: str | int) -> int:
    match = re.fullmatch(r"(\d+)([kMG]i?|Ki)?", str(quantity))
    assert match, f"unexpected quantity {quantity!r}"
    return int(match[1]) * QUANTITY_UNITS[match[2] or ""]


@pytest.mark.parametrize("overlay", VARIANTS)
def test_the_root_is_read_only_and_every_written_path_is_a_bounded_volume(overlay: str) -> None:
    rendered = render(overlay)
    container = serving_container(rendered)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = mounted_volumes(rendered)
    for writer, path in written_paths(container).items():
        assert path in mounts, f"{writer} writes {path}, which is not a writable mount"
    for path, volume in mounts.items():
        assert "emptyDir" in volume, f"{path} is not an emptyDir"
        assert quantity_bytes(volume["emptyDir"]["sizeLimit"]) > 0, f"{path} has no sizeLimit"
    assert not any(
        mount["mountPath"] == str(BENTO_PROJECT_ROOT.parent) for mount in container["volumeMounts"]
    ), "a volume over /home/bentoml/bento would hide the Bento"


def test_the_prediction_log_volume_holds_the_rotated_log_of_every_worker() -> None:
    rendered = render("base")
    log_folder = written_paths(serving_container(rendered))["prediction log"]
    limit = quantity_bytes(mounted_volumes(rendered)[log_folder]["emptyDir"]["sizeLimit"])
    keys = {"workers", "prediction_log_max_bytes", "prediction_log_backups"}
    serving = ServingSettings.model_validate(
        {key: value for key, value in params().get("serving", {}).items() if key in keys}
    )
    rotated = serving.prediction_log_max_bytes * (serving.prediction_log_backups + 1)
    assert limit >= 2 * serving.workers * rotated, "leave headroom above the rotated log"


@pytest.mark.parametrize("overlay", VARIANTS)
def test_the_deployments_need_no_prometheus_operator(overlay: str) -> None:
    documents = render_documents(K8S / overlay)
    assert all(not doc["apiVersion"].startswith("monitoring.coreos.com/") for doc in documents)
    assert "PrometheusRule" not in {document["kind"] for document in documents}


def alert_rules() -> list[dict[str, Any]]:
    rule = render(ALERTS)["PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    return [entry for group in rule["spec"]["groups"] for entry in group["rules"]]


def metric_names(expression: str) -> set[str]:
    """The metrics a PromQL expression reads: names outside strings, matchers and ranges that
    are neither functions, aggregations nor keywords."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expression)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names: set[str] = set()
    for match in re.finditer(r"(?<![\w.:])[a-zA-Z_:][\w:]*", text):
        if not text[match.end() :].lstrip().startswith("(") and match[0] not in PROMQL_KEYWORDS:
            names.add(match[0])
    return names


def test_each_alert_reads_known_metrics_and_has_a_duration_severity_and_runbook() -> None:
    rules = alert_rules()
    read: set[str] = set()
    for rule in rules:
        assert rule["alert"] and rule["expr"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["runbook"].strip(), rule["alert"]
        names = metric_names(rule["expr"])
        assert names <= SERVICE_METRICS | KUBE_STATE_METRICS, (rule["alert"], names)
        read |= names
    assert SERVICE_METRICS | {"kube_pod_status_ready"} <= read


def test_the_unknown_customer_alert_points_at_the_online_store() -> None:
    unknown = [rule for rule in alert_rules() if "unknown_customers" in rule["expr"]]
    assert len(unknown) == 1
    assert unknown[0]["labels"]["severity"] == "page"
    assert "make features" in unknown[0]["annotations"]["runbook"]
    assert "online store" in unknown[0]["annotations"]["description"]


@pytest.mark.parametrize("overlay", VARIANTS)
def test_the_not_ready_alert_watches_the_pods_of_the_deployment_only(overlay: str) -> None:
    (rule,) = [rule for rule in alert_rules() if "kube_pod_status_ready" in rule["expr"]]
    assert 'condition="false"' in rule["expr"]
    matcher = re.search(r'pod=~"([^"]+)"', rule["expr"])
    assert matcher, "the rule selects the pods by name"
    deployment = render(overlay)["Deployment"]["metadata"]["name"]
    assert re.fullmatch(matcher[1], f"{deployment}-7d4b9c8f6-x2k4q")
    assert not re.fullmatch(matcher[1], f"{deployment}-api-7d4b9c8f6-x2k4q")
    assert not re.fullmatch(matcher[1], f"other-{deployment}-7d4b9c8f6-x2k4q")


def test_the_alerts_component_adds_the_rule_to_an_overlay(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(K8S / "overlays" / "gpu", tmp_path)],
                "components": [os.path.relpath(K8S / ALERTS, tmp_path)],
            }
        )
    )
    kinds = [document["kind"] for document in render_documents(tmp_path)]
    assert kinds.count("PrometheusRule") == 1
    assert kinds.count("Deployment") == 1
