"""The pipelines compiled for Kubeflow Pipelines: the spec's shape, then the spec run as pods would.

No cluster exists here, so the compiled YAML is the product under test. It must parse strictly
into kfp's protobuf messages and mirror the ZenML DAG. Then every task of every spec runs as its
pod would (tests/pods.py: the image's environment, not this virtualenv) against servers that
require credentials: a ZenML server (the pods log in with a service account's API key), an
MLflow server with a login, and an S3 API. The runs must register and gate a model, leave the
predictions in the artifact store and record the monitoring decision.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
import yaml

from tests.helpers import (
    BIN,
    CLI,
    ENV_PREFIX,
    PROJECT_ROOT,
    SMALL_DATA,
    copy_project,
    free_port,
    ok,
    run,
    serving,
)
from tests.pods import (
    Image,
    assert_no_credentials,
    containers,
    credentials_from_secret,
    execute_spec,
    image_virtualenv,
    platform_executors,
    read_spec,
    snapshot_of,
    upstream_by_step,
)

ENTRYPOINT = ["python", "-m", "zenml.entrypoints.entrypoint"]
CREDENTIALS_SECRET = "{{ cookiecutter.project_slug }}-pipeline-credentials"
IMAGE = "registry.example.com/ml/{{ cookiecutter.project_slug }}:{{ cookiecutter.version }}"
SANDBOX_IMAGE = "registry.invalid/sandbox/{{ cookiecutter.project_slug }}:{{ cookiecutter.version }}"
BUCKET = "pipelines"
# What a pod's identity (IRSA, workload identity) would provide; never part of the spec.
POD_IDENTITY = {
    "AWS_ACCESS_KEY_ID": "pod-identity-key-id",
    "AWS_SECRET_ACCESS_KEY": "pod-identity-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def as_the_cli(project: Path) -> dict[str, str]:
    """ZenML's configuration and repository as the project's CLI sets them, whatever this
    process's environment holds (another test may have pointed it elsewhere)."""
    return {
        "ZENML_CONFIG_PATH": str(project / ".zenml"),
        "ZENML_REPOSITORY_PATH": str(project),
        "ZENML_ANALYTICS_OPT_IN": "false",
    }


def zenml(project: Path, code: str) -> Any:
    """Ask the project's ZenML store (as the CLI sees it) and return the printed JSON."""
    environment = as_the_cli(project)
    output = ok(run(project, sys.executable, "-c", code, env=environment, inherit_settings=False))
    return json.loads(output.splitlines()[-1])


def zenml_dag(project: Path, snapshot_id: str) -> dict[str, set[str]]:
    code = (
        "import json; from zenml.client import Client; "
        f"s = Client().get_snapshot('{snapshot_id}'); "
        "print(json.dumps({n: c.spec.upstream_steps for n, c in s.step_configurations.items()}))"
    )
    return {step: set(upstream) for step, upstream in zenml(project, code).items()}


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
        assert not any(credentials_from_secret(c) for c in kubernetes.values())  # no login
        assert_no_credentials(project / "build" / "kfp" / f"{name}.yaml", [])
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


@dataclass(frozen=True)
class Cluster:
    """The cluster's services on loopback, as the submitting machine and the pods reach them."""

    env: dict[str, str]  # what `.env` holds on the submitting machine
    secret: dict[str, str]  # the credentials Secret in the pods' namespace
    mlflow: dict[str, str]  # how a reader logs in to the MLflow server


