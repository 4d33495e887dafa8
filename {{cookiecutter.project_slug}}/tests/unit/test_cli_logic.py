"""The work behind the `ui`, `serve` and `send` commands, reached without the command line."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.orchestration.dashboards import dashboard_command
from {{ cookiecutter.package_name }}.serving.bento import SERVICE, serve_command
from {{ cookiecutter.package_name }}.serving.client import request_prediction
from {{ cookiecutter.package_name }}.settings import load_settings
from tests.helpers import BIN, CLI, free_port


def test_mlflow_dashboard_reads_the_project_stores(project_copy: Path) -> None:
    command = dashboard_command(load_settings(), "mlflow", 5001)
    assert command[:2] == [str(BIN / "mlflow"), "ui"]
    options = dict(zip(command[2::2], command[3::2], strict=True))
    root = project_copy.resolve()
    assert options["--backend-store-uri"] == f"sqlite:///{root}/artifacts/mlflow/mlflow.db"
    assert options["--default-artifact-root"] == (root / "artifacts/mlflow/artifacts").as_uri()
    assert options["--host"] == "127.0.0.1"
    assert options["--port"] == "5001"


def test_zenml_dashboard_uses_the_project_configuration(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZENML_CONFIG_PATH", raising=False)
    monkeypatch.delenv("ZENML_REPOSITORY_PATH", raising=False)
    command = dashboard_command(load_settings(), "zenml", 8237)
    assert command == [str(BIN / "zenml"), "login", "--local", "--port", "8237", "--blocking"]
    assert os.environ["ZENML_CONFIG_PATH"] == str(project_copy.resolve() / ".zenml")


def test_an_unknown_dashboard_is_refused(project_copy: Path) -> None:
    with pytest.raises(ValueError, match="unknown dashboard 'grafana': use mlflow or zenml"):
        dashboard_command(load_settings(), "grafana", 5000)


def test_serve_command_serves_the_service_on_loopback_from_the_project_store(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BENTOML_HOME", raising=False)
    command = serve_command(load_settings(), 3005)
    assert command == [
        str(BIN / "bentoml"),
        "serve",
        SERVICE,
        "--host",
        "127.0.0.1",
        "--port",
        "3005",
    ]
    assert os.environ["BENTOML_HOME"] == str(project_copy.resolve() / "artifacts" / "bentoml")


class KeyedEcho(BaseHTTPRequestHandler):
    """/predict that wants the key `secret` and echoes the request it got."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("X-API-Key") != "secret":
            self.send_response(401)
            self.end_headers()
            self.wfile.write(b'{"error": "missing or wrong API key"}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"path": self.path, "echo": json.loads(body)}).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def service_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), KeyedEcho)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_send_posts_the_request_with_the_api_key(service_port: int) -> None:
    answer = request_prediction(b'{"amount": 3}', port=service_port, api_key=SecretStr("secret"))
    assert answer == {"path": "/predict", "echo": {"amount": 3}}


def test_send_with_explain_asks_for_the_reasons(service_port: int) -> None:
    answer = request_prediction(b"{}", port=service_port, api_key=SecretStr("secret"), explain=True)
    assert answer["path"] == "/predict?explain=true"


def test_an_http_error_becomes_one_line_with_the_status_and_body(service_port: int) -> None:
    with pytest.raises(RuntimeError) as raised:
        request_prediction(b"{}", port=service_port)
    assert str(raised.value) == 'the service answered 401: {"error": "missing or wrong API key"}'


def test_no_service_on_the_port_says_how_to_start_one() -> None:
    port = free_port()
    expected = rf"^no service on port {port} \(.+\): run `make serve`$"
    with pytest.raises(RuntimeError, match=expected):
        request_prediction(b"{}", port=port)


def test_bento_export_before_any_bento_says_to_build_one(project_copy: Path) -> None:
    # A subprocess: importing BentoML here would pin its store for the rest of this worker.
    environment = {key: value for key, value in os.environ.items() if key != "BENTOML_HOME"}
    result = subprocess.run(
        [CLI, "bento-export"], cwd=project_copy, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: no Bento yet: run `make bento` first"), result.stderr
