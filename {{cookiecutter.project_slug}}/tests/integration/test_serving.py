"""The BentoML service over HTTP: `bentoml serve` on a free loopback port, real Feast and model.

The session's trained project brings its champion and this module builds its Bento; each server
runs through `{{ cookiecutter.project_slug }} serve`, as a user starts it.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from openapi_spec_validator import validate

from {{ cookiecutter.package_name }}.data.files import RAW_TRANSACTIONS
from {{ cookiecutter.package_name }}.features.store import REDIS_VARIABLE
from {{ cookiecutter.package_name }}.model import registry
from {{ cookiecutter.package_name }}.model.train import resolve_device
from {{ cookiecutter.package_name }}.serving.prediction_log import read_entries
from {{ cookiecutter.package_name }}.settings import load_settings
from tests.helpers import (
    CLI,
    ENV_PREFIX,
    Server,
    copy_with_own_online_store,
    example_request,
    flush_redis,
    free_port,
    fuzz_api,
    ok,
    online_store_type,
    redis_server,
    restored_afterwards,
    run,
    serving,
)

pytestmark = pytest.mark.online_store
EXAMPLE = example_request()
READY_LINE = "listening on http://127.0.0.1"


PREDICTION_LOG = Path("reports") / "prediction_log.jsonl"


def logged_entries(project: Path) -> list[dict[str, Any]]:
    """The prediction log's entries now, every file of it (none before the first request)."""
    return list(read_entries(project / PREDICTION_LOG))


def wait_for_log_entries(
    project: Path, before: int, count: int, deadline_s: float = 30
) -> list[Any]:
    """The `count` entries logged after the first `before` ones.

    The scoring thread writes the log once the answers are out, so an entry lands just after its
    response; waiting for the entry count is what synchronises, and a surplus fails the test.
    """
    deadline = time.monotonic() + deadline_s
    while len(entries := logged_entries(project)) < before + count:
        assert time.monotonic() < deadline, f"{len(entries) - before} of {count} entries logged"
        time.sleep(0.05)  # the pause between polls; the entry count above is what synchronises
    assert len(entries) == before + count, f"{len(entries) - before} entries logged, not {count}"
    return entries[before:]


def call(
    port: int, path: str, body: Any = None, *, raw: bytes | None = None, key: str | None = None
) -> tuple[int, Any]:
    """One HTTP request; returns the status and the decoded body (JSON when it is JSON)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data)
    request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("X-API-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


@dataclass(frozen=True)
class Running:
    """A `serve` process and the loopback port it answers on."""

    port: int
    server: Server


def wait_until_ready(service: Running, deadline_s: float = 120) -> None:
    """Poll /readyz until it answers 200 (the model loads in the background).

    A server that dies or stays unready past the deadline fails the test with its last output.
    """
    deadline = time.monotonic() + deadline_s
    while call(service.port, "/readyz")[0] != 200:
        if service.server.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(
                f"/readyz never answered 200 (exit code {service.server.process.poll()}); "
                f"the server's last output:\n{service.server.output()[-3000:]}"
            )
        with suppress(subprocess.TimeoutExpired):  # the pause between probes ends if it dies
            service.server.process.wait(timeout=0.2)


@pytest.fixture(scope="module")
def project(trained_project: Path) -> Iterator[Path]:
    """The shared trained project and the champion's Bento; what the module changes is undone."""
    with restored_afterwards(trained_project):
        assert "built Bento {{ cookiecutter.package_name }}:" in ok(run(trained_project, CLI, "bento"))
        yield trained_project


@contextmanager
def server(project: Path, *ready: str, env: dict[str, str] | None = None) -> Iterator[Running]:
    """`serve` on a free loopback port, as a user starts it."""
    port = free_port()
    command = [CLI, "serve", "--port", str(port)]
    with serving(command, *ready or (READY_LINE,), cwd=project, env=env) as started:
        yield Running(port, started)


@pytest.fixture(scope="module")
def running(project: Path) -> Iterator[Running]:
    with server(project) as service:
        wait_until_ready(service)
        yield service


