"""The online service: `bentoml serve {{ cookiecutter.package_name }}.serving.service:FraudDetector`.

It loads the champion imported by `make bento` (from BentoML's store; a Bento carries it, see
bentofile.yaml) and the Feast online store in the background: `/livez` answers at once, and
`/readyz` turns 200 only when both are loaded, also when the model is imported later. Each
request gets the customer's features from the `fraud_model_v1` feature service, the
request-time features from the same function as training, and one XGBoost `inplace_predict`;
every prediction is appended to the prediction log that monitoring reads.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Annotated, Any, cast

import bentoml
from bentoml.exceptions import NotFound, ServiceUnavailable
from pydantic import Field

from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures
from {{ cookiecutter.package_name }}.model.train import TrainedModel
from {{ cookiecutter.package_name }}.serving.bento import MODEL_FILE, use_project_bentoml
from {{ cookiecutter.package_name }}.serving.middleware import RequestGuard
from {{ cookiecutter.package_name }}.serving.prediction_log import PredictionLog
from {{ cookiecutter.package_name }}.serving.schemas import Prediction, Transaction
from {{ cookiecutter.package_name }}.serving.scorer import (
    OnlineStoreUnavailableError,
    Scorer,
    ServedModel,
    serving_device,
)
from {{ cookiecutter.package_name }}.settings import load_settings

logger = logging.getLogger(__name__)
SETTINGS = load_settings()
SERVING = SETTINGS.serving
use_project_bentoml(SETTINGS)
PREDICTION_ROUTES = ["/predict", "/predict_batch"]
RETRY_SECONDS = 5
_unavailable: str | None = None  # why this worker answers 503 now; read by the middleware
SCORES = bentoml.metrics.Histogram(
    namespace="{{ cookiecutter.package_name }}",
    name="fraud_probability",
    documentation="Fraud probability of each served prediction",
    buckets=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0),
)
UNKNOWN_CUSTOMERS = bentoml.metrics.Counter(
    namespace="{{ cookiecutter.package_name }}",
    name="unknown_customers",
    documentation="Predictions made without stored features (customer not in the online store)",
)


@bentoml.service(
    name="{{ cookiecutter.package_name }}",
    workers=SERVING.workers,
    resources={"gpu": 1} if SERVING.device == "cuda" else {"cpu": "1"},
    traffic={"timeout": 30},
    endpoints={"livez": "/livez", "readyz": "/readyz"},
    metrics={"enabled": True, "namespace": "{{ cookiecutter.package_name }}"},
    # The OpenTelemetry middleware costs about a fifth of each request; keep it off hot routes.
    # Access logs are off: /metrics and the prediction log record each request.
    tracing={"excluded_urls": PREDICTION_ROUTES},
    logging={"access": {"enabled": False}},
)
class FraudDetector:
    """Fraud probability of card transactions, with the model and data that produced it."""

    def __init__(self) -> None:
        """Start loading; requests before the load finishes get 503 and /readyz stays 503."""
        self.scorer: Scorer | None = None
        self.log = PredictionLog(SETTINGS.resolve(SERVING.prediction_log))
        threading.Thread(target=self._load, name="load-model", daemon=True).start()

    def _load(self) -> None:
        """Keep trying until the model and the store load: the pod stays unready and says why."""
        while True:
            try:
                self.scorer = self._scorer()
            except Exception as error:
                logger.warning("not ready: %s; retrying in %s s", error, RETRY_SECONDS)
                time.sleep(RETRY_SECONDS)
            else:
                return

    def _scorer(self) -> Scorer:
        tag = f"{SERVING.model_name}:latest"
        try:
            stored = bentoml.models.get(tag)
        except NotFound:
            raise LookupError(f"no model {tag} in BentoML's store: run make bento") from None
        model = TrainedModel.from_bytes(Path(stored.path_of(MODEL_FILE)).read_bytes())
        labels = stored.info.labels
        served = ServedModel(model, labels["mlflow_version"], labels["lineage_id"])
        device = serving_device(SERVING.device)
        scorer = Scorer(SETTINGS, served, CustomerFeatures.of(SETTINGS), device)
        logger.info("serving %s (MLflow version %s) on %s", stored.tag, served.version, device)
        return scorer

    def __is_ready__(self) -> bool:
        """Ready once the model and the online store are loaded."""
        return self.scorer is not None

    def _score(self, transactions: list[Transaction]) -> list[Prediction]:
        global _unavailable
        if self.scorer is None:
            _unavailable = "the model is still loading: retry when /readyz answers 200"
            raise ServiceUnavailable(_unavailable)
        try:
            scored = self.scorer.score(transactions)
        except OnlineStoreUnavailableError as error:
            _unavailable = str(error)
            raise ServiceUnavailable(_unavailable) from None
        _unavailable = None
        for prediction in scored.predictions:
            SCORES.observe(prediction.fraud_probability)
            if prediction.features_missing:
                UNKNOWN_CUSTOMERS.inc()
        self.log.append(transactions, scored)
        return scored.predictions

    @bentoml.api(route="/predict", input_spec=Transaction)
    async def predict(self, **transaction: Any) -> Prediction:
        """Score one transaction."""
        return self._score([Transaction.model_construct(**transaction)])[0]

    @bentoml.api(
        route="/predict_batch",
        batchable=True,
        max_batch_size=4 * SERVING.max_batch_size,
        max_latency_ms=SERVING.max_latency_ms,
    )
    async def predict_batch(
        self,
        transactions: Annotated[
            list[Transaction], Field(min_length=1, max_length=SERVING.max_batch_size)
        ],
    ) -> list[Prediction]:
        """Score up to `serving.max_batch_size` transactions; concurrent batches are merged.

        Adaptive batching: BentoML joins the lists of requests that arrive together (within
        `serving.max_latency_ms`) into one call, so one Feast lookup and one predict serve them.
        """
        return self._score(transactions)


# `bentoml.service` made the class a Service, which carries the ASGI middleware.
cast(Any, FraudDetector).add_asgi_middleware(
    RequestGuard,
    limit=SERVING.max_body_bytes,
    protected=tuple(PREDICTION_ROUTES),
    key=SERVING.api_key.get_secret_value() if SERVING.api_key is not None else None,
    reason=lambda: _unavailable,
)