def zenml_server(folder: Path, port: int, password: str) -> list[str]:
    """A ZenML server on loopback that requires a login (not the no-auth local daemon)."""
    variables = {
        "ZENML_SERVER": "true",
        "ZENML_CONFIG_PATH": str(folder / "server-config"),
        "ZENML_STORE_URL": f"sqlite:///{folder / 'zenml.db'}",
        "ZENML_SERVER_AUTH_SCHEME": "OAUTH2_PASSWORD_BEARER",
        "ZENML_SERVER_JWT_SECRET_KEY": uuid.uuid4().hex,
        "ZENML_SERVER_AUTO_ACTIVATE": "true",
        "ZENML_DEFAULT_USER_PASSWORD": password,
        "ZENML_ANALYTICS_OPT_IN": "false",
    }
    uvicorn = ["-m", "uvicorn", "zenml.zen_server.zen_server_api:app"]
    address = ["--host", "127.0.0.1", "--port", str(port)]
    return ["env", *(f"{k}={v}" for k, v in variables.items()), sys.executable, *uvicorn, *address]


def service_account_key(folder: Path, url: str, password: str) -> str:
    """Create the pods' service account on the ZenML server; return its API key."""
    code = (
        "from zenml.client import Client; c = Client(); "
        "c.create_service_account(name='kubeflow-pods'); "
        "key = c.create_api_key(service_account_name_id_or_prefix='kubeflow-pods', name='pods'); "
        "print('API key:', key.key)"
    )
    login = {
        "ZENML_CONFIG_PATH": str(folder / "admin"),
        "ZENML_STORE_URL": url,
        "ZENML_STORE_USERNAME": "default",
        "ZENML_STORE_PASSWORD": password,
        "ZENML_ANALYTICS_OPT_IN": "false",
    }
    output = ok(run(folder, sys.executable, "-c", code, env=login, inherit_settings=False))
    return next(line.split()[-1] for line in output.splitlines() if line.startswith("API key:"))


def mlflow_server_with_login(folder: Path, port: int, password: str) -> list[str]:
    """An MLflow server whose every request needs a user name and password (basic-auth app)."""
    config = folder / "mlflow-auth.ini"
    config.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{folder / 'mlflow-auth.db'}\n"
        f"admin_username = admin\nadmin_password = {password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    return [
        "env",
        f"MLFLOW_AUTH_CONFIG_PATH={config}",
        f"MLFLOW_FLASK_SERVER_SECRET_KEY={uuid.uuid4().hex}",
        str(BIN / "mlflow"),
        "server",
        "--app-name",
        "basic-auth",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "mlflow-artifacts"),
    ]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """An S3 API (moto), an MLflow server and a ZenML server, each requiring credentials."""
    folder = tmp_path_factory.mktemp("cluster")
    s3_port, mlflow_port, zenml_port = free_port(), free_port(), free_port()
    endpoint = f"http://127.0.0.1:{s3_port}"
    zenml_url = f"http://127.0.0.1:{zenml_port}"
    mlflow_password, zenml_password = uuid.uuid4().hex, uuid.uuid4().hex
    moto = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)]
    with (
        serving(moto, "Running on"),
        serving(mlflow_server_with_login(folder, mlflow_port, mlflow_password), "Uvicorn running"),
        # Outside the project: a server started in a ZenML repository takes it for its own.
        serving(zenml_server(folder, zenml_port, zenml_password), "Uvicorn running", cwd=folder),
    ):
        s3 = boto3.client("s3", endpoint_url=endpoint, **_boto_credentials())
        s3.create_bucket(Bucket=BUCKET)
        pods_key = service_account_key(folder, zenml_url, zenml_password)
        mlflow_login = {
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
            "MLFLOW_TRACKING_USERNAME": "admin",
            "MLFLOW_TRACKING_PASSWORD": mlflow_password,
        }
        env = {
            **POD_IDENTITY,  # the submitting user's own bucket access
            **mlflow_login,
            "AWS_ENDPOINT_URL": endpoint,
            "KFP_HOST": f"http://127.0.0.1:{free_port()}/pipeline",
            "ARTIFACT_STORE_URI": f"s3://{BUCKET}/zenml",
            "ARTIFACT_STORE_FLAVOR": "s3",  # this cluster stores on S3, whatever the bake chose
            "CONTAINER_REGISTRY_URI": IMAGE.rsplit("/", 1)[0],
            "ZENML_STORE_URL": zenml_url,
            "ZENML_STORE_API_KEY": pods_key,
            f"{ENV_PREFIX}STORAGE__KIND": "s3",
            f"{ENV_PREFIX}STORAGE__REMOTE_URL": f"s3://{BUCKET}/dvc",
        }
        yield Cluster(env=env, secret={"ZENML_STORE_API_KEY": pods_key}, mlflow=mlflow_login)


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": POD_IDENTITY["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": POD_IDENTITY["AWS_SECRET_ACCESS_KEY"],
        "region_name": POD_IDENTITY["AWS_DEFAULT_REGION"],
    }


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    """The pipeline image: requirements.lock alone, deploy/Dockerfile's ENV and /app folders."""
    venv = image_virtualenv(tmp_path_factory.mktemp("image") / "venv")
    return Image.of(PROJECT_ROOT / "deploy" / "Dockerfile", venv)