@pytest.fixture(scope="module")
def port(running: Running) -> int:
    return running.port


def champion(project: Path) -> dict[str, Any]:
    listing = json.loads(ok(run(project, CLI, "models", "--json")))
    return next(entry for entry in listing if "champion" in entry["aliases"])


def test_bentos_carry_the_model_lineage_and_the_gpu_variant_a_cuda_image(project: Path) -> None:
    best = champion(project)
    bentos = project / "artifacts" / "bentoml" / "bentos" / "{{ cookiecutter.package_name }}"
    built = ok(run(project, CLI, "bento", "--gpu")).strip().rsplit(":", 1)[1]
    manifest = yaml.safe_load((bentos / built / "bento.yaml").read_text())
    assert manifest["labels"] == {"mlflow_version": best["version"], "lineage_id": best["run_id"]}
    dockerfile = (bentos / built / "env" / "docker" / "Dockerfile").read_text()
    assert "FROM nvidia/cuda:" in dockerfile
    exported = Path(ok(run(project, CLI, "bento-export")).strip().rsplit(" ", 1)[1])
    with tarfile.open(exported) as archive:
        names = archive.getnames()
    assert any(n.endswith(".ubj") and "/models/{{ cookiecutter.package_name }}/" in n for n in names)
    assert "./bento.yaml" in names


def test_a_transaction_is_scored_with_its_model_and_lineage(project: Path, port: int) -> None:
    status, answer = call(port, "/predict", EXAMPLE)
    assert status == 200, answer
    best = champion(project)
    assert answer["model_version"] == best["version"]
    assert answer["lineage_id"] == best["run_id"]
    assert 0 <= answer["fraud_probability"] <= 1
    assert answer["is_fraud"] == (answer["fraud_probability"] >= answer["threshold"])
    assert answer["features_missing"] is False
    assert answer["transaction_id"] == EXAMPLE["transaction_id"]
    located = ok(run(project, CLI, "evidence", "--lineage", answer["lineage_id"]))
    page = Path(located.split("page: ")[1].splitlines()[0])
    assert page == project / "reports" / "releases" / f"v{best['version']}" / "evidence.md"
    text = page.read_text()
    assert f"version {best['version']}" in text.splitlines()[0]
    assert answer["lineage_id"] in text


