"""`make demo` in a Redis bake: the configured Redis, or a redis-server started and stopped."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.features.local_redis import answers
from {{ cookiecutter.package_name }}.features.store import REDIS_VARIABLE
from tests.helpers import BIN, CLI, copy_project, free_port, ok, redis_server, run

pytestmark = pytest.mark.online_store


@pytest.fixture
def project(tmp_path: Path) -> Path:
    if shutil.which("redis-server") is None:
        message = "redis-server not found: apt-get install redis-server"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return copy_project(tmp_path / "project")


def test_without_a_redis_one_is_started_on_loopback_and_stopped(project: Path) -> None:
    port = free_port()
    env = {REDIS_VARIABLE: f"localhost:{port}"}
    started = ok(run(project, CLI, "features", "redis", "start", env=env))
    try:
        assert f"started redis-server on 127.0.0.1:{port}" in started
        assert answers("127.0.0.1", port)
        again = ok(run(project, CLI, "features", "redis", "start", env=env))
        assert f"using the Redis at localhost:{port}" in again
    finally:
        stopped = ok(run(project, CLI, "features", "redis", "stop", env=env))
    assert "stopped the demo's redis-server" in stopped
    assert not answers("127.0.0.1", port)
    assert ok(run(project, CLI, "features", "redis", "stop", env=env)) == ""


def test_a_running_redis_is_used_and_left_running(project: Path) -> None:
    port = free_port()
    env = {REDIS_VARIABLE: f"127.0.0.1:{port}"}
    with redis_server(port):
        assert "using the Redis" in ok(run(project, CLI, "features", "redis", "start", env=env))
        assert ok(run(project, CLI, "features", "redis", "stop", env=env)) == ""
        assert answers("127.0.0.1", port)


def test_without_redis_server_installed_one_line_says_how_to_get_one(project: Path) -> None:
    env = {REDIS_VARIABLE: f"localhost:{free_port()}", "PATH": str(BIN)}
    result = run(project, CLI, "features", "redis", "start", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "redis-server is not installed: install it (apt-get install redis-server" in lines[0]
