from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ENV_PREFIX = "{{ cookiecutter.package_name | upper }}_"
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


@contextmanager
def serving(
    command: list[str], *ready: str, cwd: Path | None = None
) -> Iterator[subprocess.Popen[str]]:
    """Start a real server, wait until it prints one of `ready`, and always stop it afterwards.

    Its output keeps being drained in the background so a chatty server never blocks on a full
    pipe; it runs in a session of its own so that stopping it stops its workers too.
    """
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if any(text in line for text in ready):
                break
        else:
            pytest.fail(f"{command[0]} exited with {process.wait()} before it was ready")
        threading.Thread(target=deque, args=(process.stdout, 0), daemon=True).start()
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
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
