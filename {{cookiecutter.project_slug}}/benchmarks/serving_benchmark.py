"""Print serving latency and throughput: BentoML against a plain FastAPI app, and the floor.

Needs a champion and its BentoML model (`make train bento`) and a filled online store. Both HTTP
servers run on loopback with the same number of workers (serving.workers) and score with the same
`Scorer` (Feast online lookup + request-time features + XGBoost); the in-process floor calls it
without HTTP. BentoML is measured three ways: as configured, with `?explain=true` (reason codes),
and in shadow mode (a copy of the champion as the staging model scores every request too). Load
comes from `wrk` when it is installed (apt-get install wrk), otherwise from a Python client, which
itself takes CPU on a small machine: the output says which one ran.

The servers write their prediction log into a throwaway folder, and shadow mode reads a copy of
BentoML's store: the project's log and models are untouched.

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
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX

BIN = Path(sys.executable).parent
# Every measurement posts the request that `make predict-example` sends.
EXAMPLE_FILE = Path(__file__).resolve().parents[1] / "examples" / "predict_request.json"
REQUEST = json.loads(EXAMPLE_FILE.read_text())
SECONDS = [10]  # per measurement; main() sets it from --seconds


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


def load_with_wrk(port: int, concurrency: int, seconds: int, path: str = "/predict") -> Figures:
    """POST the request for `seconds` over `concurrency` connections with wrk."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(json.dumps(REQUEST))}\n"
        )
    command = ["wrk", "--latency", "-t", str(min(concurrency, 2)), "-c", str(concurrency)]
    command += ["-d", f"{seconds}s", "-s", script.name, f"http://127.0.0.1:{port}{path}"]
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


def load_with_python(port: int, concurrency: int, seconds: int, path: str = "/predict") -> Figures:
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
            connection.request("POST", path, body, {"Content-Type": "application/json"})
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


STAGING_COPY = """
import shutil, sys
import bentoml
from {{ cookiecutter.package_name }}.serving.bento import MODEL_FILE
champion = bentoml.models.get(sys.argv[1] + ":latest")
with bentoml.models.create(sys.argv[2], labels=champion.info.labels) as staging:
    shutil.copy(champion.path_of(MODEL_FILE), staging.path_of(MODEL_FILE))
"""


def shadow_store(scratch: Path) -> dict[str, str]:
    """A copy of BentoML's store with the champion's model also as the staging model.

    Shadow mode then scores every request twice, which is its cost whatever the second model.
    """
    from {{ cookiecutter.package_name }}.serving.bento import staging_model_name, use_project_bentoml
    from {{ cookiecutter.package_name }}.settings import load_settings

    settings = load_settings()
    home = scratch / "bentoml"
    shutil.copytree(use_project_bentoml(settings) / "models", home / "models")
    names = [settings.serving.model_name, staging_model_name(settings)]
    subprocess.run(
        [sys.executable, "-c", STAGING_COPY, *names],
        env={**os.environ, "BENTOML_HOME": str(home)},
        check=True,
    )
    return {"BENTOML_HOME": str(home), f"{ENV_PREFIX}SERVING__STAGING_MODE": "shadow"}


def measure(
    command: list[str], env: dict[str, str], ready: str, runs: list[tuple[str, int]]
) -> list[Figures]:
    """Start a server, warm it up, then load it once per (path, concurrency)."""
    load = load_with_wrk if shutil.which("wrk") else load_with_python
    port = free_port()
    process = start([part.format(port=port) for part in command], env)
    try:
        wait_ready(port, ready)
        load(port, 8, 2)  # warm-up: imports, connections, caches
        return [load(port, concurrency, SECONDS[0], path) for path, concurrency in runs]
    finally:
        stop(process)


def main() -> None:
    """Measure the floor, then each server at each concurrency, and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per measurement")
    arguments = parser.parse_args()
    SECONDS[0] = arguments.seconds
    from {{ cookiecutter.package_name }}.settings import load_settings

    workers = load_settings().serving.workers
    client = "wrk" if shutil.which("wrk") else "python threads (wrk not installed)"
    print(f"client: {client}; workers per server: {workers}; {arguments.seconds} s each")
    floor = in_process_floor(arguments.seconds)
    with tempfile.TemporaryDirectory() as scratch:
        throwaway = {f"{ENV_PREFIX}SERVING__PREDICTION_LOG": str(Path(scratch) / "log.jsonl")}
        bento = [str(BIN / "{{ cookiecutter.project_slug }}"), "serve", "--port", "{port}"]
        fastapi = [
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
        ]
        plain = [("/predict", 1), ("/predict", 32), ("/predict?explain=true", 1)]
        b1, b32, explained = measure(bento, throwaway, "/readyz", plain)
        shadow_env = {**throwaway, **shadow_store(Path(scratch))}
        s1, s32 = measure(bento, shadow_env, "/readyz", plain[:2])
        f1, f32 = measure(fastapi, {}, "/docs", plain[:2])
    rows = {
        "in-process floor": floor,
        "bentoml c=1": b1,
        "bentoml c=32": b32,
        "bentoml explain c=1": explained,
        "bentoml shadow c=1": s1,
        "bentoml shadow c=32": s32,
        "fastapi c=1": f1,
        "fastapi c=32": f32,
    }
    print(f"{'path':<22}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'errors':>8}")
    for name, figures in rows.items():
        print(
            f"{name:<22}{figures.p50_ms:>9.2f}{figures.p99_ms:>9.2f}"
            f"{figures.requests_per_s:>9.0f}{figures.errors:>8}"
        )
    for label, (one, many) in {"bentoml": (b1, b32), "shadow": (s1, s32)}.items():
        print(
            f"{label}/fastapi: p50 c=1 {one.p50_ms / f1.p50_ms:.2f} (target <= 1.1), "
            f"p99 c=1 {one.p99_ms / f1.p99_ms:.2f} (<= 2), "
            f"req/s c=32 {many.requests_per_s / f32.requests_per_s:.2f} (>= 1.0)"
        )
    print(f"explaining costs {explained.p50_ms - b1.p50_ms:.2f} ms at p50 (c=1)")


if __name__ == "__main__":
    main()
