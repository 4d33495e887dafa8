"""The service's OpenAPI 3.1 document, served at /docs.json and built from serving/schemas.py.

OpenAPI 3.1 uses JSON Schema 2020-12, which is what pydantic writes, so the request and response
models go in as they are. Every status the API can answer is listed with its body's schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from {{ cookiecutter.package_name }}.serving.schemas import (
    Prediction,
    Problem,
    Readiness,
    Transaction,
    TransactionBatch,
)

REF = "#/components/schemas/{model}"
REFUSALS = {
    "400": "the body is not valid JSON of the schema, or a field is out of range; see `fields`",
    "401": "missing or wrong X-API-Key (only when the service has a key)",
    "405": "the method is not POST",
    "413": "the body is larger than serving.max_body_bytes",
    "415": "the body is not application/json",
    "503": "the model is loading or the online store is down or empty: retry later",
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _prediction_operation(
    summary: str, body: type[BaseModel], answer: dict[str, Any]
) -> dict[str, Any]:
    problem = _json(_ref(Problem))
    return {
        "post": {
            "summary": summary,
            "operationId": summary.split()[0].lower() + "_" + body.__name__.lower(),
            "parameters": [
                {
                    "name": "explain",
                    "in": "query",
                    "required": False,
                    "description": "add the top serving.explain_top_k reasons to each prediction",
                    "schema": {"type": "boolean", "default": False},
                }
            ],
            "requestBody": {"required": True, "content": _json(_ref(body))},
            "responses": {
                "200": {"description": "the prediction(s)", "content": _json(answer)},
                **{
                    status: {"description": text, "content": problem}
                    for status, text in REFUSALS.items()
                },
            },
        }
    }


def openapi_document(title: str, version: str, *, keyed: bool) -> dict[str, Any]:
    """The whole document; `keyed` adds the X-API-Key security scheme to the predictions."""
    requests: list[type[BaseModel]] = [Transaction, TransactionBatch, Problem, Readiness]
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(m, "validation") for m in requests]
    models.append((Prediction, "serialization"))
    _, definitions = models_json_schema(models, ref_template=REF)
    schemas = definitions.get("$defs", {})
    predictions = {
        "/predict": _prediction_operation("Score one transaction", Transaction, _ref(Prediction)),
        "/predict_batch": _prediction_operation(
            "Score transactions together (up to serving.max_batch_size)",
            TransactionBatch,
            {"type": "array", "items": _ref(Prediction)},
        ),
    }
    if keyed:
        for item in predictions.values():
            item["post"]["security"] = [{"apiKey": []}]
    readiness = _json(_ref(Readiness))
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": {
            **predictions,
            "/readyz": {
                "get": {
                    "summary": "Ready to serve: model loaded, online store reachable and filled",
                    "operationId": "readyz",
                    "responses": {
                        "200": {"description": "ready", "content": readiness},
                        "503": {"description": "not ready, with the reason", "content": readiness},
                    },
                }
            },
            "/livez": {
                "get": {
                    "summary": "The process answers",
                    "operationId": "livez",
                    "responses": {"200": {"description": "alive"}},
                }
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
    }
