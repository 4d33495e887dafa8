"""What the tests share besides fixtures: project copies, commands, servers, the example request.

conftest.py holds only pytest's hooks and fixtures; test modules import these names from here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from {{ cookiecutter.package_name }}.features.store import REDIS_VARIABLE
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CLI = str(BIN / "{{ cookiecutter.project_slug }}")
EXAMPLE_REQUEST_FILE = PROJECT_ROOT / "examples" / "predict_request.json"
# A server that has not printed its ready line by then never will: fail with its output.
SERVER_START_TIMEOUT_S = 180
# The trained project every e2e, serving and monitoring test shares; the benchmarks cover 1M rows.
TRAINED_DATA = {"n_customers": 300, "n_transactions": 8000, "days": 30, "fraud_rate": 0.06}
# Small data keeps the integration tests fast; the benchmark script covers 1M rows.
SMALL_DATA = {"DATA__N_CUSTOMERS": "150", "DATA__N_TRANSACTIONS": "3000", "DATA__DAYS": "20"}

PROJECT_FILES = (
    ".gitignore",
    ".bentoignore",
    "params.yaml",
    "requirements.lock",
    "requirements-gpu.lock",
{%- if cookiecutter.offline_store == "spark" %}
    "requirements-spark.lock",
{%- endif %}
    "dvc.yaml",
    "bentofile.yaml",
    "bentofile-gpu.yaml",
    "configs",
    "data/source",
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


def copy_with_own_online_store(
    project: Path, destination: Path, env: dict[str, str] | None = None
) -> Path:
    """A copy of a trained project with a Feast registry and online store of its own.

    Feast's registry records the online tables by absolute path: `feast apply` in a plain copy
    would tear down the original's tables. The copy starts without them and fills its own.
    """
    ignored = shutil.ignore_patterns(".git", "registry.db", "online_store.db")
    shutil.copytree(project, destination, ignore=ignored)
    ok(run(destination, CLI, "features", "apply", env=env))
    return destination


def clean_environment(patch: pytest.MonkeyPatch) -> None:
    """No settings from the developer's shell leak into a test."""
    for variable in os.environ:
        if variable.startswith(ENV_PREFIX):
            patch.delenv(variable)


def example_request() -> dict[str, Any]:
    """The request body of examples/predict_request.json, which `make predict-example` sends."""
    return dict(json.loads(EXAMPLE_REQUEST_FILE.read_text()))


def online_store_type() -> str:
    config = yaml.safe_load((PROJECT_ROOT / "feature_repo" / "feature_store.yaml").read_text())
    return str(config["online_store"]["type"])


def flush_redis(connection_string: str) -> None:
    """Empty the Redis database that a Feast connection string (`host:port[,db=N,...]`) names."""
    import redis

    address, *options = connection_string.split(",")
    host, port = address.split(":")
    database = dict(option.split("=", 1) for option in options).get("db", "0")
    redis.Redis(host=host, port=int(port), db=int(database)).flushdb()


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


def redis_server(port: int) -> AbstractContextManager[Server]:
    """A real redis-server on loopback without persistence: restarted, it starts empty."""
    server = shutil.which("redis-server") or "redis-server"
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
    return serving(command, "Ready to accept connections")


def run(
    project: Path,
    *command: str,
    env: dict[str, str] | None = None,
    inherit_settings: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command in a project as a user would, with the virtualenv first on PATH.

    With `inherit_settings=False` the project's settings variables of this process are left
    out, so that only `env` configures the project (as on a machine with a clean shell).
    """
    inherited = {
        name: value
        for name, value in os.environ.items()
        if inherit_settings or not name.startswith(ENV_PREFIX)
    }
    path = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        command,
        cwd=project,
        env={**inherited, "PATH": path, **(env or {})},
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
            flush_redis(os.environ[REDIS_VARIABLE])
            ok(run(project, CLI, "features", "apply"))


def fuzz_api(base_url: str, examples: int, headers: dict[str, str] | None = None) -> Counter[int]:
    """Requests generated from the served OpenAPI document, valid and invalid, to every operation.

    Each answer must be no 5xx, a documented status, of the documented content type and body
    schema (schemathesis checks). Returns how many answers each status got, so that a caller can
    check the generated requests reached both the refusals and the model.
    """
    import schemathesis
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation import GenerationMode
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_url(f"{base_url}/docs.json")
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def call(case: Any) -> None:
                response = case.call_and_validate(base_url=base_url, headers=headers, checks=checks)
                statuses[response.status_code] += 1

            try:
                call()
            except Unsatisfiable:
                # No invalid request exists for an operation without inputs (GET /readyz).
                assert mode is GenerationMode.NEGATIVE, operation.label
    return statuses
