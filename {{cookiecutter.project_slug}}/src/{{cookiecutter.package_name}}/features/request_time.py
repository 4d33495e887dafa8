"""Features known only when a transaction arrives, computed the same way for training and serving.

Feast supplies the customer's state after their previous transaction; this module combines it with
the transaction itself (amount, merchant, channel, country, time). Training calls it on the
point-in-time training set and serving on each request, so there is one definition of each model
input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.data.contract import CATEGORICAL
from {{ cookiecutter.package_name }}.features.build import PROFILE_INPUTS, window_features
from {{ cookiecutter.package_name }}.settings import FeatureSettings

DERIVED = ("hour", "is_night", "is_foreign", "days_since_previous", "amount_to_avg")
_CATEGORY_INDEX = {column: pd.Index(values) for column, values in CATEGORICAL.items()}


def model_columns(settings: FeatureSettings) -> list[str]:
    """The model's inputs, in a fixed order. Extension point: add a new feature's name here."""
    return [
        "amount",
        *CATEGORICAL,
        *window_features(settings.windows_hours),
        *PROFILE_INPUTS,
        *DERIVED,
    ]


def request_time_features(frame: pd.DataFrame, settings: FeatureSettings) -> pd.DataFrame:
    """Add the request-time features to a frame of transactions joined with Feast features."""
    stored = ("home_country", "last_transaction_unix", "avg_amount")
    needed = ("amount", *CATEGORICAL, "country", *stored, *window_features(settings.windows_hours))
    columns = {name: frame[name].to_numpy() for name in needed}
    when = pd.to_datetime(frame["event_timestamp"], utc=True)
    columns["event_unix"] = when.astype("int64").to_numpy() // 1_000_000_000
    return frame.assign(**request_time_columns(columns, settings))


def request_time_columns(
    columns: Mapping[str, np.ndarray], settings: FeatureSettings
) -> dict[str, np.ndarray]:
    """The request-time features and encoded categories, from plain column arrays.

    Both paths call this: training through `request_time_features` on the point-in-time
    training set, serving directly on the request and the online features (no pandas per
    request). `event_unix` is the transaction time in whole seconds since the epoch, UTC.
    """
    now_unix = np.asarray(columns["event_unix"], dtype=np.int64)
    seconds_since = now_unix - np.asarray(columns["last_transaction_unix"], dtype=float)
    hour = ((now_unix // 3600) % 24).astype(float)
    night_start, night_end = settings.night_hours
    home = np.asarray(columns["home_country"], dtype=object)
    foreign = (np.asarray(columns["country"], dtype=object) != home).astype(float)
    amount = np.asarray(columns["amount"], dtype=float)
    result = {
        "hour": hour,
        "is_night": ((hour >= night_start) & (hour < night_end)).astype(float),
        "is_foreign": np.where(pd.isna(home), np.nan, foreign),
        "days_since_previous": seconds_since / 86_400,
        "amount_to_avg": amount / np.asarray(columns["avg_amount"], dtype=float),
    }
    # A stored window covers (previous transaction - w, previous transaction]; once w has passed
    # since then, nothing of it is left in (now - w, now].
    for hours in settings.windows_hours:
        elapsed = seconds_since >= hours * 3600
        for name in (f"txn_count_{hours}h", f"amount_sum_{hours}h"):
            result[name] = np.where(elapsed, 0.0, np.asarray(columns[name], dtype=float))
    for column in CATEGORICAL:
        result[column] = category_codes(column, columns[column])
    return result


def category_codes(column: str, values: Sequence[object] | np.ndarray) -> np.ndarray:
    """The fixed codes of a categorical column's values (unknown values: missing).

    Plain numbers keep the model's signature simple for MLflow, BentoML and any pyfunc server;
    codes come from the fixed lists in data/contract.py, so they match across train and serve.
    Values that are already codes stay as they are.
    """
    array = np.asarray(values)
    if np.issubdtype(array.dtype, np.number):
        return array.astype(float)
    codes = _CATEGORY_INDEX[column].get_indexer(array.astype(str))
    return np.where(codes >= 0, codes, np.nan)


def category_names(column: str, values: Sequence[object] | np.ndarray) -> np.ndarray:
    """The names of a categorical column's values: the inverse of `category_codes`."""
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.number):
        return array.astype(str)
    names = _CATEGORY_INDEX[column]
    valid = ~np.isnan(array) & (array >= 0) & (array < len(names))
    codes = np.where(valid, array, 0).astype(int)
    return np.where(valid, np.asarray(names, dtype=object)[codes], "unknown")


def encode_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Replace merchant category and channel by their fixed codes (encoding twice is harmless)."""
    return frame.assign(
        **{column: category_codes(column, frame[column].to_numpy()) for column in CATEGORICAL}
    )
