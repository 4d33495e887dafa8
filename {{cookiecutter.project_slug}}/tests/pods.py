"""A compiled KFP task run the way its pod runs it, on this machine.

What a pod has, and so what each task gets here: the image's Python environment (a virtualenv
built from requirements.lock alone, the project not installed), the environment of the image
(the `ENV` lines of deploy/Dockerfile, read from the file), the task's own environment from the
spec, the keys of the credentials Secret its executor references, a fresh HOME and an empty
/app (ZenML's entrypoint unpacks the code there). Nothing of the test's own virtualenv, working
directory or environment reaches the task.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format
from kfp import dsl
from kfp.pipeline_spec import pipeline_spec_pb2

from {{ cookiecutter.package_name }}.orchestration.kubeflow_orchestrator import CREDENTIAL_NAME
from tests.helpers import BIN, PROJECT_ROOT

IMAGE_VENV = "/opt/venv"  # where deploy/Dockerfile installs requirements.lock
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # Debian's default
APP = Path("/app")
APP_MARKER = ".emptied-by-the-kfp-pod-test"


@dataclass(frozen=True)
class Image:
    """What a task finds in the pipeline image: its environment and its folders under /app."""

    environment: dict[str, str]
    app_folders: list[str]

    @classmethod
    def of(cls, dockerfile: Path, venv: Path) -> Image:
        """The image deploy/Dockerfile builds, with its virtualenv at `venv`."""
        return cls(image_environment(dockerfile, venv), image_app_folders(dockerfile))


def read_spec(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pipeline spec and the Kubernetes platform spec (empty when the file has none)."""
    documents = list(yaml.safe_load_all(path.read_text()))
    pipeline = documents[0]
    json_format.ParseDict(pipeline, pipeline_spec_pb2.PipelineSpec())  # strict: no unknown keys
    platform = documents[1] if len(documents) > 1 else {}
    if platform:
        json_format.ParseDict(platform, pipeline_spec_pb2.PlatformSpec())
    return pipeline, platform


