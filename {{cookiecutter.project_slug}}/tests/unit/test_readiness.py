"""Waiting for a service that is starting: every way of "not yet" is retried until the deadline."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from {{ cookiecutter.package_name }}.serving.readiness import wait_until_ready


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers, as a worker still loading."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def test_a_service_that_holds_connections_is_retried_until_the_deadline(silent_port: int) -> None:
    url = f"http://127.0.0.1:{silent_port}/readyz"
    with pytest.raises(TimeoutError, match=r"did not answer 200 within 0\.6 s"):
        wait_until_ready(url, timeout_s=0.6, interval_s=0.05, probe_timeout_s=0.2)


def test_nothing_listening_is_retried_until_the_deadline() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TimeoutError, match="did not answer 200"):
        wait_until_ready(f"http://127.0.0.1:{port}/readyz", timeout_s=0.3, interval_s=0.05)
