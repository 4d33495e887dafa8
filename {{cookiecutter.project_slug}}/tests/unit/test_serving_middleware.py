"""The service's request schema and its ASGI middleware, on a bare Starlette app."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from {{ cookiecutter.package_name }}.serving.middleware import RequestGuard
from {{ cookiecutter.package_name }}.serving.schemas import Transaction

VALID = {
    "customer_id": 1,
    "amount": 10.0,
    "merchant_category": "grocery",
    "channel": "pos",
    "country": "US",
}


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"received": len(await request.body())})


async def unavailable(request: Request) -> JSONResponse:
    return JSONResponse({"error": "hidden"}, status_code=503)


def client(key: str | None = None, limit: int = 1000, reason: str | None = None) -> TestClient:
    routes = [
        Route("/predict", echo, methods=["POST"]),
        Route("/livez", echo),
        Route("/down", unavailable, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(
        RequestGuard,
        limit=limit,
        protected=("/predict", "/down"),
        key=key,
        reason=lambda: reason,
    )
    return TestClient(app)


def test_the_api_key_is_required_on_protected_paths_only() -> None:
    guarded = client(key="k")
    assert guarded.post("/predict", content=b"{}").status_code == 401
    assert guarded.post("/predict", content=b"{}", headers={"X-API-Key": "x"}).status_code == 401
    assert guarded.post("/predict", content=b"{}", headers={"X-API-Key": "k"}).status_code == 200
    assert guarded.get("/livez").status_code == 200
    assert client().post("/predict", content=b"{}").status_code == 200


def test_bodies_over_the_limit_get_413_declared_or_streamed() -> None:
    limited = client(limit=100)
    assert limited.post("/predict", content=b"x" * 100).json() == {"received": 100}
    response = limited.post("/predict", content=b"x" * 101)
    assert response.status_code == 413 and "max_body_bytes" in response.json()["error"]
    assert limited.post("/predict", content=iter([b"x" * 60, b"x" * 60])).status_code == 413
    assert limited.post("/predict", content=iter([b"x" * 60])).json() == {"received": 60}


def test_a_503_carries_the_service_reason_when_there_is_one() -> None:
    explained = client(reason="the online store is down").post("/down", content=b"{}")
    assert explained.status_code == 503
    assert explained.json() == {"error": "the online store is down"}
    assert client().post("/down", content=b"{}").json() == {"error": "hidden"}


def test_a_valid_transaction_gets_a_request_time_by_default() -> None:
    transaction = Transaction.model_validate(VALID)
    assert transaction.event_timestamp.tzinfo is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": float("nan")}, "amount"),
        ({"amount": float("inf")}, "amount"),
        ({"amount": 0}, "amount"),
        ({"customer_id": 0}, "customer_id"),
        ({"merchant_category": "yachts"}, "merchant_category"),
        ({"country": "United States"}, "country"),
    ],
)
def test_invalid_values_name_their_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        Transaction.model_validate({**VALID, **change})
    assert error.value.errors()[0]["loc"] == (field,)
