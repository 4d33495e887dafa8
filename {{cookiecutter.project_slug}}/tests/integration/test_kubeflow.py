"""The pipelines compiled for Kubeflow Pipelines: the spec's shape, then the spec itself executed.

No cluster exists here, so the compiled YAML is the product under test. It must parse strictly
into kfp's protobuf messages and mirror the ZenML DAG, and each task's command, arguments and
environment, run as a process in DAG order, must complete the ZenML run and register a model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from google.protobuf import json_format
from kfp import dsl
from kfp.pipeline_spec import pipeline_spec_pb2

from tests.helpers import (
    BIN,
    CLI,
    ENV_PREFIX,
    SMALL_DATA,
    copy_project,
    free_port,
    ok,
    run,
    serving,
)

ENTRYPOINT = ["python", "-m", "zenml.entrypoints.entrypoint"]
CREDENTIALS_SECRET = "{{ cookiecutter.project_slug }}-pipeline-credentials"
IMAGE = "registry.example.com/ml/{{ cookiecutter.project_slug }}:{{ cookiecutter.version }}"
SANDBOX_IMAGE = "registry.invalid/sandbox/{{ cookiecutter.project_slug }}:{{ cookiecutter.version }}"
BUCKET = "pipelines"
APP = Path("/app")
APP_MARKER = ".emptied-by-the-kfp-spec-test"
# What a pod's identity (IRSA, workload identity) would provide; never part of the spec.
POD_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


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


def containers(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each task's container, by ZenML step name."""
    executors = spec["deploymentSpec"]["executors"]
    return {
        task["taskInfo"]["name"]: executors[
            spec["components"][task["componentRef"]["name"]]["executorLabel"]
        ]["container"]
        for task in spec["root"]["dag"]["tasks"].values()
    }


def upstream_by_step(spec: dict[str, Any]) -> dict[str, set[str]]:
    """The spec's DAG, by ZenML step name."""
    tasks = spec["root"]["dag"]["tasks"]
    return {
        task["taskInfo"]["name"]: {
            tasks[upstream]["taskInfo"]["name"] for upstream in task.get("dependentTasks", [])
        }
        for task in tasks.values()
    }


def zenml(project: Path, code: str) -> Any:
    """Ask the project's ZenML store (as the CLI sees it) and return the printed JSON."""
    environment = {"ZENML_CONFIG_PATH": str(project / ".zenml"), "ZENML_ANALYTICS_OPT_IN": "false"}
    output = ok(run(project, sys.executable, "-c", code, env=environment, inherit_settings=False))
    return json.loads(output.splitlines()[-1])


def zenml_dag(project: Path, snapshot_id: str) -> dict[str, set[str]]:
    code = (
        "import json; from zenml.client import Client; "
        f"s = Client().get_snapshot('{snapshot_id}'); "
        "print(json.dumps({n: c.spec.upstream_steps for n, c in s.step_configurations.items()}))"
    )
    return {step: set(upstream) for step, upstream in zenml(project, code).items()}


def snapshot_of(container: dict[str, Any]) -> str:
    arguments = container["args"]
    return str(arguments[arguments.index("--snapshot_id") + 1])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed project with its data: git and DVC, as a team's repository would be."""
    root = copy_project(tmp_path_factory.mktemp("kubeflow") / "project")
    env = {f"{ENV_PREFIX}{name}": value for name, value in SMALL_DATA.items()}
    ok(run(root, "git", "init", "-q", "-b", "main", inherit_settings=False))
    ok(run(root, sys.executable, "-m", "dvc", "init", "--quiet", inherit_settings=False))
    ok(run(root, sys.executable, "-m", "dvc", "repro", "--quiet", env=env, inherit_settings=False))
    return root


def compile_specs(project: Path, env: dict[str, str]) -> str:
    shutil.rmtree(project / "build", ignore_errors=True)
    return ok(run(project, CLI, "kfp", "compile", env=env, inherit_settings=False))


