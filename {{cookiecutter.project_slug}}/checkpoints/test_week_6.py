"""Week 6: resources or an overlay you changed, every overlay renders, a GPU training spec."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from checkpoints.baseline import changed_since_bake
from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.settings import Settings

GPU = "nvidia.com/gpu"


def test_you_changed_the_resources_or_added_an_overlay_and_every_overlay_renders(
    settings: Settings, bake_commit: str
) -> None:
    root = settings.project_root
    changed = changed_since_bake(root, bake_commit, "configs/kubeflow", "deploy/k8s")
    if not changed:
        next_step(
            "configs/kubeflow/ and deploy/k8s/ are as baked: resize a step for your cluster "
            "(week 6, exercise 2) or add an overlay of your own under deploy/k8s/overlays/"
        )
    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"
    for overlay in sorted((root / "deploy" / "k8s" / "overlays").iterdir()):
        result = subprocess.run(
            [kubectl, "kustomize", str(overlay)], capture_output=True, text=True
        )
        if result.returncode != 0:
            next_step(f"{overlay.relative_to(root)} does not render: {result.stderr.strip()}")
        kinds = {document["kind"] for document in yaml.safe_load_all(result.stdout) if document}
        if "Deployment" not in kinds:
            next_step(f"{overlay.relative_to(root)} renders no Deployment of the service")


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
