"""Steps of the batch-inference pipeline (annotations stay evaluated: ZenML reads them)."""

from typing import Annotated

import pandas as pd
from zenml import step

from {{ cookiecutter.package_name }}.data.contract import TIME
from {{ cookiecutter.package_name }}.data.files import read_transactions_to_score
from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures
from {{ cookiecutter.package_name }}.features.store import open_offline_store
from {{ cookiecutter.package_name }}.model import registry
from {{ cookiecutter.package_name }}.settings import FeatureSettings, load_workspace


@step
def load_batch(path: str, newest: int) -> Annotated[pd.DataFrame, "batch"]:
    """The transactions to score (the newest `newest` of the file; 0 for all), contract-checked."""
    return read_transactions_to_score(load_workspace(), path, newest)


@step
def score_batch(
    batch: pd.DataFrame, features: FeatureSettings
) -> Annotated[pd.DataFrame, "predictions"]:
    """Score with the champion on point-in-time features; every row names the model version.

    The predictions are this step's artifact, kept in the stack's artifact store (the cluster's
    bucket on Kubeflow): a pod's own disk vanishes with it.
    """
    workspace = load_workspace()
    version = registry.require_champion(workspace)
    model = registry.load_version(workspace, version)
    store = open_offline_store(workspace)
    rows = CustomerFeatures(workspace, features, store).historical_features(batch)
    probability = model.predict(rows)
    return pd.DataFrame(
        {
            "transaction_id": rows["transaction_id"].to_numpy(),
            "customer_id": rows["customer_id"].to_numpy(),
            TIME: rows[TIME].to_numpy(),
            "fraud_probability": probability,
            "is_fraud": (probability >= model.threshold).astype("int64"),
            "threshold": model.threshold,
            "model_version": version,
        }
    )