def step_parameters(spec: dict[str, Any], step: str) -> dict[str, Any]:
    """The parameters a task declares (its step's ZenML parameters), with their values."""
    task = next(t for t in spec["root"]["dag"]["tasks"].values() if t["taskInfo"]["name"] == step)
    inputs = spec["components"][task["componentRef"]["name"]]["inputDefinitions"]["parameters"]
    return {name: declared["defaultValue"] for name, declared in inputs.items()}


@pytest.mark.parametrize("gpu", [False, True])
def test_compiled_specs_mirror_the_zenml_pipelines(project: Path, gpu: bool) -> None:
    env = {f"{ENV_PREFIX}KUBEFLOW__GPU": str(gpu).lower(), f"{ENV_PREFIX}GATE__MIN_ROC_AUC": "0.8"}
    output = compile_specs(project, env)
    assert "sandbox" in output and "submission skipped" in output
    assert sorted(path.name for path in (project / "build" / "kfp").glob("*.yaml")) == [
        "batch_inference.run.yaml",
        "batch_inference.yaml",
        "monitoring.run.yaml",
        "monitoring.yaml",
        "training.run.yaml",
        "training.yaml",
    ]

    for name in ("training", "batch_inference", "monitoring"):
        spec, platform = read_spec(project / "build" / "kfp" / f"{name}.yaml")
        tasks = containers(spec)
        snapshot = {snapshot_of(container) for container in tasks.values()}
        assert len(snapshot) == 1
        assert upstream_by_step(spec) == zenml_dag(project, snapshot.pop())
        for step, container in tasks.items():
            cuda = "-cuda" if gpu and step == "train_model" else ""
            assert container["image"] == f"{SANDBOX_IMAGE}{cuda}"
            assert container["command"] == ENTRYPOINT
            assert container["args"][container["args"].index("--step_name") + 1] == step
            resources = container["resources"]
            assert resources["resourceMemoryLimit"] == resources["resourceMemoryRequest"]
            assert resources["resourceMemoryLimit"].endswith("G")
            assert float(resources["resourceCpuLimit"]) >= 1
        gpu_steps = {step for step, c in tasks.items() if "accelerator" in c["resources"]}
        kubernetes = platform_executors(platform)
        placement_keys = {"nodeSelector", "tolerations"}
        scheduled = {e: c for e, c in kubernetes.items() if placement_keys & c.keys()}
        token = {"MLFLOW_TRACKING_TOKEN": (CREDENTIALS_SECRET, "MLFLOW_TRACKING_TOKEN")}
        assert {e: credentials_from_secret(c) for e, c in kubernetes.items()} == dict.fromkeys(
            spec["deploymentSpec"]["executors"], token
        )
        variables = {item["name"] for c in tasks.values() for item in c["env"]}
        assert "MLFLOW_TRACKING_TOKEN" not in variables
        if gpu and name == "training":
            assert gpu_steps == {"train_model"}
            accelerator = tasks["train_model"]["resources"]["accelerator"]
            assert accelerator["resourceType"] == "nvidia.com/gpu"
            assert accelerator["resourceCount"] == "1"
            assert list(scheduled) == ["exec-train-model"]
            placement = scheduled["exec-train-model"]
            assert placement["nodeSelector"]["labels"] == {"nvidia.com/gpu.present": "true"}
            assert placement["tolerations"] == [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
            ]
        else:
            assert gpu_steps == set()
            assert scheduled == {}
    assert_every_decision_is_a_step_parameter(project / "build" / "kfp", project / "params.yaml")


