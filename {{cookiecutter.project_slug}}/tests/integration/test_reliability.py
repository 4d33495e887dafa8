"""The served API under load and faults (`make test-reliability`, kept out of `make test`).

Each scenario drives a real `serve` on loopback and prints one line of figures: sustained load
with wrk, the online store going away and coming back mid-load, a worker killed mid-load, and
requests generated from the OpenAPI document with odd headers and content types.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.helpers import (
    CLI,
    ENV_PREFIX,
    example_request,
    fuzz_api,
    ok,
    restored_afterwards,
    run,
)
from tests.integration.test_serving import (
    call,
    empty_online_store,
    logged_entries,
    served_with_own_store,
    server,
    wait_for_readiness,
    wait_until_ready,
)

pytestmark = pytest.mark.reliability
BODY = json.dumps(example_request()).encode()


@pytest.fixture(scope="module")
def project(trained_project: Path) -> Iterator[Path]:
    with restored_afterwards(trained_project):
        ok(run(trained_project, CLI, "bento"))
        yield trained_project


def logged(project: Path) -> int:
    """Entries in the prediction log (every file of it)."""
    return len(logged_entries(project))


class Load:
    """Clients posting the example until stopped, counting answers by status."""

    def __init__(self, port: int, clients: int) -> None:
        self.port = port
        self.statuses: Counter[int | str] = Counter()
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._client) for _ in range(clients)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join()

    def _client(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stopped.is_set():
            try:
                connection.request("POST", "/predict", BODY, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                outcome: int | str = response.status
            except (OSError, http.client.HTTPException) as error:
                outcome = type(error).__name__
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            with self.lock:
                self.statuses[outcome] += 1

    def wait_for(self, predicate: Callable[[Counter[int | str]], bool], deadline_s: float) -> None:
        """Until the answers so far meet `predicate` (load keeps running)."""
        deadline = time.monotonic() + deadline_s
        while not predicate(self.counts()):
            assert time.monotonic() < deadline, self.counts()
            self.stopped.wait(0.1)

    def counts(self) -> Counter[int | str]:
        with self.lock:
            return Counter(self.statuses)


def test_sixty_seconds_at_concurrency_32_lose_nothing_and_probes_stay_fast(
    project: Path,
) -> None:
    wrk = shutil.which("wrk")
    if wrk is None:
        if os.environ.get("CI") == "true":
            pytest.fail("wrk not found: apt-get install wrk")
        pytest.skip("wrk not found: apt-get install wrk")
    before = logged(project)
    probes: list[float] = []
    with server(project) as service:
        wait_until_ready(service)
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
            script.write(
                'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f"wrk.body = {json.dumps(BODY.decode())}\n"
            )
            script.flush()
            command = [wrk, "-t", "2", "-c", "32", "-d", "60s", "-s", script.name]
            load = subprocess.Popen(
                [*command, f"http://127.0.0.1:{service.port}/predict"],
                stdout=subprocess.PIPE,
                text=True,
            )
            while True:  # sample /readyz every half second while wrk runs
                began = time.perf_counter()
                assert call(service.port, "/readyz")[0] == 200
                probes.append((time.perf_counter() - began) * 1000)
                try:
                    load.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    continue
            output = load.communicate()[0]
    total = int(re.search(r"(\d+) requests in", output)[1])  # type: ignore[index]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    failed = (int(errors[1]) if errors else 0) + (
        sum(int(n) for n in re.findall(r"\d+", socket_errors[1])) if socket_errors else 0
    )
    written = logged(project) - before
    print(
        f"\nsustained: {total} requests in 60 s at c=32 ({total / 60:.0f}/s), {failed} errors, "
        f"{written} logged; /readyz p50 {statistics.median(probes):.1f} ms, "
        f"max {max(probes):.1f} ms over {len(probes)} probes"
    )
    assert failed == 0
    # wrk stops with up to one request per connection in flight: served and logged, not counted
    assert total <= written <= total + 32


def test_the_online_store_going_away_mid_load_gives_503s_and_recovers_without_restart(
    project: Path, tmp_path: Path
) -> None:
    with served_with_own_store(project, tmp_path / "copy") as (copy, service, store):
        before = logged(copy)
        with Load(service.port, clients=8) as load:
            load.wait_for(lambda counts: counts[200] >= 200, 60)
            if store.address is not None:
                store.stop()  # restarted below, empty
            else:
                empty_online_store(copy, None)
            load.wait_for(lambda counts: counts[503] >= 20, 60)
            store.start()
            ok(run(copy, CLI, "features", "apply", env=store.env))
            wait_for_readiness(service.port, 200)
            served = load.counts()[200]
            load.wait_for(lambda counts: counts[200] >= served + 200, 60)
        counts = load.counts()
    written = logged(copy) - before
    print(f"\nonline store fault: {dict(counts)}; {written} logged of {counts[200]} answered 200")
    assert set(counts) <= {200, 503}, counts
    assert written == counts[200]


def test_a_worker_killed_mid_load_is_replaced_and_serving_recovers(project: Path) -> None:
    two = {f"{ENV_PREFIX}SERVING__WORKERS": "2"}
    with server(project, env=two) as service:
        wait_until_ready(service)
        with Load(service.port, clients=8) as load:
            load.wait_for(lambda counts: counts[200] >= 200, 60)
            workers = _workers(service.server.process.pid)
            assert len(workers) == 2, workers
            os.kill(workers[0], signal.SIGKILL)
            load.wait_for(lambda counts: len(_workers(service.server.process.pid)) == 2, 60)
            replaced = load.counts()[200]
            load.wait_for(lambda counts: counts[200] >= replaced + 200, 60)
        counts = load.counts()
        wait_for_readiness(service.port, 200)
    failed = sum(n for status, n in counts.items() if status != 200)
    print(f"\nworker killed: {dict(counts)}; {failed} failed while it was replaced")
    # Only what the dead worker held (one request per client at most): its replacement takes
    # no connection before it has loaded.
    assert failed <= 8, counts
    assert counts[200] >= replaced + 200


def _workers(server_pid: int) -> list[int]:
    """The service's worker processes under a `serve` process (BentoML's circus arbiter)."""
    children = psutil.Process(server_pid).children(recursive=True)
    return sorted(child.pid for child in children if _is_worker(child))


def _is_worker(process: psutil.Process) -> bool:
    try:
        return "_bentoml_impl.worker.service" in process.cmdline()
    except psutil.NoSuchProcess:
        return False


ODD_REQUESTS = [
    ("POST", "/predict", {"Content-Type": "application/json; charset=latin-1"}, BODY),
    ("POST", "/predict", {"Content-Type": "application/x-www-form-urlencoded"}, b"a=1"),
    ("POST", "/predict", {"Content-Type": "multipart/form-data; boundary=x"}, b"--x--"),
    ("POST", "/predict", {"Content-Type": "APPLICATION/JSON"}, BODY),
    ("POST", "/predict", {"Content-Type": "application/json", "Content-Encoding": "gzip"}, BODY),
    ("POST", "/predict", {"Content-Type": "application/json", "X-API-Key": "\u00e9"}, BODY),
    ("POST", "/predict", {"Content-Type": "application/json"}, b"\xff\xfe\x00"),
    ("POST", "/predict", {"Content-Type": "application/json"}, b"[" * 10_000),
    ("POST", "/predict", {"Content-Type": "application/json"}, b'{"amount": 1e999999}'),
    ("POST", "/predict?explain=maybe", {"Content-Type": "application/json"}, BODY),
    ("POST", "/predict?explain=true&explain=false", {"Content-Type": "application/json"}, BODY),
    ("PUT", "/predict", {"Content-Type": "application/json"}, BODY),
    ("PATCH", "/predict_batch", {"Content-Type": "application/json"}, BODY),
    ("OPTIONS", "/predict", {}, b""),
    ("HEAD", "/predict", {}, b""),
    ("GET", "/readyz", {"Content-Type": "text/plain"}, b"x"),
    ("DELETE", "/readyz", {}, b""),
    ("GET", "/docs.json", {"Accept": "text/html"}, b""),
    ("GET", "/nowhere", {}, b""),
]


def test_generated_and_odd_requests_never_get_a_5xx(project: Path) -> None:
    with server(project) as service:
        wait_until_ready(service)
        base = f"http://127.0.0.1:{service.port}"
        odd: Counter[int] = Counter()
        for method, path, headers, body in ODD_REQUESTS:
            connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
            connection.request(method, path, body, headers)
            status = connection.getresponse().status
            connection.close()
            assert status < 500, (method, path, headers, status)
            odd[status] += 1
        generated = fuzz_api(base, examples=200)
    print(f"\nfuzzing: generated {dict(generated)}; odd headers and types {dict(odd)}")
    assert generated[200] > 0 and generated[400] > 0