def zenml_on(project: Path, cluster: Cluster, code: str) -> Any:
    """Ask the cluster's ZenML server, logged in as the project's user, and return the JSON."""
    environment = {**as_the_cli(project), **cluster.env}
    output = ok(run(project, sys.executable, "-c", code, env=environment, inherit_settings=False))
    return json.loads(output.splitlines()[-1])


def completed_run(project: Path, cluster: Cluster, tasks: dict[str, dict[str, Any]]) -> Any:
    """The ZenML run the tasks joined: its status and each step's, and its name."""
    snapshot_id = snapshot_of(next(iter(tasks.values())))
    code = (
        "import json; from zenml.client import Client; "
        f"r = Client().list_pipeline_runs(snapshot_id='{snapshot_id}').items[0]; "
        "print(json.dumps({'name': r.name, 'status': r.status.value, "
        "'steps': {n: s.status.value for n, s in r.steps.items()}}))"
    )
    return zenml_on(project, cluster, code)


def commit_data_on_s3(project: Path, cluster: Cluster) -> None:
    """Push the DVC data to the cluster's bucket and commit, as a team would before a run."""
    ok(run(project, CLI, "data", "remote", env=cluster.env, inherit_settings=False))
    dvc_push = [sys.executable, "-m", "dvc", "push", "--quiet"]
    ok(run(project, *dvc_push, env=cluster.env, inherit_settings=False))
    ok(run(project, "git", "add", "--all", inherit_settings=False))
    identity = ["-c", "user.name=t", "-c", "user.email=t@e.io"]
    ok(run(project, "git", *identity, "commit", "-qm", "data on s3", inherit_settings=False))


