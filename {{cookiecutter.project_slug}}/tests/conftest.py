from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ENV_PREFIX = "{{ cookiecutter.package_name | upper }}_"
BIN = Path(sys.executable).parent
CLI = str(BIN / "{{ cookiecutter.project_slug }}")
LAYERS = ("unit", "integration", "e2e")
# A server that has not printed its ready line by then never will: fail with its output.
SERVER_START_TIMEOUT_S = 180
# The trained project every e2e, serving and monitoring test shares; the benchmarks cover 1M rows.
TRAINED_DATA = {"n_customers": 300, "n_transactions": 8000, "days": 30, "fraud_rate": 0.06}
# The modules whose tests use `trained_project`: `make test`'s workers keep them together.
TRAINED_PROJECT_MODULES = frozenset(
    {
        "tests/integration/test_serving.py",
        "tests/e2e/test_monitoring.py",
        "tests/e2e/test_training_pipeline.py",
    }
)
# On Redis the trained project has a database of its own, apart from the Feast module's.
TRAINED_PROJECT_REDIS_DB = 1
# Small data keeps the integration tests fast; the benchmark script covers 1M rows.
SMALL_DATA = {"DATA__N_CUSTOMERS": "150", "DATA__N_TRANSACTIONS": "3000", "DATA__DAYS": "20"}

PROJECT_FILES = (
    ".gitignore",
    ".bentoignore",
    "params.yaml",
    "requirements.lock",
    "dvc.yaml",
    "bentofile.yaml",
    "bentofile-gpu.yaml",
    "configs",
    "feature_repo",
    "src",
)


def copy_project(destination: Path) -> Path:
    """A scratch copy of the project's inputs: params, lock, DVC stages, configs, Feast, code."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, destination / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(source, destination / name)
    return destination


def clean_environment(patch: pytest.MonkeyPatch) -> None:
    """No settings from the developer's shell leak into a test."""
    for variable in os.environ:
        if variable.startswith(ENV_PREFIX):
            patch.delenv(variable)


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch copy of the project, with no settings in the environment."""
    copy_project(tmp_path)
    clean_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def online_store_type() -> str:
    config = yaml.safe_load((PROJECT_ROOT / "feature_repo" / "feature_store.yaml").read_text())
    return str(config["online_store"]["type"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """A real server started by a test: its process and every line it printed.

    All lines are kept: a bounded buffer could drop the ready line before the waiter wakes.
    """

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self.output_ended = False
        self.changed = threading.Condition()

    def drain(self) -> None:
        """Keep reading the output so a chatty server never blocks on a full pipe."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        with self.changed:
            self.output_ended = True
            self.changed.notify_all()

    def output(self) -> str:
        with self.changed:
            return "".join(self.lines)

    def wait_for(self, *texts: str, timeout_s: float = SERVER_START_TIMEOUT_S) -> str:
        """The first line printed so far or within `timeout_s` holding one of `texts`.

        A server that exits or stays silent fails the test with its last output.
        """

        def seen() -> str | None:
            return next((line for line in self.lines if any(t in line for t in texts)), None)

        with self.changed:
            self.changed.wait_for(lambda: seen() is not None or self.output_ended, timeout_s)
            line = seen()
        if line is None:
            state = f"exited with {self.process.poll()}" if self.output_ended else "still running"
            pytest.fail(
                f"{self.process.args[0]} printed none of {texts} within {timeout_s:.0f} s "
                f"({state}); its last output:\n{self.output()[-3000:]}"
            )
        return line


@contextmanager
def serving(
    command: list[str], *ready: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Start a real server, wait (bounded) until it prints one of `ready`, always stop it.

    It runs in a session of its own so that stopping it stops its workers too.
    """
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    server = Server(process)
    threading.Thread(target=server.drain, daemon=True).start()
    try:
        server.wait_for(*ready)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


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
    command = [
        server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    with serving(command, "Ready to accept connections"):
        yield {f"{ENV_PREFIX}FEAST__REDIS_CONNECTION_STRING": f"127.0.0.1:{port}"}


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
    """Hand out whole modules, and every module of the trained project to the same worker.

    The trained project is then built once per run, and module fixtures once per module.
    """
    from xdist.scheduler import LoadScopeScheduling

    class TrainedProjectScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::")[0]
            return "trained_project" if module in TRAINED_PROJECT_MODULES else module

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


def run(
    project: Path, *command: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command in a project as a user would, with the virtualenv first on PATH."""
    path = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        command,
        cwd=project,
        env={**os.environ, "PATH": path, **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def edit_params(project: Path, section: str, **values: object) -> None:
    """Change one section of a project's params.yaml, as a user would by hand."""
    params_file = project / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params[section].update(values)
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="session")
def trained_project(
    tmp_path_factory: pytest.TempPathFactory, online_store_environment: dict[str, str]
) -> Iterator[Path]:
    """Built once per session: committed data, Feast features, champion version 1, its Bento.

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
        assert "gate passed: version 1 is the champion" in ok(run(root, CLI, "train"))
        assert "built Bento {{ cookiecutter.package_name }}:" in ok(run(root, CLI, "bento"))
        yield root


@contextmanager
def restored_afterwards(project: Path) -> Iterator[Path]:
    """Let a module change the shared project, then put every file back as it was.

    The copy stays at the same path, so the absolute paths that MLflow and ZenML store still
    hold. Redis is not a file: its database is emptied and filled again from the restored files.
    """
    backup = project.with_name(f"{project.name}.backup")
    shutil.copytree(project, backup, symlinks=True)
    try:
        yield project
    finally:
        shutil.rmtree(project)
        backup.rename(project)
        if online_store_type() == "redis":
            import redis

            connection = os.environ[f"{ENV_PREFIX}FEAST__REDIS_CONNECTION_STRING"]
            host, port = connection.split(",")[0].split(":")
            redis.Redis(host=host, port=int(port), db=TRAINED_PROJECT_REDIS_DB).flushdb()
            ok(run(project, CLI, "features", "apply"))