def test_a_batch_is_scored_in_order(port: int) -> None:
    batch = [{**EXAMPLE, "transaction_id": f"b-{i}", "amount": 10.0 * (i + 1)} for i in range(5)]
    status, answer = call(port, "/predict_batch", {"transactions": batch})
    assert status == 200, answer
    assert [p["transaction_id"] for p in answer] == [t["transaction_id"] for t in batch]
    assert len({p["fraud_probability"] for p in answer}) > 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "a lot"}, "amount"),
        ({"amount": -5.0}, "amount"),
        ({"amount": 1e400}, "amount"),
        ({"customer_id": "seven"}, "customer_id"),
        ({"merchant_category": "yachts"}, "merchant_category"),
        ({"channel": "carrier-pigeon"}, "channel"),
        ({"country": "usa"}, "country"),
        ({"event_timestamp": "yesterday"}, "event_timestamp"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_gets_a_400_naming_the_field(
    port: int, change: dict[str, Any], field: str
) -> None:
    status, answer = call(port, "/predict", {**EXAMPLE, **change})
    assert status == 400
    assert field in str(answer)


def test_missing_field_nan_and_oversized_input_are_refused_with_4xx(port: int) -> None:
    missing = {k: v for k, v in EXAMPLE.items() if k != "customer_id"}
    status, answer = call(port, "/predict", missing)
    assert status == 400 and "customer_id" in str(answer)
    nan = json.dumps({**EXAMPLE, "amount": float("nan")}).encode()  # a bare NaN token
    status, answer = call(port, "/predict", raw=nan)
    assert status == 400 and "amount" in str(answer)
    too_many = [EXAMPLE] * 257
    status, answer = call(port, "/predict_batch", {"transactions": too_many})
    assert status == 400 and "transactions" in str(answer)
    huge = {**EXAMPLE, "transaction_id": "x" * 2_000_000}
    status, answer = call(port, "/predict", huge)
    assert status == 413 and "max_body_bytes" in str(answer)


def test_an_unknown_customer_is_scored_without_stored_features(port: int) -> None:
    status, answer = call(port, "/predict", {**EXAMPLE, "customer_id": 987_654})
    assert status == 200, answer
    assert answer["features_missing"] is True
    assert 0 <= answer["fraud_probability"] <= 1


def test_metrics_count_requests_and_scores(port: int) -> None:
    def count(text: str, name: str, *labels: str) -> float:
        lines = [
            line
            for line in text.splitlines()
            if line.startswith(name) and all(label in line for label in labels)
        ]
        return sum(float(line.rsplit(" ", 1)[1]) for line in lines)

    before = call(port, "/metrics")[1]
    for _ in range(3):
        assert call(port, "/predict", EXAMPLE)[0] == 200
    after = call(port, "/metrics")[1]
    scores = ("{{ cookiecutter.package_name }}_fraud_probability_count",)
    assert count(after, *scores) - count(before, *scores) == 3
    requests = ("{{ cookiecutter.package_name }}_request_total{", 'endpoint="/predict"', 'http_response_code="200"')
    assert count(after, *requests) - count(before, *requests) == 3


def test_every_prediction_is_in_the_prediction_log(project: Path, port: int) -> None:
    before = len(logged_entries(project))
    status, _ = call(port, "/predict", {**EXAMPLE, "transaction_id": "logged"})
    assert status == 200
    (entry,) = wait_for_log_entries(project, before, 1)
    assert entry["transaction_id"] == "logged"
    assert entry["model_version"] == champion(project)["version"]
    assert {"amount", "hour", "txn_count_total", "amount_to_avg"} <= entry["features"].keys()


@pytest.mark.e2e  # runs the pipeline it compares serving with
def test_monitoring_reads_the_champion_s_rows_of_the_prediction_log(
    project: Path, port: int
) -> None:
    before = len(logged_entries(project))
    for i in range(12):
        assert call(port, "/predict", {**EXAMPLE, "transaction_id": f"m-{i}"})[0] == 200
    wait_for_log_entries(project, before, 12)
    version = champion(project)["version"]
    served = sum(entry["model_version"] == version for entry in logged_entries(project))
    settings = {
        f"{ENV_PREFIX}MONITORING__MIN_ROWS": "10",
        f"{ENV_PREFIX}MONITORING__AUTO_RETRAIN": "false",
    }
    result = run(project, CLI, "monitor", "--source", "log", "--newest", "0", env=settings)
    assert result.returncode in (0, 3), result.stdout[-2000:] + result.stderr[-2000:]
    report = sorted((project / "reports" / "monitoring").iterdir())[-1]
    summary = json.loads((report / "summary.json").read_text())
    assert (summary["source"], summary["model_version"]) == ("log", version)
    assert summary["current_rows"] == served >= 12
    assert summary["performance"] == {}  # served requests carry no labels
    assert (report / "drift.html").is_file()


@pytest.mark.e2e  # runs the pipeline it compares serving with
def test_served_probability_equals_batch_inference(project: Path, port: int) -> None:
    """After the newest data, online features equal point-in-time ones: no training/serving skew."""
    history = pd.read_parquet(project / RAW_TRANSACTIONS)
    later = history["event_timestamp"].max() + pd.Timedelta(hours=2)
    rows = history.drop_duplicates("customer_id").head(6).copy()
    rows["transaction_id"] = history["transaction_id"].max() + 1 + pd.RangeIndex(len(rows))
    rows["event_timestamp"] = later
    new_file = project / "data" / "new_transactions.parquet"
    rows.to_parquet(new_file, index=False)
    written = ok(
        run(project, CLI, "infer", "--path", "data/new_transactions.parquet", "--newest", "0")
    )
    offline = pd.read_parquet(written.strip().rsplit(" ", 1)[1])
    offline = offline.set_index(offline["transaction_id"].astype(str))
    batch = [
        {
            "transaction_id": str(row["transaction_id"]),
            "customer_id": int(row["customer_id"]),
            "amount": float(row["amount"]),
            "merchant_category": row["merchant_category"],
            "channel": row["channel"],
            "country": row["country"],
            "event_timestamp": later.isoformat(),
        }
        for row in rows.to_dict("records")
    ]
    status, answer = call(port, "/predict_batch", {"transactions": batch})
    assert status == 200, answer
    for prediction in answer:
        expected = offline.loc[prediction["transaction_id"], "fraud_probability"]
        assert prediction["fraud_probability"] == pytest.approx(expected, abs=1e-6)


def test_an_api_key_guards_predictions_but_not_probes(project: Path) -> None:
    key = "s3cret-key-0123456789"
    with server(project, env={f"{ENV_PREFIX}SERVING__API_KEY": key}) as service:
        wait_until_ready(service)
        port = service.port
        status, answer = call(port, "/predict", EXAMPLE)
        assert status == 401 and "X-API-Key" in str(answer)
        assert call(port, "/predict", EXAMPLE, key="wrong")[0] == 401
        assert call(port, "/predict", EXAMPLE, key=key)[0] == 200
        assert call(port, "/livez")[0] == 200
        assert call(port, "/metrics")[0] == 200
        assert call(port, "/readyz")[1]["auth"] == "on"


@pytest.mark.parametrize(("key", "said"), [("", "blank"), ("   ", "blank"), ("short", "too short")])
def test_a_blank_or_short_api_key_stops_the_service_with_one_line(
    project: Path, key: str, said: str
) -> None:
    result = run(
        project,
        CLI,
        "serve",
        "--port",
        str(free_port()),
        env={f"{ENV_PREFIX}SERVING__API_KEY": key},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if f"SERVING__API_KEY is {said}" in line
    ]
    assert "Traceback" not in result.stderr


def test_the_served_openapi_document_is_valid_and_every_answer_matches_it(port: int) -> None:
    status, document = call(port, "/docs.json")
    assert status == 200
    validate(document)  # OpenAPI 3.1, as declared
    statuses = fuzz_api(f"http://127.0.0.1:{port}", examples=25)
    assert statuses[200] > 0 and statuses[400] > 0, statuses  # reached the model and refusals


def test_explain_adds_reason_codes_named_as_the_features_and_logs_them(
    project: Path, port: int
) -> None:
    request = {**EXAMPLE, "transaction_id": "explained"}
    before = len(logged_entries(project))
    status, answer = call(port, "/predict?explain=true", request)
    assert status == 200, answer
    (logged,) = wait_for_log_entries(project, before, 1)
    reasons = answer["reasons"]
    assert len(reasons) == 3
    sizes = [abs(reason["contribution"]) for reason in reasons]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 0
    assert logged["transaction_id"] == "explained" and logged["reasons"] == reasons
    for reason in reasons:
        assert reason["feature"] in logged["features"]
        assert reason["value"] == logged["features"][reason["feature"]]
    assert call(port, "/predict", EXAMPLE)[1]["reasons"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_timestamp": "2026-03-02T10:15:00"}, "event_timestamp"),  # no time zone
        ({"event_timestamp": "2999-01-01T00:00:00Z"}, "event_timestamp"),  # beyond the skew
        ({"amount": 50_000.01}, "amount"),  # the data contract's bound
    ],
)
def test_times_without_a_zone_or_from_the_future_and_amounts_over_the_contract_get_400(
    port: int, change: dict[str, Any], field: str
) -> None:
    status, answer = call(port, "/predict", {**EXAMPLE, **change})
    assert status == 400
    assert answer["fields"] == [field]


