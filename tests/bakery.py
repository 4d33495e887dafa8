"""Bake the template into a temporary folder and describe what a bake must hold."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
CONTEXT = json.loads((TEMPLATE / "cookiecutter.json").read_text())
# The questions cookiecutter asks, in order.
QUESTIONS = [name for name in CONTEXT if not name.startswith("_")]
# The options that are menus: a list of values in cookiecutter.json, the default first.
CHOICES: dict[str, list[str]] = {
    name: values for name, values in CONTEXT.items() if isinstance(values, list) and name[0] != "_"
}
# What a clean run never prints: a traceback, a warning, an error at exit.
TROUBLE = re.compile(r"Traceback|Exception ignored|Warning:|RuntimeError")
IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
}


def pairwise(choices: dict[str, list[str]]) -> list[dict[str, str]]:
    """A small set of combinations in which every pair of option values appears at least once.

    Greedy all-pairs: repeatedly take the combination that covers the most pairs not yet seen.
    """
    names = list(choices)
    uncovered = {
        ((a, va), (b, vb))
        for a, b in itertools.combinations(names, 2)
        for va in choices[a]
        for vb in choices[b]
    }
    candidates = [
        dict(zip(names, values, strict=True)) for values in itertools.product(*choices.values())
    ]

    def new_pairs(combo: dict[str, str]) -> set:
        pairs = {((a, combo[a]), (b, combo[b])) for a, b in itertools.combinations(names, 2)}
        return pairs & uncovered

    chosen = []
    while uncovered:
        best = max(candidates, key=lambda combo: len(new_pairs(combo)))
        uncovered -= new_pairs(best)
        chosen.append(best)
    return chosen


def bake(output_dir: Path, **answers: str) -> Path:
    """Generate a project with the given answers (defaults elsewhere) and return its folder."""
    return Path(
        cookiecutter(
            str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output_dir)
        )
    )


def run_cookiecutter_cli(output_dir: Path, *answers: str) -> subprocess.CompletedProcess[str]:
    """Run the cookiecutter command line as a user would, with no standard input."""
    command = [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE), *answers]
    return subprocess.run(
        [*command, "--output-dir", str(output_dir)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def user_environment() -> dict[str, str]:
    """This process's environment without the project's settings or an outer make's variables."""
    inherited = ("FRAUD_DETECTION_", "MAKE", "MFLAGS", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith(inherited)}


