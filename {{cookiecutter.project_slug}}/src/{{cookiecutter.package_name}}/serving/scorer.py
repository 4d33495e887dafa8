"""Score transactions the way the service does, without HTTP: Feast lookup, features, predict.

The service, the FastAPI baseline of the benchmark and the in-process floor all call this one
class, so they measure the same work.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass

import numpy as np

from {{ cookiecutter.package_name }}.features.request_time import request_time_columns
from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures
from {{ cookiecutter.package_name }}.model.explain import top_contributions
from {{ cookiecutter.package_name }}.model.train import TrainedModel, resolve_device
from {{ cookiecutter.package_name }}.serving.schemas import Prediction, Reason, Transaction
from {{ cookiecutter.package_name }}.settings import Settings

logger = logging.getLogger(__name__)


class OnlineStoreUnavailableError(RuntimeError):
    """The online store did not answer: the service says 503, not 500."""


@dataclass(frozen=True)
class ServedModel:
    """A model and what identifies it in every answer."""

    model: TrainedModel
    version: str
    lineage_id: str


@dataclass(frozen=True)
class StagingRoute:
    """How the staging model takes part: `shadow` scores every request, `canary` answers a share.

    A canary's share is sticky: a customer always lands on the same model.
    """

    model: ServedModel
    mode: str
    canary_percent: float = 0.0

    def answers(self, customer_id: int) -> bool:
        """Whether the staging model answers this customer (canary mode only)."""
        if self.mode != "canary":
            return False
        digest = hashlib.blake2b(str(customer_id).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % 10_000 < self.canary_percent * 100


@dataclass(frozen=True)
class ShadowScore:
    """What the staging model said about a request the champion answered."""

    model_version: str
    fraud_probability: float
    is_fraud: bool


@dataclass(frozen=True)
class Scored:
    """The predictions and the model inputs they were computed from."""

    predictions: list[Prediction]
    inputs: dict[str, np.ndarray]

    def rows(self, start: int, end: int) -> Scored:
        """The part of a batch that one request sent."""
        return Scored(
            self.predictions[start:end],
            {name: column[start:end] for name, column in self.inputs.items()},
        )


def serving_device(requested: str) -> str:
    """The device to predict on; a CUDA request on a machine without a GPU falls back to CPU."""
    visible = resolve_device("auto")
    if requested == "cuda" and visible != "cuda":
        logger.warning("CUDA requested but no GPU is visible: falling back to CPU")
        return "cpu"
    return visible if requested == "auto" else requested


class Scorer:
    """Feast online features + request-time features + XGBoost, for one or many transactions."""

    def __init__(
        self,
        settings: Settings,
        served: ServedModel,
        features: CustomerFeatures,
        device: str,
        staging: StagingRoute | None = None,
    ) -> None:
        """Configure the boosters once: one thread per call on CPU, or the GPU."""
        self.settings = settings
        self.served = served
        self.staging = staging
        self.features = features
        self.device = device
        self.columns = served.model.features
        for model in (served, staging.model if staging else None):
            if model is not None:
                model.model.booster.set_param({"device": device, "nthread": 1})
        if staging is not None and staging.model.model.features != self.columns:
            raise ValueError(
                f"the staging model (version {staging.model.version}) reads other inputs than "
                f"the champion (version {served.version}): serve it after a redeploy instead"
            )

    def inputs(self, transactions: list[Transaction]) -> tuple[dict[str, np.ndarray], list[bool]]:
        """The model's input columns and, per transaction, whether the customer was unknown.

        Plain arrays, no pandas: one request costs a Feast lookup and a few numpy operations.
        """
        customers = [t.customer_id for t in transactions]
        unique = list(dict.fromkeys(customers))
        try:
            online = self.features.online_features(unique)
        except Exception as error:
            logger.warning("online store lookup failed: %s: %s", type(error).__name__, error)
            raise OnlineStoreUnavailableError(
                "the online feature store is unavailable: retry later; operators: check the "
                "store's connection settings or run `make features`"
            ) from error
        row_of = {customer: row for row, customer in enumerate(unique)}
        rows = [row_of[customer] for customer in customers]
        columns: dict[str, np.ndarray] = {
            name: np.asarray(values, dtype=object)[rows] for name, values in online.columns.items()
        }
        columns["amount"] = np.array([t.amount for t in transactions])
        columns["country"] = np.array([t.country for t in transactions], dtype=object)
        columns["merchant_category"] = np.array([t.merchant_category for t in transactions])
        columns["channel"] = np.array([t.channel for t in transactions])
        columns["event_unix"] = np.array(
            [math.floor(t.event_timestamp.timestamp()) for t in transactions], dtype=np.int64
        )
        columns |= request_time_columns(columns, self.settings.features)
        inputs = {name: np.asarray(columns[name], dtype=float) for name in self.columns}
        missing = set(online.missing)
        return inputs, [customer in missing for customer in customers]

    def score(self, transactions: list[Transaction], *, explain: bool = False) -> Scored:
        """One prediction per transaction, in order, with the inputs the model saw.

        With a canary, the staging model answers its share of customers; in shadow mode it
        scores every transaction beside the champion, which answers: that happens in `shadow`,
        after the answers are out, so shadowing costs the caller nothing.
        """
        inputs, unknown = self.inputs(transactions)
        matrix = self._matrix(inputs)
        staging = self.staging
        on_staging = [staging is not None and staging.answers(t.customer_id) for t in transactions]
        answering = [staging.model if use and staging else self.served for use in on_staging]
        probabilities = self.served.model.booster.inplace_predict(matrix)
        if staging is not None and any(on_staging):
            staged = staging.model.model.booster.inplace_predict(matrix)
            probabilities = np.where(on_staging, staged, probabilities)
        reasons = self._reasons(matrix, answering) if explain else [None] * len(transactions)
        predictions = [
            Prediction(
                transaction_id=transaction.transaction_id,
                fraud_probability=float(probability),
                is_fraud=bool(probability >= model.model.threshold),
                threshold=model.model.threshold,
                model_version=model.version,
                lineage_id=model.lineage_id,
                features_missing=missing,
                served_by="staging" if model is not self.served else "champion",
                reasons=reason,
            )
            for transaction, probability, missing, model, reason in zip(
                transactions, probabilities, unknown, answering, reasons, strict=True
            )
        ]
        return Scored(predictions, inputs)

    def shadow(self, scored: Scored) -> list[ShadowScore] | None:
        """What the staging model says about rows the champion answered, in shadow mode only."""
        staging = self.staging
        if staging is None or staging.mode != "shadow":
            return None
        staged = staging.model.model.booster.inplace_predict(self._matrix(scored.inputs))
        threshold, version = staging.model.model.threshold, staging.model.version
        return [ShadowScore(version, float(p), bool(p >= threshold)) for p in staged]

    def _matrix(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return np.column_stack([inputs[name] for name in self.columns]).astype(np.float32)

    def _reasons(self, matrix: np.ndarray, answering: list[ServedModel]) -> list[list[Reason]]:
        """The top contributions of each row, from the model that answered it."""
        k = self.settings.serving.explain_top_k
        reasons: list[list[Reason]] = [[] for _ in answering]
        for model in {id(m): m for m in answering}.values():
            rows = [row for row, m in enumerate(answering) if m is model]
            top = top_contributions(model.model.booster, matrix[rows], self.columns, k)
            for row, contributions in zip(rows, top, strict=True):
                reasons[row] = [
                    Reason(feature=f, value=v if v == v else None, contribution=c)
                    for f, v, c in contributions
                ]
        return reasons
