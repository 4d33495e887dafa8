"""Week 6: the GPU serving overlay renders, and the training spec for KFP asks for a GPU."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.settings import Settings

GPU = "nvidia.com/gpu"


def test_the_gpu_overlay_renders_a_gpu_deployment(settings: Settings) -> None:
    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"
    overlay = settings.project_root / "deploy" / "k8s" / "overlays" / "gpu"
    result = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True)
    if result.returncode != 0:
        next_step(f"deploy/k8s/overlays/gpu does not render: {result.stderr.strip()}")
    kinds = {document["kind"]: document for document in yaml.safe_load_all(result.stdout)}
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    limits = pod["containers"][0]["resources"].get("limits", {})
    if GPU not in limits or not pod.get("nodeSelector") or not pod.get("tolerations"):
        next_step(
            "the GPU overlay must give the serving container an nvidia.com/gpu limit, a "
            "nodeSelector and a toleration: see deploy/k8s/overlays/gpu/gpu.yaml"
        )


def test_the_training_spec_was_compiled_with_a_gpu_step(settings: Settings) -> None:
    spec_file = settings.resolve(settings.kubeflow.build_dir) / "training.yaml"
    compile_it = "set kubeflow.gpu: true in params.yaml and run `make kfp-compile`"
    if not spec_file.is_file():
        next_step(f"{spec_file.name} is missing in {spec_file.parent}: {compile_it}")
    spec: dict[str, Any] = next(yaml.safe_load_all(spec_file.read_text()))
    executors = spec["deploymentSpec"]["executors"].values()
    accelerators = [e["container"].get("resources", {}).get("accelerator", {}) for e in executors]
    if not any(accelerator.get("resourceType") == GPU for accelerator in accelerators):
        next_step(f"the compiled training spec asks for no GPU: {compile_it}")
