"""The API's checks in front of the scorer, on the mounted app itself (no server, no model).

A request that the checks refuse never reaches the scorer, so none is loaded: these answers are
the same in a running service (tests/integration/test_serving.py covers the scored ones).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from openapi_spec_validator import validate
from pydantic import ValidationError
from starlette.testclient import TestClient

from {{ cookiecutter.package_name }}.data.contract import MAX_AMOUNT
from {{ cookiecutter.package_name }}.serving.api import LOADING, PredictionApi, ReadinessFirst, ServingState
from {{ cookiecutter.package_name }}.serving.batching import Batcher
from {{ cookiecutter.package_name }}.serving.openapi import openapi_document
from {{ cookiecutter.package_name }}.serving.prediction_log import PredictionLog
from {{ cookiecutter.package_name }}.serving.schemas import Problem, Transaction
from {{ cookiecutter.package_name }}.serving.scorer import Scored
from {{ cookiecutter.package_name }}.serving.tcp import disable_nagle_on_listening_sockets
from {{ cookiecutter.package_name }}.settings import MIN_API_KEY_LENGTH, ServingSettings

KEY = "k" * MIN_API_KEY_LENGTH
VALID = {
    "customer_id": 1,
    "amount": 10.0,
    "merchant_category": "grocery",
    "channel": "pos",
    "country": "US",
    "event_timestamp": "2026-03-02T10:15:00Z",
}


def api(tmp_path: Path, *, key: str | None = None, **settings: Any) -> TestClient:
    serving = ServingSettings(**settings)
    log = PredictionLog(serving, tmp_path / "log.jsonl")
    state = ServingState(settings=serving, key=key, log=log)
    document = lambda: openapi_document("service", "1.0", keyed=key is not None)  # noqa: E731
    routes = PredictionApi(state, document)
    return TestClient(ReadinessFirst(routes.app, api=routes))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with api(tmp_path) as test_client:
        yield test_client


def post(client: TestClient, body: Any, path: str = "/predict", **headers: str) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        path, content=content, headers={"Content-Type": "application/json", **headers}
    )


def problem(response: Any) -> Problem:
    assert response.headers["content-type"] == "application/json"
    return Problem.model_validate(response.json())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": MAX_AMOUNT + 0.01}, "amount"),
        ({"amount": 0}, "amount"),
        ({"customer_id": 0}, "customer_id"),
        ({"merchant_category": "yachts"}, "merchant_category"),
        ({"country": "United States"}, "country"),
        ({"event_timestamp": "2026-03-02T10:15:00"}, "event_timestamp"),  # no time zone
        ({"event_timestamp": "yesterday"}, "event_timestamp"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_bad_field_gets_400_naming_it_and_no_internals(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    response = post(client, {**VALID, **change})
    assert response.status_code == 400
    answer = problem(response)
    assert answer.fields == [field]
    assert "pydantic" not in answer.error and "Error" not in answer.error


def test_an_event_time_beyond_the_allowed_skew_gets_400(client: TestClient) -> None:
    ahead = datetime.now(timezone.utc) + timedelta(seconds=400)
    response = post(client, {**VALID, "event_timestamp": ahead.isoformat()})
    assert response.status_code == 400
    assert problem(response).fields == ["event_timestamp"]
    batch = {"transactions": [VALID, {**VALID, "event_timestamp": ahead.isoformat()}]}
    response = post(client, batch, "/predict_batch")
    assert problem(response).fields == ["transactions.1.event_timestamp"]
    within = datetime.now(timezone.utc) + timedelta(seconds=200)
    response = post(client, {**VALID, "event_timestamp": within.isoformat()})
    assert response.status_code == 503  # past the checks: the model is not loaded here


@pytest.mark.parametrize(
    ("body", "status", "fields"),
    [
        (b"{", 400, ["body"]),
        (b"[]", 400, ["body"]),
        (b"null", 400, ["body"]),
        (json.dumps({**VALID, "amount": float("nan")}).encode(), 400, ["amount"]),
        (b'{"transactions": []}', 400, ["transactions"]),
    ],
)
def test_malformed_bodies_get_400(
    client: TestClient, body: bytes, status: int, fields: list[str]
) -> None:
    path = "/predict_batch" if b"transactions" in body else "/predict"
    response = post(client, body, path)
    assert response.status_code == status
    assert problem(response).fields == fields


def test_batches_over_the_limit_name_the_field(tmp_path: Path) -> None:
    with api(tmp_path, max_batch_size=2) as client:
        response = post(client, {"transactions": [VALID] * 3}, "/predict_batch")
    assert response.status_code == 400
    assert problem(response).fields == ["transactions"]


def test_methods_content_types_and_sizes_get_their_4xx(tmp_path: Path) -> None:
    with api(tmp_path, max_body_bytes=1024) as client:
        assert client.get("/predict").status_code == 405
        assert client.get("/predict").headers["allow"] == "POST"
        assert client.delete("/predict_batch").status_code == 405
        assert client.post("/readyz").status_code == 405
        text = client.post("/predict", content=b"{}", headers={"Content-Type": "text/plain"})
        assert text.status_code == 415
        assert client.post("/predict", content=b"{}").status_code == 415  # no content type
        big = post(client, b"x" * 1025)
        assert big.status_code == 413 and "1024 bytes" in problem(big).error
        streamed = client.post(
            "/predict",
            content=iter([b"x" * 600, b"x" * 600]),
            headers={"Content-Type": "application/json"},
        )
        assert streamed.status_code == 413
        odd = post(client, VALID, **{"Content-Length": "12abc"})
        assert odd.status_code == 400
        with_charset = post(client, VALID, **{"Content-Type": "application/json; charset=utf-8"})
        assert with_charset.status_code == 503  # accepted; nothing loaded to score with


def test_the_api_key_guards_predictions_not_probes(tmp_path: Path) -> None:
    with api(tmp_path, key=KEY) as client:
        assert post(client, VALID).status_code == 401
        assert post(client, VALID, **{"X-API-Key": "wrong"}).status_code == 401
        assert post(client, VALID, **{"X-API-Key": KEY}).status_code == 503
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["auth"] == "on"
        assert client.get("/docs.json").status_code == 200


@pytest.mark.parametrize("blank", ["", "   ", "short-key"])
def test_a_blank_or_short_api_key_is_refused_at_start(blank: str) -> None:
    settings = ServingSettings(api_key=blank)
    with pytest.raises(ValueError, match=r"SERVING__API_KEY is (blank|too short)"):
        settings.key()
    assert ServingSettings().key() is None
    assert ServingSettings(api_key=KEY).key() == KEY


def test_not_loaded_means_503_with_the_reason_and_auth_off_is_said(client: TestClient) -> None:
    response = post(client, VALID)
    assert response.status_code == 503 and problem(response).error == LOADING
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["auth"] == "off" and ready.json()["reason"] == LOADING


@pytest.mark.parametrize("keyed", [False, True])
def test_the_openapi_document_is_valid_3_1(tmp_path: Path, keyed: bool) -> None:
    with api(tmp_path, key=KEY if keyed else None) as client:
        document = client.get("/docs.json").json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    responses = document["paths"]["/predict"]["post"]["responses"]
    assert {"200", "400", "401", "405", "413", "415", "503"} <= responses.keys()
    assert ("security" in document["paths"]["/predict"]["post"]) is keyed
    amount = document["components"]["schemas"]["Transaction"]["properties"]["amount"]
    assert amount["maximum"] == MAX_AMOUNT


def test_a_request_time_is_given_by_default_and_a_naive_one_is_refused() -> None:
    defaults = {k: v for k, v in VALID.items() if k != "event_timestamp"}
    assert Transaction.model_validate(defaults).event_timestamp.tzinfo is not None
    with pytest.raises(ValidationError):
        Transaction.model_validate({**VALID, "event_timestamp": "2026-03-02T10:15:00"})


def test_accepted_connections_inherit_tcp_nodelay_from_the_listening_socket() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listening:
        assert listening.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        assert disable_nagle_on_listening_sockets() >= 1
        assert listening.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        with socket.create_connection(listening.getsockname()):
            accepted, _ = listening.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_the_scoring_thread_merges_waiting_requests_and_survives_a_failed_record() -> None:
    calls: list[int] = []
    release = threading.Event()

    def score(transactions: list[Transaction], explain: bool) -> Scored:
        calls.append(len(transactions))
        release.wait(5)  # the first call holds the thread while the others queue up
        inputs = {"amount": np.array([t.amount for t in transactions])}
        return Scored(predictions=[], inputs=inputs)

    def record(transactions: list[Transaction], scored: Scored) -> None:
        raise OSError("disk full")

    batcher = Batcher(score, record, max_rows=10)
    one = Transaction.model_validate(VALID)

    async def five_requests() -> list[Scored]:
        first = asyncio.ensure_future(batcher.submit([one], False))
        while not calls:
            await asyncio.sleep(0.01)  # until the thread holds the first request
        rest = [asyncio.ensure_future(batcher.submit([one, one], False)) for _ in range(4)]
        await asyncio.sleep(0)  # one loop turn: each of the four queues itself, in order
        release.set()
        return await asyncio.gather(first, *rest)

    answers = asyncio.run(five_requests())
    assert calls == [1, 8]  # the four waiting requests went together
    assert [len(a.inputs["amount"]) for a in answers] == [1, 2, 2, 2, 2]
    again = asyncio.run(batcher.submit([one], False))  # the failed record killed nothing
    assert len(again.inputs["amount"]) == 1
