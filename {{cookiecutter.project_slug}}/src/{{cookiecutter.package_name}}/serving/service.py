"""The online service: `bentoml serve {{ cookiecutter.package_name }}.serving.service:FraudDetector`.

BentoML is the server and the packaging (workers, /livez, /metrics, the Bento and its image);
the routes are the lean ASGI app of serving/api.py, mounted at `/`. The champion imported by
`make bento` (from BentoML's store; a Bento carries it) and the Feast online store load in the
background: `/livez` answers at once, `/readyz` turns 200 once both are there and goes back to
503 while the online store is down or emptied. With `serving.staging_mode` the staging model
shadows the champion or answers a canary share of customers.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from pathlib import Path
from typing import Any, cast

import bentoml
from bentoml.exceptions import NotFound

from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures
from {{ cookiecutter.package_name }}.model.train import TrainedModel
from {{ cookiecutter.package_name }}.serving.api import PredictionApi, ReadinessFirst, ServingState
from {{ cookiecutter.package_name }}.serving.bento import MODEL_FILE, staging_model_name, use_project_bentoml
from {{ cookiecutter.package_name }}.serving.health import StoreProbe
from {{ cookiecutter.package_name }}.serving.openapi import openapi_document
from {{ cookiecutter.package_name }}.serving.prediction_log import PredictionLog
from {{ cookiecutter.package_name }}.serving.scorer import Scored, Scorer, ServedModel, StagingRoute, serving_device
from {{ cookiecutter.package_name }}.serving.tcp import disable_nagle_on_listening_sockets
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, load_settings

logger = logging.getLogger(__name__)
SETTINGS = load_settings()
SERVING = SETTINGS.serving
use_project_bentoml(SETTINGS)
RETRY_SECONDS = 5
try:
    KEY = SERVING.key()
except ValueError as error:
    raise SystemExit(f"error: {error}") from None
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
STORE_READY = bentoml.metrics.Gauge(
    namespace="{{ cookiecutter.package_name }}",
    name="online_store_ready",
    documentation="1 when the online store answers and holds the materialized features, else 0",
    multiprocess_mode="livemin",
)


def _observe(scored: Scored) -> None:
    for prediction in scored.predictions:
        SCORES.observe(prediction.fraud_probability)
        if prediction.features_missing:
            UNKNOWN_CUSTOMERS.inc()


STATE = ServingState(
    settings=SERVING,
    key=KEY,
    log=PredictionLog(
        SERVING, SETTINGS.resolve(SERVING.prediction_log), bentoml.server_context.worker_index or 1
    ),
    observe=_observe,
)
API = PredictionApi(
    STATE,
    lambda: openapi_document("{{ cookiecutter.package_name }}", "{{ cookiecutter.version }}", keyed=KEY is not None),
)


@bentoml.service(
    name="{{ cookiecutter.package_name }}",
    workers=SERVING.workers,
    resources={"gpu": 1} if SERVING.device == "cuda" else {"cpu": "1"},
    traffic={"timeout": 30},
    endpoints={"livez": "/livez", "readyz": "/readyz"},
    metrics={"enabled": True, "namespace": "{{ cookiecutter.package_name }}"},
    # OpenTelemetry and access logs cost a fifth of each request: /metrics and the prediction
    # log record each one instead.
    tracing={"excluded_urls": ["/predict", "/predict_batch", "/readyz"]},
    logging={"access": {"enabled": False}},
)
@bentoml.asgi_app(API.app, path="/")
class FraudDetector:
    """Fraud probability of card transactions, with the model and data that produced it."""

    def __init__(self) -> None:
        """Load before taking requests; if that fails, keep trying in the background.

        Uvicorn accepts nothing until this returns, so a worker that replaces a dead one takes
        no request before it can score; one that cannot load answers 503 and says why.
        """
        disable_nagle_on_listening_sockets()
        if KEY is None:
            logger.warning(
                "serving WITHOUT an API key: anyone who reaches the port can score; set "
                "%sSERVING__API_KEY to require X-API-Key",
                ENV_PREFIX,
            )
        try:
            self._serve(self._scorer())
        except Exception as error:
            logger.warning("not ready: %s; retrying every %s s", error, RETRY_SECONDS)
            threading.Thread(target=self._load, name="load-model", daemon=True).start()

    def _load(self) -> None:
        """Keep trying until the model and the store load: the pod stays unready and says why."""
        while True:
            time.sleep(RETRY_SECONDS)
            try:
                scorer = self._scorer()
            except Exception as error:
                logger.warning("not ready: %s; retrying in %s s", error, RETRY_SECONDS)
            else:
                self._serve(scorer)
                return

    def _serve(self, scorer: Scorer) -> None:
        STATE.probe = StoreProbe(
            scorer.features.materialized_at, on_change=lambda ok: STORE_READY.set(int(ok))
        ).start()
        STATE.scorer = scorer
        # What is loaded now lives as long as the worker: out of the collector's sight,
        # full collections stay short (they stalled 1% of requests by 60-100 ms).
        gc.collect()
        gc.freeze()

    def _scorer(self) -> Scorer:
        champion = _stored_model(f"{SERVING.model_name}:latest")
        staging = None
        if SERVING.staging_mode != "off":
            staging = self._staging_route()
        device = serving_device(SERVING.device)
        scorer = Scorer(SETTINGS, champion, CustomerFeatures.of(SETTINGS), device, staging)
        logger.info("serving MLflow version %s on %s", champion.version, device)
        return scorer

    def _staging_route(self) -> StagingRoute | None:
        try:
            model = _stored_model(f"{staging_model_name(SETTINGS)}:latest")
        except LookupError:
            logger.warning(
                "serving.staging_mode is %s but the Bento holds no staging model: serving the "
                "champion alone (stage a version, then make bento)",
                SERVING.staging_mode,
            )
            return None
        STATE.staging = f"{SERVING.staging_mode} v{model.version}"
        logger.info("staging version %s in %s mode", model.version, SERVING.staging_mode)
        return StagingRoute(model, SERVING.staging_mode, SERVING.canary_percent)

    def __is_ready__(self) -> bool:
        """Ready when /readyz says so (ReadinessFirst answers /readyz before BentoML does)."""
        return STATE.unavailable() is None

    @bentoml.on_shutdown
    def _flush_log(self) -> None:
        """Write the queued prediction-log lines before the worker exits."""
        STATE.log.close()


# `bentoml.service` made the class a Service, which carries the ASGI middleware.
cast(Any, FraudDetector).add_asgi_middleware(ReadinessFirst, api=API)


def _stored_model(tag: str) -> ServedModel:
    try:
        stored = bentoml.models.get(tag)
    except NotFound:
        raise LookupError(f"no model {tag} in BentoML's store: run make bento") from None
    model = TrainedModel.from_bytes(Path(stored.path_of(MODEL_FILE)).read_bytes())
    labels = stored.info.labels
    return ServedModel(model, labels["mlflow_version"], labels["lineage_id"])