def test_without_a_key_the_service_warns_and_readiness_says_auth_off(running: Running) -> None:
    assert "serving WITHOUT an API key" in running.server.output()
    status, readiness = call(running.port, "/readyz")
    assert status == 200
    assert readiness["auth"] == "off"
    assert readiness["ready"] is True and readiness["reason"] is None
    assert readiness["online_store"]["reachable"] is True
    assert readiness["online_store"]["materialized_at"] is not None


def test_readiness_waits_for_the_model(project: Path, tmp_path: Path) -> None:
    empty_store = {"BENTOML_HOME": str(tmp_path / "bentoml")}
    with server(project, env=empty_store) as service:
        port = service.port
        assert call(port, "/livez")[0] == 200
        assert call(port, "/readyz")[0] == 503
        status, answer = call(port, "/predict", EXAMPLE)
        assert status == 503 and "loading" in str(answer)
        ok(run(project, CLI, "bento", env=empty_store))
        wait_until_ready(service)
        assert call(port, "/predict", EXAMPLE)[0] == 200


def wait_for_readiness(
    port: int, status: int, reason: str = "", deadline_s: float = 30
) -> dict[str, Any]:
    """Poll /readyz until it answers `status` with `reason` in its body's reason.

    The store check runs every second, so a change shows within a second or two.
    """
    deadline = time.monotonic() + deadline_s
    while True:
        answer = call(port, "/readyz")
        if answer[0] == status and reason in (answer[1].get("reason") or ""):
            body: dict[str, Any] = answer[1]
            return body
        assert time.monotonic() < deadline, f"/readyz stayed {answer}"
        time.sleep(0.2)  # the pause between polls; the condition above is what synchronises


