from __future__ import annotations

import os
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.package_name }}.features.store import REDIS_VARIABLE
from tests.helpers import (
    CLI,
    TRAINED_DATA,
    clean_environment,
    copy_project,
    edit_params,
    free_port,
    ok,
    online_store_type,
    redis_server,
    run,
)

LAYERS = ("unit", "integration", "e2e")
# `make test` gives each group of modules to one worker; other modules go to whichever worker is
# free. The modules that use `trained_project` are split in two groups, each building the trained
# project once on its worker (cheaper than one worker running them all while the other waits);
# the Kubeflow module joins the shorter group, so that both take about as long.
TRAINED_PROJECT_MODULES = frozenset(
    {
        "tests/e2e/test_training_pipeline.py",
        "tests/integration/test_serving.py",
        "tests/integration/test_reliability.py",
        "tests/e2e/test_monitoring.py",
    }
)
WORKER_GROUPS = {
    "tests/e2e/test_training_pipeline.py": "registry",
    "tests/integration/test_kubeflow.py": "registry",
    "tests/integration/test_serving.py": "serving",
    "tests/e2e/test_monitoring.py": "serving",
}
# On Redis the trained project has a database of its own, apart from the Feast module's.
TRAINED_PROJECT_REDIS_DB = 1


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch copy of the project, with no settings in the environment."""
    copy_project(tmp_path)
    clean_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def online_store_environment() -> Iterator[dict[str, str]]:
    """Settings that point Feast at a live online store: a real redis-server when configured.

    The server listens on a free loopback port and is stopped afterwards. Without
    redis-server the tests skip, except in CI (CI=true), where they fail.
    """
    if online_store_type() != "redis":
        yield {}
        return
    server = shutil.which("redis-server")
    if server is None:
        message = "redis-server not found: apt-get install redis-server"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    with redis_server(port):
        yield {REDIS_VARIABLE: f"127.0.0.1:{port}"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its layer: its folder's, unless the test is marked with another."""
    for item in items:
        module = item.nodeid.split("::")[0]
        shares_project = "trained_project" in getattr(item, "fixturenames", ())
        if shares_project and module not in TRAINED_PROJECT_MODULES:
            raise pytest.UsageError(f"add {module} to TRAINED_PROJECT_MODULES in {__file__}")
        layer = next((name for name in LAYERS if item.get_closest_marker(name)), None)
        if layer is None:
            layer = item.path.parent.name
            if layer not in LAYERS:
                folders = ", ".join(f"tests/{name}/" for name in LAYERS)
                raise pytest.UsageError(f"{item.nodeid}: move it into one of {folders}")
            item.add_marker(layer)
        item.user_properties.append(("layer", layer))  # travels with the report to the summary


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Hand out whole modules, and each group of `WORKER_GROUPS` to one worker.

    The trained project is then built once per group, and module fixtures once per module.
    """
    from xdist.scheduler import LoadScopeScheduling

    class TrainedProjectScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::")[0]
            return WORKER_GROUPS.get(module, module)

    return TrainedProjectScheduling(config, log)


_seconds_by_layer: dict[str, float] = defaultdict(float)
_session_start = time.monotonic()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add each phase's time (setup, call, teardown) to its test's layer."""
    _seconds_by_layer[dict(report.user_properties).get("layer", "other")] += report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line with the time of each layer and the wall time: where `make test` spends it."""
    if _seconds_by_layer:
        layers = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in _seconds_by_layer.items())
        wall = time.monotonic() - _session_start
        summary = f"time by layer: {layers} (summed over workers); wall {wall:.1f} s"
        terminalreporter.write_line(summary)


@pytest.fixture(scope="session")
def trained_project(
    tmp_path_factory: pytest.TempPathFactory, online_store_environment: dict[str, str]
) -> Iterator[Path]:
    """Built once per worker: committed data, Feast features, champion version 1 (approved).

    The settings of the online store stay in the environment for the whole session, as they
    would in a user's shell. A module that changes the project takes `restored_afterwards`.
    """
    root = copy_project(tmp_path_factory.mktemp("trained") / "project")
    edit_params(root, "data", **TRAINED_DATA)
    with pytest.MonkeyPatch.context() as patch:
        clean_environment(patch)
        for name, value in online_store_environment.items():
            patch.setenv(name, f"{value},db={TRAINED_PROJECT_REDIS_DB}")
        ok(run(root, "git", "init", "-q", "-b", "main"))
        ok(run(root, sys.executable, "-m", "dvc", "init", "--quiet"))
        ok(run(root, sys.executable, "-m", "dvc", "repro", "--quiet"))
        ok(run(root, "git", "add", "--all"))
        identity = ["-c", "user.name=t", "-c", "user.email=t@e.io"]
        ok(run(root, "git", *identity, "commit", "-qm", "data"))
        ok(run(root, CLI, "features", "apply"))
        assert "gate passed: version 1 is staged for approval" in ok(run(root, CLI, "train"))
        approval = ["--approver", "reviewer", "--reason", "evidence reviewed"]
        ok(run(root, CLI, "promote", "--version", "staging", *approval))
        yield root
