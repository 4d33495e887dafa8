"""Steps of the batch-inference pipeline (annotations stay evaluated: ZenML reads them)."""

from datetime import datetime, timezone
from typing import Annotated

import pandas as pd
from zenml import step

from {{ cookiecutter.package_name }}.data.contract import TRANSACTIONS_TO_SCORE, read_table
from {{ cookiecutter.package_name }}.data.versioning import pull_missing
from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures
from {{ cookiecutter.package_name }}.features.store import open_offline_store
from {{ cookiecutter.package_name }}.model import registry
from {{ cookiecutter.package_name }}.settings import load_settings


@step
def load_batch(path: str, newest: int) -> Annotated[pd.DataFrame, "batch"]:
    """The transactions to score (the newest `newest` of the file; 0 for all), contract-checked."""
    settings = load_settings()
    source = settings.resolve(settings.project_root / path)
    pull_missing(settings, source)
    batch = read_table(source, TRANSACTIONS_TO_SCORE)
    return batch.sort_values("event_timestamp").tail(newest) if newest else batch


@step
def score_batch(batch: pd.DataFrame) -> Annotated[pd.DataFrame, "predictions"]:
    """Score with the champion on point-in-time features; every row names the model version."""
    settings = load_settings()
    version = registry.champion_version(settings)
    if version is None:
        raise RuntimeError("no champion model yet: run `make train` first")
    model = registry.load_version(settings, version)
    features = CustomerFeatures(settings, open_offline_store(settings)).historical_features(batch)
    probability = model.predict(features)
    return pd.DataFrame(
        {
            "transaction_id": features["transaction_id"].to_numpy(),
            "customer_id": features["customer_id"].to_numpy(),
            "event_timestamp": features["event_timestamp"].to_numpy(),
            "fraud_probability": probability,
            "is_fraud": (probability >= model.threshold).astype("int64"),
            "threshold": model.threshold,
            "model_version": version,
        }
    )


@step
def write_predictions(predictions: pd.DataFrame) -> Annotated[str, "predictions_path"]:
    """Write the predictions as Parquet under artifacts/predictions/, named by version and time."""
    settings = load_settings()
    version = predictions["model_version"].iloc[0]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = settings.resolve(settings.paths.artifacts_dir) / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"predictions_v{version}_{stamp}.parquet"
    predictions.to_parquet(path, index=False)
    return str(path)