def empty_online_store(project: Path, redis_address: str | None) -> None:
    """What a store that lost its data looks like: no rows at all."""
    if redis_address is not None:
        flush_redis(redis_address)
        return
    with sqlite3.connect(project / "data" / "feast" / "online_store.db") as database:
        tables = database.execute("select name from sqlite_master where type='table'").fetchall()
        for (table,) in tables:
            database.execute(f'delete from "{table}"')


class OwnStore:
    """A served copy's online store: in a Redis bake a redis-server of its own, which a test can
    stop and restart (empty: no persistence); otherwise the copy's SQLite file."""

    def __init__(self, stack: ExitStack) -> None:
        """Start the redis-server (Redis bakes), stopped when `stack` closes."""
        self._redis = stack.enter_context(ExitStack())
        self.port = free_port() if online_store_type() == "redis" else None
        self.address = f"127.0.0.1:{self.port}" if self.port is not None else None
        self.env = {REDIS_VARIABLE: self.address} if self.address is not None else {}
        self.start()

    def start(self) -> None:
        if self.port is not None:
            self._redis.enter_context(redis_server(self.port))

    def stop(self) -> None:
        self._redis.close()


@contextmanager
def served_with_own_store(
    project: Path, destination: Path
) -> Iterator[tuple[Path, Running, OwnStore]]:
    """A copy of the project with an online store of its own, served and ready."""
    with ExitStack() as stack:
        store = OwnStore(stack)
        copy = copy_with_own_online_store(project, destination, store.env)
        service = stack.enter_context(server(copy, env=store.env))
        wait_until_ready(service)
        yield copy, service, store


def test_readiness_follows_the_online_store_down_emptied_and_back(
    project: Path, tmp_path: Path
) -> None:
    """The store is checked in the background: unready while it is gone or empty, back after."""
    with served_with_own_store(project, tmp_path / "copy") as (copy, service, store):
        port = service.port
        assert call(port, "/predict", EXAMPLE)[0] == 200
        empty_online_store(copy, store.address)
        readiness = wait_for_readiness(port, 503, "no materialized features")
        status, answer = call(port, "/predict", EXAMPLE)
        assert status == 503 and answer == {"error": readiness["reason"], "fields": []}
        ok(run(copy, CLI, "features", "apply", env=store.env))
        wait_for_readiness(port, 200)
        status, answer = call(port, "/predict", EXAMPLE)
        assert status == 200 and answer["features_missing"] is False
        if store.address is not None:
            store.stop()
            wait_for_readiness(port, 503, "does not answer")
            assert call(port, "/predict", EXAMPLE)[0] == 503
            store.start()  # restarted, empty
            wait_for_readiness(port, 503, "no materialized features")
            ok(run(copy, CLI, "features", "apply", env=store.env))
            wait_for_readiness(port, 200)
            assert call(port, "/predict", EXAMPLE)[0] == 200


