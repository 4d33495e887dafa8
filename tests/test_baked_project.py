"""A default bake passes its own checks: setup, lint, types and its test suite."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.bakery import bake, last_line, make, passed_modules

# The baked project's modules whose tests are marked `online_store`.
STORE_MODULES = {
    "tests/integration/test_feature_store.py",
    "tests/integration/test_local_redis.py",
    "tests/integration/test_serving.py",
}


@pytest.fixture(scope="module")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("default"))


@pytest.mark.slow
def test_default_bake_passes_its_own_lint_and_tests(default_project: Path) -> None:
    result = make(default_project, "lint", "test")
    summary = last_line(result)
    assert "Success: no issues found" in result.stdout, "mypy must have run"
    assert " passed" in summary
    assert "failed" not in summary
    assert "error" not in summary
    if os.environ.get("CI") == "true":
        assert "skipped" not in summary, "under CI=true every test must run, none may skip"
    for layer in ("unit", "integration", "e2e"):
        assert re.search(rf"\b{layer} \d+\.\d s", result.stdout), f"no time for {layer}"


@pytest.mark.slow
def test_default_bake_runs_each_compiled_pipeline_as_its_pods_would(default_project: Path) -> None:
    """`make test-pods`, kept out of `make test` for time, with a CI job of its own."""
    summary = last_line(make(default_project, "test-pods"))
    assert re.search(r"\b1 passed\b", summary), summary
    assert "failed" not in summary and "skipped" not in summary


@pytest.mark.slow
def test_redis_bake_runs_its_online_store_tests_against_a_real_redis_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Only the tests whose behaviour depends on the online store: the rest is the default's."""
    project = bake(tmp_path_factory.mktemp("redis"), online_store="redis")
    passed = passed_modules(project, "online_store")
    assert passed == STORE_MODULES, "exactly the online store's tests run"


@pytest.mark.slow
def test_console_script_is_named_after_the_slug(default_project: Path) -> None:
    result = make(default_project, "info")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fraud-detection 0.1.0" in result.stdout
    assert "storage:" in result.stdout


def test_make_help_lists_every_target_by_group(default_project: Path) -> None:
    result = subprocess.run(["make", "help"], cwd=default_project, capture_output=True, text=True)
    assert result.returncode == 0
    for group in ("Setup", "Test", "Housekeeping"):
        assert group in result.stdout
    makefile = (default_project / "Makefile").read_text()
    targets = [
        line.split(":")[0]
        for line in makefile.splitlines()
        if line and line[0].isalpha() and ":" in line and "## " in line
    ]
    assert len(targets) >= 8
    for target in targets:
        assert f" {target} " in result.stdout, f"make help does not list {target}"


def test_pre_commit_config_is_valid(default_project: Path) -> None:
    pre_commit = Path(sys.executable).parent / "pre-commit"
    result = subprocess.run(
        [pre_commit, "validate-config", ".pre-commit-config.yaml"],
        cwd=default_project,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_github_workflow_runs_lint_and_test_on_the_chosen_python(default_project: Path) -> None:
    workflow = yaml.safe_load((default_project / ".github/workflows/ci.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    commands = [step.get("run") for step in steps if "run" in step]
    assert commands == ["make lint", "make test"]
    pods = [step.get("run") for step in workflow["jobs"]["pods"]["steps"] if "run" in step]
    assert pods == ['sudo install -d -o "$USER" /app', "make test-pods"]
    setup_python = next(step for step in steps if step.get("uses", "").startswith("actions/setup"))
    assert setup_python["with"]["python-version"] == "3.11"