def make(project: Path, *targets: str, own_venv: bool = False) -> subprocess.CompletedProcess[str]:
    """Run a baked project's make as a user would: no settings or outer make inherited.

    It uses the template's own virtualenv, which holds exactly the lock file's packages, so the
    project's `make setup` only adds the project itself instead of a second full install. With
    `own_venv`, the bake's `make setup` creates its .venv for the bake's Python, as a user's does.
    """
    venv = [] if own_venv else [f"VENV={sys.prefix}"]
    return subprocess.run(
        ["make", "--no-print-directory", *targets, *venv],
        cwd=project,
        env=user_environment(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    """pytest's final summary line, after the run succeeded and said where its time went."""
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "time by layer: " in result.stdout, "make test must print each layer's wall time"
    return result.stdout.strip().splitlines()[-1]


def passed_modules(project: Path, marker: str) -> set[str]:
    """Run a bake's tests of one marker: the test modules that passed, none skipped or failed."""
    result = make(project, "test", f"TEST_ARGS=-m {marker} -rA")
    summary = last_line(result)
    assert " passed" in summary, summary
    assert "skipped" not in summary and "failed" not in summary, summary
    return set(re.findall(r"^PASSED (tests/\S+?\.py)::", result.stdout, re.MULTILINE))


def run_cli(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run a baked project's command line from the template's virtualenv, as `make` would.

    The virtualenv's editable install points at the bake whose `make setup` ran last.
    """
    return subprocess.run(
        [str(Path(sys.prefix) / "bin" / project.name), *arguments],
        cwd=project,
        env=user_environment(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def baked_files(project: Path) -> set[str]:
    """Every file of a baked project, relative; git's database and DVC's scratch folder aside."""
    files = set()
    for path in project.rglob("*"):
        parts = path.relative_to(project).parts
        if path.is_file() and parts[0] != ".git" and parts[:2] != (".dvc", "tmp"):
            files.add("/".join(parts))
    return files


def expected_files(answers: dict[str, str]) -> set[str]:
    """The exact file set a bake must contain for the given option values."""
    package = "fraud_detection"
    files = {
        ".dvc/.gitignore",
        ".dvc/config",
        ".dvcignore",
        ".bentoignore",
        ".env.example",
        ".gitignore",
        ".pre-commit-config.yaml",
        "LICENSE",
        "Makefile",
        "README.md",
        "benchmarks/features_benchmark.py",
        "benchmarks/serving_benchmark.py",
        "benchmarks/training_benchmark.py",
        "bentofile-gpu.yaml",
        "bentofile.yaml",
        "checkpoints/__init__.py",
        "checkpoints/baseline.py",
        "checkpoints/capstone.py",
        "checkpoints/conftest.py",
        "checkpoints/homework.py",
        "checkpoints/test_week_1.py",
        "checkpoints/test_week_2.py",
        "checkpoints/test_week_3.py",
        "checkpoints/test_week_4.py",
        "checkpoints/test_week_5.py",
        "checkpoints/test_week_6.py",
        "checkpoints/test_week_7.py",
        "checkpoints/test_week_8.py",
        "configs/kubeflow/batch_inference.yaml",
        "configs/kubeflow/gpu.yaml",
        "configs/kubeflow/monitoring.yaml",
        "configs/kubeflow/stack.yaml",
        "configs/kubeflow/training.yaml",
        "data/source/README.md",
        "deploy/Dockerfile",
        "deploy/k8s/base/deployment.yaml",
        "deploy/k8s/base/hpa.yaml",
        "deploy/k8s/base/kustomization.yaml",
        "deploy/k8s/base/service.yaml",
        "deploy/k8s/components/alerts/kustomization.yaml",
        "deploy/k8s/components/alerts/prometheusrule.yaml",
        "deploy/k8s/overlays/gpu/gpu.yaml",
        "deploy/k8s/overlays/gpu/kustomization.yaml",
        "deploy/k8s/overlays/lab/kustomization.yaml",
        "docs/incidents/TEMPLATE.md",
        "docs/kubeflow.md",
        "docs/monitoring.md",
        "docs/own-data.md",
        "docs/scale.md",
        "dvc.yaml",
        "examples/predict_request.json",
        "feature_repo/.feastignore",
        "feature_repo/definitions.py",
        "feature_repo/feature_store.yaml",
        "params.yaml",
        "pyproject.toml",
        "requirements.lock",
        "requirements-gpu.lock",
        "scripts/stage.sh",
        f"src/{package}/__init__.py",
        f"src/{package}/cli/__init__.py",
        f"src/{package}/cli/cluster.py",
        f"src/{package}/cli/context.py",
        f"src/{package}/cli/data.py",
        f"src/{package}/cli/govern.py",
        f"src/{package}/cli/project.py",
        f"src/{package}/cli/serve.py",
        f"src/{package}/cli/train.py",
        f"src/{package}/data/__init__.py",
        f"src/{package}/data/contract.py",
        f"src/{package}/data/files.py",
        f"src/{package}/data/generate.py",
        f"src/{package}/data/importer.py",
        f"src/{package}/data/sources.py",
        f"src/{package}/data/versioning.py",
        f"src/{package}/features/__init__.py",
        f"src/{package}/features/build.py",
        f"src/{package}/features/duckdb_sql.py",
        f"src/{package}/features/request_time.py",
        f"src/{package}/features/retrieval.py",
        f"src/{package}/features/store.py",
        f"src/{package}/governance/__init__.py",
        f"src/{package}/governance/audit.py",
        f"src/{package}/governance/environment.py",
        f"src/{package}/governance/evidence.py",
        f"src/{package}/governance/lineage.py",
        f"src/{package}/governance/promotion.py",
        f"src/{package}/model/__init__.py",
        f"src/{package}/model/evaluate.py",
        f"src/{package}/model/explain.py",
        f"src/{package}/model/fairness.py",
        f"src/{package}/model/gate.py",
        f"src/{package}/model/plots.py",
        f"src/{package}/model/registry.py",
        f"src/{package}/model/requirements.py",
        f"src/{package}/model/tags.py",
        f"src/{package}/model/train.py",
        f"src/{package}/monitoring/__init__.py",
        f"src/{package}/monitoring/drift.py",
        f"src/{package}/monitoring/quality.py",
        f"src/{package}/monitoring/reference.py",
        f"src/{package}/monitoring/reports.py",
        f"src/{package}/monitoring/trigger.py",
        f"src/{package}/orchestration/__init__.py",
        f"src/{package}/orchestration/cluster_stack.py",
        f"src/{package}/orchestration/dashboards.py",
        f"src/{package}/orchestration/kubeflow_orchestrator.py",
        f"src/{package}/orchestration/kubeflow_runs.py",
        f"src/{package}/orchestration/local_runs.py",
        f"src/{package}/orchestration/local_stack.py",
        f"src/{package}/pipelines/__init__.py",
        f"src/{package}/pipelines/batch_inference.py",
        f"src/{package}/pipelines/monitoring.py",
        f"src/{package}/pipelines/training.py",
        f"src/{package}/py.typed",
        f"src/{package}/settings.py",
        f"src/{package}/serving/__init__.py",
        f"src/{package}/serving/api.py",
        f"src/{package}/serving/batching.py",
        f"src/{package}/serving/bento.py",
        f"src/{package}/serving/client.py",
        f"src/{package}/serving/compare.py",
        f"src/{package}/serving/health.py",
        f"src/{package}/serving/openapi.py",
        f"src/{package}/serving/prediction_log.py",
        f"src/{package}/serving/readiness.py",
        f"src/{package}/serving/schemas.py",
        f"src/{package}/serving/scorer.py",
        f"src/{package}/serving/service.py",
        f"src/{package}/serving/tcp.py",
        f"src/{package}/steps/__init__.py",
        f"src/{package}/steps/artifact_sources.py",
        f"src/{package}/steps/inference.py",
        f"src/{package}/steps/monitoring.py",
        f"src/{package}/steps/training.py",
        "tests/__init__.py",
        "tests/conftest.py",
        "tests/e2e/__init__.py",
        "tests/e2e/test_monitoring.py",
        "tests/e2e/test_own_data.py",
        "tests/e2e/test_training_pipeline.py",
        "tests/feature_reference.py",
        "tests/helpers.py",
        "tests/integration/__init__.py",
        "tests/integration/test_data_pipeline.py",
        "tests/integration/test_feature_store.py",
        "tests/integration/test_kubeflow.py",
        "tests/integration/test_reliability.py",
        "tests/integration/test_serving.py",
        "tests/pods.py",
        "tests/unit/__init__.py",
        "tests/unit/test_cli.py",
        "tests/unit/test_cli_logic.py",
        "tests/unit/test_contract.py",
        "tests/unit/test_deploy.py",
        "tests/unit/test_drift.py",
        "tests/unit/test_artifact_sources.py",
        "tests/unit/test_environment.py",
        "tests/unit/test_feast_import.py",
        "tests/unit/test_feature_build.py",
        "tests/unit/test_generate.py",
        "tests/unit/test_importer.py",
        "tests/unit/test_k8s_manifests.py",
        "tests/unit/test_kubeflow_config.py",
        "tests/unit/test_layers.py",
        "tests/unit/test_model.py",
        "tests/unit/test_quality.py",
        "tests/unit/test_prediction_log.py",
        "tests/unit/test_readiness.py",
        "tests/unit/test_serving_api.py",
        "tests/unit/test_settings.py",
    }
    ci_files = {"github": {".github/workflows/ci.yml"}, "gitlab": {".gitlab-ci.yml"}, "none": set()}
    store_files = {
        "sqlite": set(),
        "redis": {
            f"src/{package}/features/local_redis.py",
            "tests/integration/test_local_redis.py",
        },
    }
    engine_files = {
        "duckdb": {f"src/{package}/features/offline_store.py"},
        "spark": {
            "requirements-spark.lock",
            f"src/{package}/features/spark_engine.py",
            "tests/integration/test_spark_engine.py",
        },
    }
    return (
        files
        | ci_files[answers["ci"]]
        | store_files[answers["online_store"]]
        | engine_files[answers["offline_store"]]
    )
