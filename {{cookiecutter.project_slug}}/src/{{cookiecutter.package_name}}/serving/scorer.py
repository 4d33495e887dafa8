"""Score transactions the way the service does, without HTTP: Feast lookup, features, predict.

The service, the FastAPI baseline of the benchmark and the in-process floor all call this one
class, so they measure the same work.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import xgboost as xgb

from {{ cookiecutter.package_name }}.features.request_time import request_time_columns
from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures
from {{ cookiecutter.package_name }}.model.train import TrainedModel, resolve_device
from {{ cookiecutter.package_name }}.serving.schemas import Prediction, Transaction
from {{ cookiecutter.package_name }}.settings import Settings

logger = logging.getLogger(__name__)


class OnlineStoreUnavailableError(RuntimeError):
    """The online store did not answer: the service says 503, not 500."""


@dataclass(frozen=True)
class Scored:
    """The predictions and the model inputs they were computed from (for the prediction log)."""

    predictions: list[Prediction]
    inputs: dict[str, np.ndarray]


@dataclass(frozen=True)
class ServedModel:
    """The model and what identifies it in every answer."""

    model: TrainedModel
    version: str
    lineage_id: str


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
        self, settings: Settings, served: ServedModel, features: CustomerFeatures, device: str
    ) -> None:
        """Configure the booster once: one thread per call on CPU, or the GPU."""
        self.settings = settings
        self.served = served
        self.features = features
        self.device = device
        self.booster: xgb.Booster = served.model.booster
        self.booster.set_param({"device": device, "nthread": 1})
        self.columns = served.model.features

    def inputs(self, transactions: list[Transaction]) -> tuple[dict[str, np.ndarray], list[bool]]:
        """The model's input columns and, per transaction, whether the customer was unknown.

        Plain arrays, no pandas: one request costs a Feast lookup and a few numpy operations.
        """
        customers = [t.customer_id for t in transactions]
        unique = list(dict.fromkeys(customers))
        try:
            online = self.features.online_features(unique)
        except Exception as error:
            raise OnlineStoreUnavailableError(
                f"the online feature store is unavailable ({type(error).__name__}): "
                "run `make features` or check the store's connection settings"
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

    def score(self, transactions: list[Transaction]) -> Scored:
        """One prediction per transaction, in order, with the inputs the model saw."""
        inputs, unknown = self.inputs(transactions)
        matrix = np.column_stack([inputs[name] for name in self.columns]).astype(np.float32)
        probabilities = self.booster.inplace_predict(matrix)
        threshold = self.served.model.threshold
        predictions = [
            Prediction(
                transaction_id=transaction.transaction_id,
                fraud_probability=float(probability),
                is_fraud=bool(probability >= threshold),
                threshold=threshold,
                model_version=self.served.version,
                lineage_id=self.served.lineage_id,
                features_missing=missing,
            )
            for transaction, probability, missing in zip(
                transactions, probabilities, unknown, strict=True
            )
        ]
        return Scored(predictions, inputs)