def test_shadow_and_canary_serve_the_staging_model_beside_the_champion(project: Path) -> None:
    """The staging alias is put on the champion's version: the same model, routed and logged.

    Shadow: the champion answers, both scores are logged with their versions, and `compare`
    writes the comparison into the staging version's evidence. Canary: a sticky share of
    customers gets the staging model, and the answer says so.
    """
    best = champion(project)["version"]
    settings = load_settings(project)
    registry.set_alias(settings, registry.STAGING, best)
    shadow = {f"{ENV_PREFIX}SERVING__STAGING_MODE": "shadow"}
    assert f"imported staging version {best}" in ok(run(project, CLI, "bento", env=shadow))
    before = len(logged_entries(project))
    with server(project, env=shadow) as service:
        wait_until_ready(service)
        assert call(service.port, "/readyz")[1]["staging"] == f"shadow v{best}"
        batch = [{**EXAMPLE, "customer_id": c, "transaction_id": f"s-{c}"} for c in range(1, 41)]
        status, answer = call(service.port, "/predict_batch", {"transactions": batch})
        assert status == 200 and {p["served_by"] for p in answer} == {"champion"}
        entries = wait_for_log_entries(project, before, 40)
    for entry, prediction in zip(entries, answer, strict=True):
        assert entry["shadow"]["model_version"] == best
        assert entry["shadow"]["fraud_probability"] == pytest.approx(
            prediction["fraud_probability"]
        )
    labels = project / "data" / "served_labels.csv"
    pd.DataFrame(
        {"transaction_id": [f"s-{c}" for c in range(1, 41)], "is_fraud": [0] * 39 + [1]}
    ).to_csv(labels, index=False)
    compared = json.loads(ok(run(project, CLI, "compare", "--labels", str(labels), "--json")))
    assert compared["shadow"]["requests"] == 40
    assert compared["shadow"]["decision_agreement"] == 1.0
    assert compared["shadow"]["mean_abs_score_difference"] == 0.0
    assert compared["shadow"]["labelled"]["champion"] == compared["shadow"]["labelled"]["staging"]
    assert compared["shadow"]["labelled"]["champion"]["frauds"] == 1
    evidence = (project / "reports" / "releases" / f"v{best}" / "evidence.md").read_text()
    assert (
        "## Served traffic against the champion" in evidence
        and '"decision_agreement": 1.0' in evidence
    )

    canary = {
        f"{ENV_PREFIX}SERVING__STAGING_MODE": "canary",
        f"{ENV_PREFIX}SERVING__CANARY_PERCENT": "50",
    }
    before = len(logged_entries(project))
    with server(project, env=canary) as service:
        wait_until_ready(service)
        batch = [{**EXAMPLE, "customer_id": c, "transaction_id": f"c-{c}"} for c in range(1, 101)]
        first = call(service.port, "/predict_batch", {"transactions": batch})[1]
        again = call(service.port, "/predict_batch", {"transactions": batch})[1]
        entries = wait_for_log_entries(project, before, 200)
    routes = [p["served_by"] for p in first]
    assert routes == [p["served_by"] for p in again]  # sticky per customer
    assert 25 <= routes.count("staging") <= 75, routes.count("staging")
    served_by = {entry["transaction_id"]: entry["served_by"] for entry in entries}
    assert [served_by[f"c-{c}"] for c in range(1, 101)] == routes  # the log says who answered


def test_the_gpu_variant_serves_on_the_gpu_or_falls_back_to_cpu(project: Path) -> None:
    cuda = {f"{ENV_PREFIX}SERVING__DEVICE": "cuda"}
    on_this_machine = "on cuda" if resolve_device("auto") == "cuda" else "falling back to CPU"
    with server(project, on_this_machine, env=cuda) as service:
        wait_until_ready(service)
        assert call(service.port, "/predict", EXAMPLE)[0] == 200