@pytest.mark.pods  # make test-pods: every task of the three specs, a real step run as in its pod
@pytest.mark.e2e
def test_every_compiled_pipeline_runs_task_by_task_as_its_pods_would(
    project: Path,
    cluster: Cluster,
    image: Image,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    commit_data_on_s3(project, cluster)
    assert "sandbox" not in compile_specs(project, cluster.env)
    folder = project / "build" / "kfp"
    pods = tmp_path / "pods"
    api_key = {"ZENML_STORE_API_KEY": (CREDENTIALS_SECRET, "ZENML_STORE_API_KEY")}
    for name in ("training", "batch_inference", "monitoring"):
        spec, platform = read_spec(folder / f"{name}.yaml")
        from_secret = {
            e: credentials_from_secret(c) for e, c in platform_executors(platform).items()
        }
        assert from_secret == dict.fromkeys(spec["deploymentSpec"]["executors"], api_key)

    def execute(name: str) -> dict[str, Any]:
        tasks = execute_spec(folder / f"{name}.yaml", pods, image, cluster.secret, POD_IDENTITY)
        outcome = completed_run(project, cluster, tasks)
        assert (outcome["status"], outcome["steps"]) == (
            "completed",
            dict.fromkeys(tasks, "completed"),
        )
        return dict(outcome)

    trained = execute("training")
    verdict = zenml_on(  # what `kfp run` reads once training finished, before going on
        project,
        cluster,
        "import json; from dataclasses import asdict; from zenml.client import Client; "
        "from {{ cookiecutter.package_name }}.orchestration.local_runs import training_outcome; "
        f"print(json.dumps(asdict(training_outcome(Client().get_pipeline_run('{trained['name']}')))))",
    )
    assert (verdict["passed"], verdict["staged"], verdict["champion"]) == (True, True, None)
    on_the_cluster = {  # the user's machine, logged in to the cluster's MLflow
        **cluster.env,
        f"{ENV_PREFIX}TRACKING__TRACKING_URI": cluster.mlflow["MLFLOW_TRACKING_URI"],
    }
    approval = ["--approver", "platform-lead", "--reason", "first cluster model reviewed"]
    approved = run(
        project,
        CLI,
        "promote",
        "--version",
        "staging",
        *approval,
        env=on_the_cluster,
        inherit_settings=False,
    )
    assert f"version {verdict['version']} is the champion (was none)" in ok(approved)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", cluster.mlflow["MLFLOW_TRACKING_USERNAME"])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", cluster.mlflow["MLFLOW_TRACKING_PASSWORD"])
    from mlflow import MlflowClient

    registry = MlflowClient(tracking_uri=cluster.mlflow["MLFLOW_TRACKING_URI"])
    champion = registry.get_model_version_by_alias("{{ cookiecutter.package_name }}", "champion")
    assert registry.get_run(str(champion.run_id)).data.metrics["roc_auc"] > 0.5
    assert verdict["version"] == champion.version
    assert champion.tags["feast_feature_service"] == "fraud_model_v1"
    assert json.loads(champion.tags["gate_thresholds"])  # the gate step reached MLflow too
    commit = ok(run(project, "git", "rev-parse", "HEAD", inherit_settings=False)).strip()
    assert (champion.tags["git_commit"], champion.tags["git_dirty"]) == (commit, "false")
    plots = registry.list_artifacts(str(champion.run_id), "plots")
    assert {Path(item.path).name for item in plots} >= {"roc_curve.png", "pr_curve.png"}

    scored = execute("batch_inference")
    fetched = ok(run(project, CLI, "kfp", "predictions", env=cluster.env, inherit_settings=False))
    assert f"predictions of run {scored['name']} written to " in fetched
    predictions = pd.read_parquet(project / fetched.strip().rsplit(" ", 1)[-1])
    newest = yaml.safe_load((project / "configs/kubeflow/batch_inference.yaml").read_text())
    assert len(predictions) == newest["parameters"]["newest"]
    assert set(predictions["model_version"]) == {champion.version}
    assert predictions["fraud_probability"].between(0, 1).all()

    execute("monitoring")
    judged = registry.get_model_version("{{ cookiecutter.package_name }}", champion.version)
    decision = json.loads(judged.tags["last_monitoring"])
    assert decision["model_version"] == champion.version and decision["source"] == "batch"
    assert decision["action"] in {"none", "retrain"}  # unchanged data; either way it is recorded
    assert 0 <= decision["drift_share"] <= 1