def platform_executors(platform: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The Kubernetes settings of each executor (placement, credentials)."""
    kubernetes = platform.get("platforms", {}).get("kubernetes", {})
    executors: dict[str, dict[str, Any]] = kubernetes.get("deploymentSpec", {}).get("executors", {})
    return executors


def credentials_from_secret(executor: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The variables a pod reads from a Kubernetes Secret: name -> (secret, key)."""
    return {
        pair["envVar"]: (reference["secretName"], pair["secretKey"])
        for reference in executor.get("secretAsEnv", [])
        for pair in reference["keyToEnv"]
    }


def executor_of(spec: dict[str, Any]) -> dict[str, str]:
    """Each task's executor label, by ZenML step name."""
    return {
        task["taskInfo"]["name"]: spec["components"][task["componentRef"]["name"]]["executorLabel"]
        for task in spec["root"]["dag"]["tasks"].values()
    }


def containers(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each task's container, by ZenML step name."""
    executors = spec["deploymentSpec"]["executors"]
    return {step: executors[label]["container"] for step, label in executor_of(spec).items()}


def upstream_by_step(spec: dict[str, Any]) -> dict[str, set[str]]:
    """The spec's DAG, by ZenML step name."""
    tasks = spec["root"]["dag"]["tasks"]
    return {
        task["taskInfo"]["name"]: {
            tasks[upstream]["taskInfo"]["name"] for upstream in task.get("dependentTasks", [])
        }
        for task in tasks.values()
    }


def snapshot_of(container: dict[str, Any]) -> str:
    arguments = container["args"]
    return str(arguments[arguments.index("--snapshot_id") + 1])


def final_stage(dockerfile: Path) -> list[str]:
    """The instructions of the Dockerfile's last stage, continuation lines joined."""
    lines = dockerfile.read_text().replace("\\\n", " ").splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    return lines[start:]


def image_environment(dockerfile: Path, venv: Path) -> dict[str, str]:
    """The `ENV` of the Dockerfile's final stage, with the image's virtualenv at `venv`."""
    environment = {"PATH": IMAGE_PATH}
    for line in final_stage(dockerfile):
        if line.startswith("WORKDIR "):
            assert line.split()[1] == str(APP), "ZenML's entrypoint works in /app"
        if not line.startswith("ENV "):
            continue
        for assignment in shlex.split(line[len("ENV ") :]):
            name, value = assignment.split("=", 1)
            value = value.replace("$PATH", environment["PATH"])
            environment[name] = value.replace(IMAGE_VENV, str(venv))
    return environment


def image_app_folders(dockerfile: Path) -> list[str]:
    """The folders the image creates under /app (they exist when the pod's Python starts)."""
    words = [
        word for line in final_stage(dockerfile) if line.startswith("RUN ") for word in line.split()
    ]
    return sorted({word for word in words if word == str(APP) or word.startswith(f"{APP}/")})


def image_virtualenv(folder: Path) -> Path:
    """A virtualenv with requirements.lock only, as deploy/Dockerfile builds it (seconds with
    uv's cache, which links the files)."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    interpreter = Path(sys.base_prefix) / "bin" / f"python{python}"
    environment = {**os.environ, "UV_COMPILE_BYTECODE": "0"}  # tasks compile what they import
    for command in (
        [str(BIN / "uv"), "venv", "--quiet", "--seed", "--python", str(interpreter), str(folder)],
        [
            str(BIN / "uv"),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(folder / "bin" / "python"),
            "-r",
            str(PROJECT_ROOT / "requirements.lock"),
        ],
    ):
        subprocess.run(command, check=True, env=environment, capture_output=True)
    return folder


def fail_or_skip(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def private_app_possible() -> bool:
    """Whether each task can get its own /app (root, and mount namespaces allowed)."""
    can_unshare = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    return os.geteuid() == 0 and can_unshare.returncode == 0


def pod_command(command: list[str], app_folders: list[str], private: bool) -> list[str]:
    """`command` with /app as in a new pod: the image's folders, nothing else.

    `private`: a mount namespace of its own gets an empty /app. Otherwise (a container without
    CAP_SYS_ADMIN, a normal user) an /app that only this test uses is emptied instead, and tasks
    must run one at a time.
    """
    if private:
        APP.mkdir(exist_ok=True)
        fresh_app = 'mount -t tmpfs tmpfs /app && mkdir -p $0 && exec "$@"'  # $0: folders
        return ["unshare", "--mount", "sh", "-c", fresh_app, " ".join(app_folders), *command]
    try:
        APP.mkdir(exist_ok=True)
    except PermissionError:
        fail_or_skip("/app is missing: create it once with `sudo install -d -o $USER /app`")
    if any(APP.iterdir()) and not (APP / APP_MARKER).exists():
        fail_or_skip("/app holds files this test did not create: empty it or run as root")
    for entry in APP.iterdir():
        if entry.name != APP_MARKER:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    (APP / APP_MARKER).touch()
    for folder in app_folders:
        Path(folder).mkdir(parents=True, exist_ok=True)
    return command


def assert_no_credentials(path: Path, values: list[str]) -> None:
    """No credential value in the spec file, and no credential-named variable in a task."""
    text = path.read_text()
    assert not [value for value in values if value in text], f"a credential in {path.name}"
    spec, _ = read_spec(path)
    named = {
        item["name"]
        for container in containers(spec).values()
        for item in container.get("env", [])
        if CREDENTIAL_NAME.search(item["name"])
    }
    assert not named, f"{path.name} carries {sorted(named)}"


def execute_spec(
    path: Path, pods: Path, image: Image, secret: dict[str, str], identity: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Run every task of a compiled spec as its pod would; return the containers.

    A task starts once its upstream tasks succeeded, and tasks that are ready together run
    together, as KFP runs them. `image` is the pipeline image, `secret` the credentials Secret
    (a pod gets the keys its executor references) and `identity` what the pod's cloud identity
    provides (IRSA, workload identity: the bucket access).
    """
    spec, platform = read_spec(path)
    assert_no_credentials(path, [*secret.values(), *identity.values()])
    tasks = containers(spec)
    executors = executor_of(spec)
    by_executor = platform_executors(platform)
    job_name = f"{path.stem}-{uuid.uuid4().hex[:8]}"  # what KFP substitutes, one per execution
    private = private_app_possible()

    def pod(step: str) -> subprocess.CompletedProcess[str]:
        container = tasks[step]
        task_env = {
            item["name"]: item["value"].replace(dsl.PIPELINE_JOB_NAME_PLACEHOLDER, job_name)
            for item in container["env"]
        }
        from_secret = credentials_from_secret(by_executor.get(executors[step], {}))
        home = pods / path.stem / step
        home.mkdir(parents=True)
        return subprocess.run(
            pod_command([*container["command"], *container["args"]], image.app_folders, private),
            cwd=home,
            env={
                **image.environment,
                "HOME": str(home),
                **identity,
                **task_env,
                **{name: secret[key] for name, (_, key) in from_secret.items()},
            },
            capture_output=True,
            text=True,
        )

    dag = TopologicalSorter(upstream_by_step(spec))
    dag.prepare()
    with ThreadPoolExecutor(max_workers=4 if private else 1) as cluster:
        running: dict[Future[subprocess.CompletedProcess[str]], str] = {}
        while dag.is_active():
            running |= {cluster.submit(pod, step): step for step in dag.get_ready()}
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                step, result = running.pop(future), future.result()
                assert result.returncode == 0, (
                    f"{step}: {result.stdout[-2000:]}{result.stderr[-3000:]}"
                )
                dag.done(step)
    return tasks
