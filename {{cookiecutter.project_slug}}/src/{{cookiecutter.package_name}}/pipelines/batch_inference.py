"""The batch-inference pipeline: score a batch of transactions with the champion."""

from __future__ import annotations

from zenml import pipeline

from {{ cookiecutter.package_name }}.settings import FeatureSettings
from {{ cookiecutter.package_name }}.steps.inference import load_batch, score_batch


@pipeline(enable_cache=False)
def batch_inference(features: FeatureSettings, path: str, newest: int) -> None:
    """Batch -> champion + point-in-time features -> the `predictions` artifact."""
    score_batch(load_batch(path, newest), features)