def test_stack_kubeflow_registers_the_recipe_idempotently(project: Path, cluster: Cluster) -> None:
    for _ in range(2):
        assert "registered ZenML stack kubeflow" in ok(
            run(project, CLI, "stack", "kubeflow", env=cluster.env, inherit_settings=False)
        )
    code = (
        "import json; from zenml.client import Client; from zenml.enums import "
        "StackComponentType as T; c = Client(); "
        "s = c.get_stack('kubeflow', allow_name_prefix_match=False); "
        "t = c.get_stack_component(T.EXPERIMENT_TRACKER, 'cluster_mlflow'); "
        "k = c.get_secret('{{ cookiecutter.package_name }}_mlflow_credentials'); "
        "print(json.dumps({'stacks': c.list_stacks(name='kubeflow').total, "
        "'components': {t.value: [x.flavor_name for x in cs] for t, cs in s.components.items()}, "
        "'tracker': t.configuration, 'tracker_secrets': [str(i) for i in t.secrets], "
        "'secret': [str(k.id), k.private, sorted(k.secret_values)]}))"
    )
    registered = zenml_on(project, cluster, code)
    assert registered["stacks"] == 1
    assert registered["components"] == {
        "orchestrator": ["{{ cookiecutter.package_name }}_kubeflow"],
        "artifact_store": ["s3"],
        "container_registry": ["default"],
        "image_builder": ["local"],
        "experiment_tracker": ["mlflow"],
    }
    secret_id, private, keys = registered["secret"]
    assert (private, keys) == (False, ["MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_USERNAME"])
    assert registered["tracker_secrets"] == [secret_id]
    tracker = registered["tracker"]
    name = "{{ cookiecutter.package_name }}_mlflow_credentials"
    assert tracker["tracking_password"] == "{" * 2 + f"{name}.MLFLOW_TRACKING_PASSWORD" + "}" * 2
    assert cluster.mlflow["MLFLOW_TRACKING_PASSWORD"] not in json.dumps(tracker)
    image = ok(run(project, CLI, "kfp", "image", env=cluster.env, inherit_settings=False))
    assert image.strip() == IMAGE
    cuda = ok(run(project, CLI, "kfp", "image", "--cuda", env=cluster.env, inherit_settings=False))
    assert cuda.strip() == f"{IMAGE}-cuda"


def last_error_line(project: Path, *command: str, env: dict[str, str]) -> str:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    result = subprocess.run(
        command, cwd=project, env={**inherited, **env}, capture_output=True, text=True
    )
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stderr.strip().splitlines()[-1]


def test_cluster_errors_end_with_one_line_saying_what_to_set(
    project: Path, cluster: Cluster, tmp_path: Path
) -> None:
    without_registry = {k: v for k, v in cluster.env.items() if k != "CONTAINER_REGISTRY_URI"}
    line = last_error_line(project, CLI, "stack", "kubeflow", env=without_registry)
    assert line.startswith("error: CONTAINER_REGISTRY_URI is not set")
    assert ".env" in line

    line = last_error_line(project, CLI, "kfp", "run", env={})
    assert line.startswith("error: KFP_HOST is not set")

    line = last_error_line(project, CLI, "kfp", "run", env=cluster.env)
    assert line.startswith(
        f"error: cannot reach the Kubeflow Pipelines API at {cluster.env['KFP_HOST']}"
    )
    assert "set KFP_HOST" in line

    login_required = {**cluster.env, "KFP_HOST": cluster.env["MLFLOW_TRACKING_URI"]}  # 401s
    line = last_error_line(project, CLI, "kfp", "run", env=login_required)
    assert line.startswith("error: ") and "refused the request (HTTP 401)" in line
    assert "set KFP_TOKEN" in line

    port = free_port()
    kfp_api = [sys.executable, "-u", "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with serving([*kfp_api, "--directory", str(tmp_path)], "Serving HTTP"):
        kfp_host = {**cluster.env, "KFP_HOST": f"http://127.0.0.1:{port}/pipeline"}
        line = last_error_line(project, CLI, "kfp", "run", env=kfp_host)
        assert "is not a Kubeflow Pipelines API health check" in line
        assert "(HTTP 404" in line and "set KFP_HOST" in line

        health = tmp_path / "pipeline" / "apis" / "v2beta1" / "healthz"
        health.parent.mkdir(parents=True)
        health.write_text('{"commit_sha": "unknown", "multi_user": false}')
        on_this_machine = {k: v for k, v in kfp_host.items() if not k.startswith("ZENML_STORE")}
        local_store = copy_project(tmp_path / "never-logged-in")  # not logged in to a server
        line = last_error_line(local_store, CLI, "kfp", "run", env=on_this_machine)
    assert line.startswith("error: pods cannot reach this machine's ZenML store")
    assert "zenml login" in line
