"""The HTTP routes BentoML mounts (/predict, /predict_batch, /docs.json) and its /readyz.

One plain ASGI layer, no framework in between: the request is checked (method, API key, content
type, size, JSON against serving/schemas.py, event time against the server clock) with cheap
operations on the event loop, and the blocking work (the online-store lookup, XGBoost, the
shadow model, the prediction log) runs on one scoring thread that merges waiting requests
(serving/batching.py), so probes answer while requests are scored. Every answer is JSON of a
documented schema: 4xx bodies name the fields at fault and never internals; 503 means a
dependency (model, online store) is not there.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.routing import Route

from {{ cookiecutter.package_name }}.serving.batching import Batcher
from {{ cookiecutter.package_name }}.serving.health import StoreProbe
from {{ cookiecutter.package_name }}.serving.prediction_log import PredictionLog, features_entry
from {{ cookiecutter.package_name }}.serving.schemas import (
    Prediction,
    Problem,
    Readiness,
    Transaction,
    TransactionBatch,
)
from {{ cookiecutter.package_name }}.serving.scorer import (
    OnlineStoreUnavailableError,
    Scored,
    Scorer,
    ShadowScore,
)
from {{ cookiecutter.package_name }}.settings import ServingSettings

logger = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# An oversized body is read and dropped up to this size before the 413, so that an HTTP/1.1
# client still sending it reads the answer instead of a reset connection.
DRAIN_LIMIT = 16 * 1024 * 1024
LOADING = "the model is still loading: retry when /readyz answers 200"
PREDICTIONS = TypeAdapter(list[Prediction])
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


class Refusal(Exception):
    """A request the API answers with a 4xx or 503 and a Problem body."""

    def __init__(self, status: int, error: str, fields: list[str] | None = None) -> None:
        """`fields` names the request fields at fault."""
        super().__init__(error)
        self.status = status
        self.problem = Problem(error=error, fields=fields or [])


@dataclass
class ServingState:
    """What the routes read: the scorer once loaded, the store's state, the log and metrics."""

    settings: ServingSettings
    key: str | None
    log: PredictionLog
    staging: str | None = None
    scorer: Scorer | None = None
    probe: StoreProbe | None = None
    observe: Callable[[Scored], None] = field(default=lambda scored: None)

    def unavailable(self) -> str | None:
        """Why predictions get 503 now, or None."""
        if self.scorer is None or self.probe is None:
            return LOADING
        return self.probe.state.reason

    def readiness(self) -> Readiness:
        """The /readyz body."""
        reason = self.unavailable()
        return Readiness(
            ready=reason is None,
            reason=reason,
            auth="on" if self.key else "off",
            model_version=self.scorer.served.version if self.scorer else None,
            staging=self.staging,
            online_store=self.probe.state if self.probe else None,
        )


