"""Reasons for the scores: SHAP values from XGBoost's own TreeSHAP (`pred_contribs`).

Global importance is the mean absolute SHAP value of each feature over held-out rows: how much,
on average, a feature moves a score (in log-odds). No extra library is needed, and the values
are exact for the trees. They cost about a hundred predictions each, so a sample is explained.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xgboost as xgb

from {{ cookiecutter.package_name }}.features.request_time import encode_categories
from {{ cookiecutter.package_name }}.model.train import TrainedModel

EXPLAINED_ROWS = 2000


def global_importance(model: TrainedModel, frame: pd.DataFrame) -> dict[str, float]:
    """Mean |SHAP| per feature over (at most EXPLAINED_ROWS of) `frame`, largest first."""
    rows = frame.tail(EXPLAINED_ROWS)
    matrix = xgb.DMatrix(encode_categories(rows)[model.features])
    contributions = np.asarray(model.booster.predict(matrix, pred_contribs=True))
    mean_abs = np.abs(contributions[:, : len(model.features)]).mean(axis=0)  # last column: bias
    ranked = sorted(zip(model.features, mean_abs, strict=True), key=lambda item: -item[1])
    return {name: round(float(value), 6) for name, value in ranked}


def top_contributions(
    booster: xgb.Booster, matrix: np.ndarray, features: list[str], k: int
) -> list[list[tuple[str, float, float]]]:
    """Per row, the `k` largest SHAP contributions by size: (feature, value, contribution)."""
    contributions = np.asarray(
        booster.predict(xgb.DMatrix(matrix, feature_names=features), pred_contribs=True)
    )[:, : len(features)]
    largest = np.argsort(-np.abs(contributions), axis=1)[:, :k]
    return [
        [(features[i], float(matrix[row, i]), float(contributions[row, i])) for i in order]
        for row, order in enumerate(largest)
    ]