def assert_every_decision_is_a_step_parameter(folder: Path, params_file: Path) -> None:
    """Gate (with the environment's 0.8), XGBoost, quality and drift settings, and the schedule."""
    params = yaml.safe_load(params_file.read_text())
    training, _ = read_spec(folder / "training.yaml")
    gate = step_parameters(training, "promotion_gate")["gate"]
    assert gate == {**params["gate"], "min_roc_auc": 0.8}
    train_model = step_parameters(training, "train_model")
    assert train_model["model"]["n_estimators"] == params["model"]["n_estimators"]
    assert train_model["model"]["learning_rate"] == params["model"]["learning_rate"]
    assert train_model["seed"] == params["seed"]
    assert step_parameters(training, "check_quality")["quality"] == params["quality"]
    assert step_parameters(training, "split_train_test") == {
        "test_fraction": params["model"]["test_fraction"]
    }
    monitoring, _ = read_spec(folder / "monitoring.yaml")
    drift = step_parameters(monitoring, "check_champion_drift")["monitoring"]
    assert drift["drift_share_threshold"] == params["monitoring"]["drift_share_threshold"]
    assert step_parameters(monitoring, "decide_retraining") == {
        "auto_retrain": params["monitoring"]["auto_retrain"]
    }
    schedule = json.loads((folder / "monitoring.schedule.json").read_text())
    assert schedule["cron_expression"] == params["monitoring"]["schedule"]
    assert not (folder / "training.schedule.json").exists()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The cluster's services on loopback: an S3 API (moto) and an MLflow tracking server."""
    folder = tmp_path_factory.mktemp("cluster")
    s3_port, mlflow_port = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{s3_port}"
    moto = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)]
    mlflow = [
        str(BIN / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(mlflow_port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "mlflow-artifacts"),
    ]
    with serving(moto, "Running on"), serving(mlflow, "Uvicorn running on"):
        s3 = boto3.client("s3", endpoint_url=endpoint, **_boto_credentials())
        s3.create_bucket(Bucket=BUCKET)
        yield {
            **POD_CREDENTIALS,
            "AWS_ENDPOINT_URL": endpoint,
            "KFP_HOST": f"http://127.0.0.1:{free_port()}/pipeline",
            "ARTIFACT_STORE_URI": f"s3://{BUCKET}/zenml",
            "ARTIFACT_STORE_FLAVOR": "s3",  # this cluster stores on S3, whatever the bake chose
            "CONTAINER_REGISTRY_URI": IMAGE.rsplit("/", 1)[0],
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
            "MLFLOW_TRACKING_TOKEN": "unused-by-a-server-without-auth",
            f"{ENV_PREFIX}STORAGE__KIND": "s3",
            f"{ENV_PREFIX}STORAGE__REMOTE_URL": f"s3://{BUCKET}/dvc",
        }


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": POD_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": POD_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": POD_CREDENTIALS["AWS_DEFAULT_REGION"],
    }


