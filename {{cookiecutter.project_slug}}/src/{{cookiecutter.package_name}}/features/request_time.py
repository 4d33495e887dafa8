"""Features known only when a transaction arrives, computed the same way for training and serving.

Feast supplies the customer's state after their previous transaction; this module combines it with
the transaction itself (amount, merchant, channel, country, time). Training calls it on the
point-in-time training set and serving on each request, so there is one definition of each model
input.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.data.generate import CHANNELS, MERCHANT_CATEGORIES
from {{ cookiecutter.package_name }}.features.build import window_features
from {{ cookiecutter.package_name }}.settings import FeatureSettings

REQUEST_COLUMNS = ("amount", "merchant_category", "channel", "country", "event_timestamp")
CATEGORICAL = {"merchant_category": MERCHANT_CATEGORIES, "channel": CHANNELS}
DERIVED = ("hour", "is_night", "is_foreign", "days_since_previous", "amount_to_avg")
STORED = ("txn_count_total", "avg_amount", "night_share", "foreign_share")


def model_columns(settings: FeatureSettings) -> list[str]:
    """The model's inputs, in a fixed order. Extension point: add a new feature's name here."""
    return [
        "amount",
        *CATEGORICAL,
        *window_features(settings.windows_hours),
        *STORED,
        *DERIVED,
    ]


def request_time_features(frame: pd.DataFrame, settings: FeatureSettings) -> pd.DataFrame:
    """Add the request-time features to a frame of transactions joined with Feast features."""
    result = frame.copy()
    when = pd.to_datetime(result["event_timestamp"], utc=True)
    now_unix = when.astype("int64").to_numpy() // 1_000_000_000
    seconds_since = now_unix - result["last_transaction_unix"].to_numpy(dtype=float)
    night_start, night_end = settings.night_hours
    result["hour"] = when.dt.hour.astype(float)
    result["is_night"] = ((result["hour"] >= night_start) & (result["hour"] < night_end)).astype(
        float
    )
    home = result["home_country"]
    result["is_foreign"] = np.where(home.isna(), np.nan, (result["country"] != home).astype(float))
    result["days_since_previous"] = seconds_since / 86_400
    result["amount_to_avg"] = result["amount"] / result["avg_amount"]
    # A stored window covers (previous transaction - w, previous transaction]; once w has passed
    # since then, nothing of it is left in (now - w, now].
    for hours in settings.windows_hours:
        elapsed = seconds_since >= hours * 3600
        for name in (f"txn_count_{hours}h", f"amount_sum_{hours}h"):
            result[name] = result[name].mask(elapsed, 0.0)
    return encode_categories(result)


def encode_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Replace merchant category and channel by their fixed codes (unknown values: missing).

    Plain numbers keep the model's signature simple for MLflow, BentoML and any pyfunc server;
    codes come from the fixed lists in data/generate.py, so they match across train and serve.
    Encoding twice is harmless.
    """
    result = frame.copy()
    for column, categories in CATEGORICAL.items():
        if pd.api.types.is_numeric_dtype(result[column]):
            continue
        codes = pd.Categorical(result[column].astype(str), categories=categories).codes
        result[column] = np.where(codes >= 0, codes, np.nan)
    return result