async def _answer(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    start = {"type": "http.response.start", "status": status, "headers": head + (headers or [])}
    await send(start)
    await send({"type": "http.response.body", "body": body})


def _json_of(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


def _field_names(error: ValidationError) -> list[str]:
    """The request fields a validation error is about, as dotted paths (`transactions.3.amount`)."""
    names = []
    for detail in error.errors():
        location = [str(part) for part in detail["loc"]]
        name = ".".join(location) if location else "body"
        if name not in names:
            names.append(name)
    return names


@contextmanager
def _invalid_body_refused() -> Iterator[None]:
    """Turn a validation error of the body into a 400 naming the fields at fault."""
    try:
        yield
    except ValidationError as error:
        raise Refusal(400, _describe(error), _field_names(error)) from None


def _describe(error: ValidationError) -> str:
    """One clause per broken rule, without the input values or pydantic's help links."""
    clauses = []
    for detail in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in detail["loc"]) or "body"
        clauses.append(f"{where}: {detail['msg']}")
    return "; ".join(clauses)


class PredictionApi:
    """The mounted ASGI app and the checks in front of the scorer."""

    def __init__(self, state: ServingState, document: Callable[[], dict[str, Any]]) -> None:
        """Routes over `state`; `document` builds the OpenAPI document on first request."""
        self.state = state
        self.settings = state.settings
        self._key = state.key.encode() if state.key else None
        self._document = document
        self._document_bytes: bytes | None = None
        self._batcher = Batcher(self._score, self._record, state.settings.max_batch_size)
        self.too_large = (
            f"request body over {self.settings.max_body_bytes} bytes (serving.max_body_bytes)"
        )
        self.readiness = _Endpoint(self, self.readyz)
        self.app = Starlette(
            routes=[
                Route("/predict", _Endpoint(self, self.predict)),
                Route("/predict_batch", _Endpoint(self, self.predict_batch)),
                Route("/docs.json", _Endpoint(self, self.docs)),
            ]
        )

    async def predict(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        """Score one transaction."""
        body = await self._checked_body(scope, receive)
        explain = self._explain(scope)
        with _invalid_body_refused():
            transaction = Transaction.model_validate_json(body)
        self._check_times([transaction], "event_timestamp")
        scored = await self._scored([transaction], explain)
        return 200, _json_of(scored.predictions[0])

    async def predict_batch(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        """Score up to serving.max_batch_size transactions with one lookup and one model call."""
        body = await self._checked_body(scope, receive)
        explain = self._explain(scope)
        with _invalid_body_refused():
            batch = TransactionBatch.model_validate_json(body)
        if len(batch.transactions) > self.settings.max_batch_size:
            raise Refusal(
                400,
                f"transactions: at most {self.settings.max_batch_size} per request "
                "(serving.max_batch_size)",
                ["transactions"],
            )
        self._check_times(batch.transactions, "transactions.{row}.event_timestamp")
        scored = await self._scored(batch.transactions, explain)
        return 200, PREDICTIONS.dump_json(scored.predictions)

    async def readyz(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        """200 with what is served when ready; 503 with the reason otherwise."""
        self._require_method(scope, "GET")
        readiness = self.state.readiness()
        return (200 if readiness.ready else 503), _json_of(readiness)

    async def docs(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        """The OpenAPI document."""
        self._require_method(scope, "GET")
        if self._document_bytes is None:
            self._document_bytes = json.dumps(self._document()).encode()
        return 200, self._document_bytes

    def _require_method(self, scope: Scope, method: str) -> None:
        if scope["method"] != method:
            raise Refusal(405, f"use {method}")

    async def _checked_body(self, scope: Scope, receive: Receive) -> bytes:
        """The body of an authorised JSON POST within the size limit."""
        self._require_method(scope, "POST")
        headers = dict(scope["headers"])
        if self._key is not None:
            supplied = headers.get(b"x-api-key", b"")
            if not hmac.compare_digest(supplied, self._key):
                raise Refusal(401, "missing or wrong API key: send it as X-API-Key")
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media != b"application/json":
            raise Refusal(415, "send the body as Content-Type: application/json")
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                raise Refusal(400, "Content-Length is not a number", ["Content-Length"])
            if int(declared) > self.settings.max_body_bytes:
                await _discard(receive, DRAIN_LIMIT)
                raise Refusal(413, self.too_large)
        return await self._read(receive)

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.settings.max_body_bytes:
                if more:
                    await _discard(receive, DRAIN_LIMIT)
                raise Refusal(413, self.too_large)
        return b"".join(chunks)

    def _explain(self, scope: Scope) -> bool:
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        value = query.get("explain", "").lower()
        if value not in TRUE + FALSE:
            raise Refusal(400, "explain: use true or false", ["explain"])
        return value in TRUE

    def _check_times(self, transactions: list[Transaction], name: str) -> None:
        """Refuse event times ahead of the clock by more than the allowed skew."""
        latest = datetime.now(timezone.utc) + timedelta(seconds=self.settings.max_clock_skew_s)
        ahead = [row for row, t in enumerate(transactions) if t.event_timestamp > latest]
        if ahead:
            names = [name.format(row=row) for row in ahead]
            raise Refusal(
                400,
                f"{names[0]}: more than {self.settings.max_clock_skew_s} s ahead of the server's "
                "clock (serving.max_clock_skew_s)",
                names,
            )

    async def _scored(self, transactions: list[Transaction], explain: bool) -> Scored:
        unavailable = self.state.unavailable()
        if unavailable is not None:
            raise Refusal(503, unavailable)
        try:
            return await self._batcher.submit(transactions, explain)
        except OnlineStoreUnavailableError as error:
            raise Refusal(503, str(error)) from None

    def _score(self, transactions: list[Transaction], explain: bool) -> Scored:
        """On the scoring thread: one lookup and one predict for a whole batch."""
        scorer = self.state.scorer
        if scorer is None:
            raise OnlineStoreUnavailableError(LOADING)
        return scorer.score(transactions, explain=explain)

    def _record(self, transactions: list[Transaction], scored: Scored) -> None:
        """On the scoring thread, once the answers are out: the metrics, the shadow, the log."""
        self.state.observe(scored)
        shadow = self.state.scorer.shadow(scored) if self.state.scorer else None
        self.state.log.append(_log_entries(transactions, scored, shadow))


def _log_entries(
    transactions: list[Transaction], scored: Scored, shadow: list[ShadowScore] | None
) -> list[dict[str, Any]]:
    entries = []
    for row, (transaction, prediction) in enumerate(
        zip(transactions, scored.predictions, strict=True)
    ):
        entry: dict[str, Any] = {
            "transaction_id": transaction.transaction_id,
            "customer_id": transaction.customer_id,
            "event_timestamp": transaction.event_timestamp.isoformat(),
            "model_version": prediction.model_version,
            "served_by": prediction.served_by,
            "fraud_probability": prediction.fraud_probability,
            "is_fraud": prediction.is_fraud,
            "features_missing": prediction.features_missing,
            "features": features_entry(scored.inputs, row),
        }
        if prediction.reasons is not None:
            entry["reasons"] = [reason.model_dump() for reason in prediction.reasons]
        if shadow is not None:
            entry["shadow"] = {
                "model_version": shadow[row].model_version,
                "fraud_probability": shadow[row].fraud_probability,
                "is_fraud": shadow[row].is_fraud,
            }
        entries.append(entry)
    return entries


async def _discard(receive: Receive, most: int) -> None:
    """Read (and drop) up to `most` bytes of the body, so the client gets to read our answer."""
    read, more = 0, True
    while more and read < most:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        more = message.get("more_body", False)


Handler = Callable[[Scope, Receive], Awaitable[tuple[int, bytes]]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ReadinessFirst:
    """ASGI middleware that answers /readyz itself, with the reason and the auth state.

    BentoML's router has a plain-text /readyz ahead of any mounted route; this one says why.
    """

    def __init__(self, app: ASGIApp, *, api: PredictionApi) -> None:
        """Wrap BentoML's app."""
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Take /readyz; pass everything else on."""
        if scope["type"] == "http" and scope["path"] == "/readyz":
            await self.api.readiness(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _Endpoint:
    """An ASGI endpoint around a handler: any method reaches it, refusals become JSON."""

    def __init__(self, api: PredictionApi, handler: Handler) -> None:
        self.api = api
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            status, body = await self.handler(scope, receive)
        except Refusal as refusal:
            allow = [(b"allow", b"GET" if scope["path"] in ("/readyz", "/docs.json") else b"POST")]
            await _answer(
                send,
                refusal.status,
                _json_of(refusal.problem),
                allow if refusal.status == 405 else None,
            )
            return
        await _answer(send, status, body)
