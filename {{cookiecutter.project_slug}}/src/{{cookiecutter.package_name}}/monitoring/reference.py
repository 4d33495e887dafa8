"""The drift reference: model inputs, scores and labels of a champion's recent training rows.

It is logged with the model's MLflow run when the model is registered, so monitoring compares
against exactly what the champion learned from, wherever the training ran.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from {{ cookiecutter.package_name }}.data.contract import LABEL
from {{ cookiecutter.package_name }}.features.request_time import encode_categories
from {{ cookiecutter.package_name }}.model import registry
from {{ cookiecutter.package_name }}.model.train import TrainedModel
from {{ cookiecutter.package_name }}.monitoring.drift import SCORE
from {{ cookiecutter.package_name }}.settings import Workspace

ARTIFACT = "reference/reference.parquet"


def drift_reference(model: TrainedModel, rows: pd.DataFrame) -> pd.DataFrame:
    """The model's inputs of `rows`, its score for each and the label."""
    inputs = encode_categories(rows)[model.features].reset_index(drop=True)
    return inputs.assign(**{SCORE: model.predict(inputs), LABEL: rows[LABEL].to_numpy()})


def log_reference(reference: pd.DataFrame) -> None:
    """Attach the reference to the active MLflow run."""
    import mlflow

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(ARTIFACT).name
        reference.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), str(Path(ARTIFACT).parent))


def load_reference(settings: Workspace, version: str) -> pd.DataFrame:
    """The reference logged with a registered version."""
    import mlflow

    run_id = (
        registry.mlflow_client(settings)
        .get_model_version(registry.model_name(settings), version)
        .run_id
    )
    with tempfile.TemporaryDirectory() as folder:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=ARTIFACT, dst_path=folder
        )
        return pd.read_parquet(path)
