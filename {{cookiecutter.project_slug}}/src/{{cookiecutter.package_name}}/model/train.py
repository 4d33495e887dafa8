"""Train an XGBoost fraud model; the saved UBJSON file carries everything needed to use it.

The decision threshold and the feature names travel inside the model file as attributes, so a
model loaded from the registry scores exactly as it was evaluated. Models are never pickled.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

from {{ cookiecutter.package_name }}.data.contract import LABEL, TIME
from {{ cookiecutter.package_name }}.features.request_time import encode_categories
from {{ cookiecutter.package_name }}.settings import ModelSettings


@dataclass(frozen=True)
class TrainedModel:
    """A booster, its decision threshold and its input columns."""

    booster: xgb.Booster
    threshold: float
    features: list[str]

    def to_bytes(self) -> bytes:
        """UBJSON bytes of the booster, with threshold and features as attributes."""
        self.booster.set_attr(threshold=repr(self.threshold), features=",".join(self.features))
        return bytes(self.booster.save_raw(raw_format="ubj"))

    @classmethod
    def from_bytes(cls, data: bytes) -> TrainedModel:
        """Load a model written by `to_bytes`."""
        booster = xgb.Booster()
        booster.load_model(bytearray(data))
        return cls.from_booster(booster)

    @classmethod
    def from_booster(cls, booster: xgb.Booster) -> TrainedModel:
        """Wrap a booster whose attributes hold the threshold and features."""
        threshold, features = booster.attr("threshold"), booster.attr("features")
        if threshold is None or features is None:
            raise ValueError("the model file has no threshold/features attributes")
        return cls(booster=booster, threshold=float(threshold), features=features.split(","))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Fraud probabilities for the rows of `frame` (extra columns are ignored)."""
        matrix = xgb.DMatrix(encode_categories(frame)[self.features])
        return np.asarray(self.booster.predict(matrix))


def resolve_device(requested: str) -> str:
    """`auto` means CUDA when a GPU is visible (nvidia-smi lists one), otherwise CPU."""
    if requested != "auto":
        return requested
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "cpu"
    listing = subprocess.run([smi, "-L"], capture_output=True, text=True)
    return "cuda" if listing.returncode == 0 and "GPU" in listing.stdout else "cpu"


def booster_params(params: ModelSettings, seed: int) -> dict[str, object]:
    """XGBoost training parameters from the settings."""
    return {
        "objective": "binary:logistic",
        "eval_metric": ["aucpr", "logloss"],  # early stopping watches the last one
        "tree_method": "hist",
        "device": resolve_device(params.device),
        "max_depth": params.max_depth,
        "learning_rate": params.learning_rate,
        "subsample": params.subsample,
        "colsample_bytree": params.colsample_bytree,
        "min_child_weight": params.min_child_weight,
        "seed": seed,
        "nthread": 2,
    }


def split_by_time(frame: pd.DataFrame, newest_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Older rows and the newest `newest_fraction` of rows; never shuffled across time."""
    ordered = frame.sort_values(TIME, kind="stable")
    cut = int(len(ordered) * (1 - newest_fraction))
    return ordered.iloc[:cut], ordered.iloc[cut:]


def train(
    train_df: pd.DataFrame, params: ModelSettings, features: list[str], seed: int = 42
) -> TrainedModel:
    """Fit on the older rows, stop early on the newest ones, set the threshold at the target FPR."""
    fit, valid = split_by_time(encode_categories(train_df), params.validation_fraction)
    fit_matrix = xgb.DMatrix(fit[features], label=fit[LABEL])
    valid_matrix = xgb.DMatrix(valid[features], label=valid[LABEL])
    booster = xgb.train(
        booster_params(params, seed),
        fit_matrix,
        num_boost_round=params.n_estimators,
        evals=[(valid_matrix, "valid")],
        early_stopping_rounds=params.early_stopping_rounds,
        verbose_eval=False,
    )
    booster = booster[: booster.best_iteration + 1]
    scores = booster.predict(valid_matrix)
    negatives = scores[valid[LABEL].to_numpy() == 0]
    threshold = float(np.quantile(negatives, 1 - params.target_fpr)) if len(negatives) else 0.5
    return TrainedModel(booster=booster, threshold=threshold, features=list(features))
