"""A Redis for `make demo`: the configured one when it answers, else a redis-server on loopback.

A newcomer without a Redis service still gets to a served prediction, and whoever has one keeps
using it. The server started here keeps nothing on disk (a restart is an empty store, as after a
node loss: `make features` fills it again) and `make demo` stops it at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from {{ cookiecutter.package_name }}.settings import Workspace

LOOPBACK = ("localhost", "127.0.0.1", "::1")
FOLDER = Path("build") / "redis"
WAIT_S = 10.0


class LocalRedisError(RuntimeError):
    """No Redis answers and none can be started here."""


def redis_address(connection_string: str) -> tuple[str, int]:
    """Host and port of a Feast Redis connection string (`host:port[,option=value...]`)."""
    host, _, port = connection_string.split(",")[0].strip().rpartition(":")
    return host or "localhost", int(port or 6379)


def answers(host: str, port: int) -> bool:
    """Whether a Redis server answers there (one asking for a password answers too)."""
    import redis

    client = redis.Redis(host=host, port=port, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return False
    except redis.exceptions.RedisError:
        return True
    finally:
        client.close()
    return True


def start(settings: Workspace) -> str:
    """Make sure the configured Redis answers, starting a local one if needed; say which."""
    host, port = redis_address(settings.feast.redis_connection_string)
    if answers(host, port):
        return f"using the Redis at {host}:{port}"
    if host not in LOOPBACK:
        raise LocalRedisError(
            f"the Redis at {host}:{port} (feast.redis_connection_string) does not answer"
        )
    server = shutil.which("redis-server")
    if server is None:
        raise LocalRedisError(
            f"no Redis answers at {host}:{port} and redis-server is not installed: install it "
            "(apt-get install redis-server, brew install redis), run one (docker run -p "
            f"{port}:6379 redis:7), or point feast.redis_connection_string at yours"
        )
    folder = settings.resolve(FOLDER)
    folder.mkdir(parents=True, exist_ok=True)
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    command += ["no", "--daemonize", "yes", "--pidfile", str(folder / "redis.pid")]
    command += ["--dir", str(folder), "--logfile", str(folder / "redis.log")]
    subprocess.run(command, check=True)
    deadline = time.monotonic() + WAIT_S
    while not answers("127.0.0.1", port):
        if time.monotonic() > deadline:
            raise LocalRedisError(f"redis-server did not answer on 127.0.0.1:{port}: {folder}")
        time.sleep(0.1)
    return f"started redis-server on 127.0.0.1:{port} for the demo (stopped at its end)"


def stop(settings: Workspace) -> str | None:
    """Stop the redis-server `start` started, if any; say so."""
    pidfile = settings.resolve(FOLDER) / "redis.pid"
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pidfile.unlink(missing_ok=True)
        return None
    deadline = time.monotonic() + WAIT_S
    while pidfile.exists() and time.monotonic() < deadline:  # redis removes it as it exits
        time.sleep(0.1)
    pidfile.unlink(missing_ok=True)
    return f"stopped the demo's redis-server (pid {pid})"
