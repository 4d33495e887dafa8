"""Print serving latency and throughput: BentoML against a plain FastAPI app, and the floor.

Needs a champion and its BentoML model (`make train bento`) and a filled online store. Both HTTP
servers run on loopback with the same number of workers (serving.workers) and score with the same
`Scorer` (Feast online lookup + request-time features + XGBoost); the in-process floor calls it
without HTTP. Load comes from `wrk` when it is installed (apt-get install wrk), otherwise from a
Python client, which itself takes CPU on a small machine: the output says which one ran.

    .venv/bin/python benchmarks/serving_benchmark.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# FastAPI resolves the route's annotations in this module's namespace.
from {{ cookiecutter.package_name }}.serving.schemas import Prediction, Transaction

BIN = Path(sys.executable).parent
# Every measurement posts the request that `make predict-example` sends.
EXAMPLE_FILE = Path(__file__).resolve().parents[1] / "examples" / "predict_request.json"
REQUEST = json.loads(EXAMPLE_FILE.read_text())
CONCURRENCY = (1, 32)


@dataclass(frozen=True)
class Figures:
    """One measurement."""

    p50_ms: float
    p99_ms: float
    requests_per_s: float
    errors: int


def baseline_app() -> Any:
    """The FastAPI + uvicorn baseline: the same Scorer behind one async route, nothing else."""
    from fastapi import FastAPI

    app = FastAPI()
    scorer = _scorer()

    @app.post("/predict")
    async def predict(transaction: Transaction) -> Prediction:
        return scorer.score([transaction]).predictions[0]

    return app


def _scorer() -> Any:
    from {{ cookiecutter.package_name }}.serving.bento import MODEL_FILE, use_project_bentoml
    from {{ cookiecutter.package_name }}.settings import load_settings

    settings = load_settings()
    use_project_bentoml(settings)
    import bentoml

    from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures
    from {{ cookiecutter.package_name }}.model.train import TrainedModel
    from {{ cookiecutter.package_name }}.serving.scorer import Scorer, ServedModel, serving_device

    stored = bentoml.models.get(f"{settings.serving.model_name}:latest")
    model = TrainedModel.from_bytes(Path(stored.path_of(MODEL_FILE)).read_bytes())
    served = ServedModel(model, stored.info.labels["mlflow_version"], "benchmark")
    device = serving_device(settings.serving.device)
    return Scorer(settings, served, CustomerFeatures.of(settings), device)


def free_port() -> int:
    """A port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(port: int, path: str, deadline_s: float = 180) -> None:
    """Poll `path` until it answers 200."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # a server coming up; this script measures, it does not test
    raise RuntimeError(f"the server on port {port} never answered {path}")


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A server in its own session, so that stopping it stops its workers too."""
    return subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started by `start`."""
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)


def load_with_wrk(port: int, concurrency: int, seconds: int) -> Figures:
    """POST the request for `seconds` over `concurrency` connections with wrk."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(json.dumps(REQUEST))}\n"
        )
    command = ["wrk", "--latency", "-t", str(min(concurrency, 2)), "-c", str(concurrency)]
    command += ["-d", f"{seconds}s", "-s", script.name, f"http://127.0.0.1:{port}/predict"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    Path(script.name).unlink()

    def latency(percent: str) -> float:
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)", output, re.MULTILINE)
        assert match, output
        return float(match[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match[2]]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    errors = int(non_2xx[1]) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors[1]))
    assert rate, output
    return Figures(latency("50"), latency("99"), float(rate[1]), errors)


def load_with_python(port: int, concurrency: int, seconds: int) -> Figures:
    """The same with one thread and keep-alive connection per concurrent client."""
    import http.client

    body = json.dumps(REQUEST).encode()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        while time.monotonic() < end:
            began = time.perf_counter()
            connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - began) * 1000)
            if response.status != 200:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    cuts = statistics.quantiles(latencies, n=100)
    return Figures(cuts[49], cuts[98], len(latencies) / elapsed, errors[0])


def in_process_floor(seconds: int) -> Figures:
    """Feast lookup + features + predict in this process: what no server can beat."""
    scorer = _scorer()
    transaction = Transaction.model_validate(REQUEST)
    latencies = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.perf_counter()
        scorer.score([transaction])
        latencies.append((time.perf_counter() - began) * 1000)
    cuts = statistics.quantiles(latencies, n=100)
    return Figures(cuts[49], cuts[98], len(latencies) / seconds, 0)


def main() -> None:
    """Measure the floor, then each server at each concurrency, and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per measurement")
    arguments = parser.parse_args()
    from {{ cookiecutter.package_name }}.settings import load_settings

    settings = load_settings()
    workers = settings.serving.workers
    load = load_with_wrk if shutil.which("wrk") else load_with_python
    client = "wrk" if shutil.which("wrk") else "python threads (wrk not installed)"
    print(f"client: {client}; workers per server: {workers}; {arguments.seconds} s each")
    floor = in_process_floor(arguments.seconds)
    servers = {
        "bentoml": ([str(BIN / "{{ cookiecutter.project_slug }}"), "serve", "--port", "{port}"], "/readyz"),
        "fastapi": (
            [
                str(BIN / "uvicorn"),
                "--factory",
                "serving_benchmark:baseline_app",
                "--app-dir",
                str(Path(__file__).parent),
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
                "--workers",
                str(workers),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            "/docs",
        ),
    }
    results: dict[tuple[str, int], Figures] = {}
    for name, (template, ready_path) in servers.items():
        port = free_port()
        process = start([part.format(port=port) for part in template], {})
        try:
            wait_ready(port, ready_path)
            load(port, 8, 2)  # warm-up: imports, connections, caches
            for concurrency in CONCURRENCY:
                results[name, concurrency] = load(port, concurrency, arguments.seconds)
        finally:
            stop(process)
    print(f"{'path':<22}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'errors':>8}")
    print(
        f"{'in-process floor':<22}{floor.p50_ms:>9.2f}{floor.p99_ms:>9.2f}"
        f"{floor.requests_per_s:>9.0f}{0:>8}"
    )
    for (name, concurrency), figures in results.items():
        print(
            f"{f'{name} c={concurrency}':<22}{figures.p50_ms:>9.2f}{figures.p99_ms:>9.2f}"
            f"{figures.requests_per_s:>9.0f}{figures.errors:>8}"
        )
    p50_ratio = results["bentoml", 1].p50_ms / results["fastapi", 1].p50_ms
    rps_ratio = results["bentoml", 32].requests_per_s / results["fastapi", 32].requests_per_s
    print(f"bentoml/fastapi p50 at c=1: {p50_ratio:.2f} (target <= 1.5)")
    print(f"bentoml/fastapi req/s at c=32: {rps_ratio:.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()