def fail_or_skip(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def pod_command(command: list[str]) -> list[str]:
    """`command` with an empty /app, as in a new pod (ZenML's step entrypoint works in /app).

    As root, a private mount namespace gets its own /app. Where that is not allowed (a container
    without CAP_SYS_ADMIN, a normal user), an /app that only this test uses is emptied instead.
    """
    can_unshare = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    if os.geteuid() == 0 and can_unshare.returncode == 0:
        APP.mkdir(exist_ok=True)
        fresh_app = ["sh", "-c", 'mount -t tmpfs tmpfs /app && exec "$@"', "pod"]
        return ["unshare", "--mount", *fresh_app, *command]
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
    return command


def execute_spec(path: Path, pods: Path, secret: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Run every task of a compiled spec in DAG order, as its pod would; return the containers.

    `secret` is the credentials Secret: a pod gets the keys its executor references.
    """
    spec, platform = read_spec(path)
    text = path.read_text()
    assert not [value for value in secret.values() if value in text], "a credential in the spec"
    tasks = containers(spec)
    by_executor = platform_executors(platform)
    executor_of = {
        task["taskInfo"]["name"]: spec["components"][task["componentRef"]["name"]]["executorLabel"]
        for task in spec["root"]["dag"]["tasks"].values()
    }
    assert {c["image"] for c in tasks.values()} == {IMAGE}
    job_name = f"{path.stem}-{uuid.uuid4().hex[:8]}"  # what KFP substitutes, one per execution
    for step in TopologicalSorter(upstream_by_step(spec)).static_order():
        container = tasks[step]
        env = {
            item["name"]: item["value"].replace(dsl.PIPELINE_JOB_NAME_PLACEHOLDER, job_name)
            for item in container["env"]
        }
        home = pods / path.stem / step
        home.mkdir(parents=True)
        from_secret = credentials_from_secret(by_executor.get(executor_of[step], {}))
        env |= {name: secret[key] for name, (_, key) in from_secret.items()}
        pod_env = {"PATH": f"{BIN}{os.pathsep}/usr/bin:/bin", "HOME": str(home), **POD_CREDENTIALS}
        result = subprocess.run(
            pod_command([*container["command"], *container["args"]]),
            env={**pod_env, **env},
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"{step}: {result.stdout[-2000:]}{result.stderr[-3000:]}"
    return tasks


def completed_run(project: Path, tasks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The status of the ZenML run the tasks joined, and of each of its steps."""
    snapshot_id = snapshot_of(next(iter(tasks.values())))
    code = (
        "import json; from zenml.client import Client; "
        f"r = Client().list_pipeline_runs(snapshot_id='{snapshot_id}').items[0]; "
        "print(json.dumps({'status': r.status.value, "
        "'steps': {n: s.status.value for n, s in r.steps.items()}}))"
    )
    result: dict[str, Any] = zenml(project, code)
    return result


@pytest.mark.e2e  # every task of the specs is a real step run
def test_the_compiled_training_and_monitoring_specs_run_task_by_task(
    project: Path, cluster: dict[str, str], tmp_path: Path
) -> None:
    ok(run(project, CLI, "data", "remote", env=cluster, inherit_settings=False))
    ok(
        run(
            project,
            sys.executable,
            "-m",
            "dvc",
            "push",
            "--quiet",
            env=cluster,
            inherit_settings=False,
        )
    )
    ok(run(project, "git", "add", "--all", inherit_settings=False))
    identity = ["-c", "user.name=t", "-c", "user.email=t@e.io"]
    ok(run(project, "git", *identity, "commit", "-qm", "data on s3", inherit_settings=False))
    output = compile_specs(project, cluster)
    assert "sandbox" not in output

    folder = project / "build" / "kfp"
    secret = {"MLFLOW_TRACKING_TOKEN": cluster["MLFLOW_TRACKING_TOKEN"]}
    tasks = execute_spec(folder / "training.yaml", tmp_path / "pods", secret)
    outcome = completed_run(project, tasks)
    assert outcome["status"] == "completed"
    assert outcome["steps"] == dict.fromkeys(tasks, "completed")

    from mlflow import MlflowClient

    registry = MlflowClient(tracking_uri=cluster["MLFLOW_TRACKING_URI"])
    champion = registry.get_model_version_by_alias("{{ cookiecutter.package_name }}", "champion")
    run_data = registry.get_run(str(champion.run_id)).data
    assert run_data.metrics["roc_auc"] > 0.5
    assert champion.tags["feast_feature_service"] == "fraud_model_v1"
    commit = ok(run(project, "git", "rev-parse", "HEAD", inherit_settings=False)).strip()
    assert (champion.tags["git_commit"], champion.tags["git_dirty"]) == (commit, "false")
    artifacts = registry.list_artifacts(str(champion.run_id), "plots")
    assert {Path(item.path).name for item in artifacts} >= {"roc_curve.png", "pr_curve.png"}

    monitoring = execute_spec(folder / "monitoring.yaml", tmp_path / "pods", secret)
    assert completed_run(project, monitoring)["steps"] == dict.fromkeys(monitoring, "completed")
    judged = registry.get_model_version("{{ cookiecutter.package_name }}", champion.version)
    decision = json.loads(judged.tags["last_monitoring"])
    assert decision["model_version"] == champion.version and decision["source"] == "batch"
    assert decision["action"] in {"none", "retrain"}  # unchanged data; either way it is recorded
    assert 0 <= decision["drift_share"] <= 1


def test_stack_kubeflow_registers_the_recipe_idempotently(
    project: Path, cluster: dict[str, str]
) -> None:
    for _ in range(2):
        assert "registered ZenML stack kubeflow" in ok(
            run(project, CLI, "stack", "kubeflow", env=cluster, inherit_settings=False)
        )
    code = (
        "import json; from zenml.client import Client; c = Client(); "
        "s = c.get_stack('kubeflow', allow_name_prefix_match=False); "
        "print(json.dumps({'stacks': c.list_stacks(name='kubeflow').total, "
        "'components': {t.value: [x.flavor_name for x in cs] for t, cs in s.components.items()}}))"
    )
    registered = zenml(project, code)
    assert registered["stacks"] == 1
    assert registered["components"] == {
        "orchestrator": ["{{ cookiecutter.package_name }}_kubeflow"],
        "artifact_store": ["s3"],
        "container_registry": ["default"],
        "image_builder": ["local"],
        "experiment_tracker": ["mlflow"],
    }
    assert (
        ok(run(project, CLI, "kfp", "image", env=cluster, inherit_settings=False)).strip() == IMAGE
    )
    assert (
        ok(run(project, CLI, "kfp", "image", "--cuda", env=cluster, inherit_settings=False)).strip()
        == f"{IMAGE}-cuda"
    )


def last_error_line(project: Path, *command: str, env: dict[str, str]) -> str:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    result = subprocess.run(
        command, cwd=project, env={**inherited, **env}, capture_output=True, text=True
    )
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stderr.strip().splitlines()[-1]


def test_cluster_errors_end_with_one_line_saying_what_to_set(
    project: Path, cluster: dict[str, str], tmp_path: Path
) -> None:
    without_registry = {k: v for k, v in cluster.items() if k != "CONTAINER_REGISTRY_URI"}
    line = last_error_line(project, CLI, "stack", "kubeflow", env=without_registry)
    assert line.startswith("error: CONTAINER_REGISTRY_URI is not set")
    assert ".env" in line

    line = last_error_line(project, CLI, "kfp", "run", env={})
    assert line.startswith("error: KFP_HOST is not set")

    line = last_error_line(project, CLI, "kfp", "run", env=cluster)
    assert line.startswith(
        f"error: cannot reach the Kubeflow Pipelines API at {cluster['KFP_HOST']}"
    )
    assert "set KFP_HOST" in line

    not_kfp = {**cluster, "KFP_HOST": cluster["MLFLOW_TRACKING_URI"]}  # an HTTP server, not KFP
    line = last_error_line(project, CLI, "kfp", "run", env=not_kfp)
    assert line.startswith("error: ") and "is not a Kubeflow Pipelines API health check" in line
    assert "(HTTP 404" in line and "set KFP_HOST" in line

    health = tmp_path / "pipeline" / "apis" / "v2beta1" / "healthz"
    health.parent.mkdir(parents=True)
    health.write_text('{"commit_sha": "unknown", "multi_user": false}')
    port = free_port()
    kfp_api = [sys.executable, "-u", "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with serving([*kfp_api, "--directory", str(tmp_path)], "Serving HTTP"):
        healthy_kfp = {**cluster, "KFP_HOST": f"http://127.0.0.1:{port}/pipeline"}
        line = last_error_line(project, CLI, "kfp", "run", env=healthy_kfp)
    assert line.startswith("error: pods cannot reach this machine's ZenML store")
    assert "zenml login" in line
