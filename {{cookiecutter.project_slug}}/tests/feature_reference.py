"""The feature table computed the plain way (NumPy over sorted arrays): the reference that the
DuckDB query of features/build.py must equal on the same data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.features.build import PROFILE_FEATURES, STATE_DELAY_MS, window_features
from {{ cookiecutter.package_name }}.settings import FeatureSettings


def reference_feature_table(
    transactions: pd.DataFrame, customers: pd.DataFrame, settings: FeatureSettings
) -> pd.DataFrame:
    """The feature table as the project computed it before DuckDB, in NumPy and pandas."""
    home = customers.set_index("customer_id")["home_country"]
    ordered = transactions.sort_values(
        ["customer_id", "event_timestamp", "transaction_id"], kind="stable"
    )
    customer = ordered["customer_id"].to_numpy()
    seconds = ordered["event_timestamp"].astype("int64").to_numpy() // 1_000_000_000
    amount = ordered["amount"].to_numpy()
    hour = ordered["event_timestamp"].dt.hour.to_numpy()
    night_start, night_end = settings.night_hours
    is_night = ((hour >= night_start) & (hour < night_end)).astype(float)
    is_foreign = (ordered["country"].to_numpy() != home.reindex(customer).to_numpy()).astype(float)

    # Rank of each transaction within its customer (1-based), from the sorted order.
    first_of_customer = np.r_[True, customer[1:] != customer[:-1]]
    group_start = np.maximum.accumulate(np.where(first_of_customer, np.arange(len(customer)), 0))
    count_so_far = np.arange(len(customer)) - group_start + 1

    states = pd.DataFrame(
        {
            "customer_id": customer,
            "event_timestamp": ordered["event_timestamp"].to_numpy()
            + pd.Timedelta(milliseconds=STATE_DELAY_MS),
            "txn_count_total": count_so_far.astype(float),
            "avg_amount": _running_sum(amount, group_start) / count_so_far,
            "night_share": _running_sum(is_night, group_start) / count_so_far,
            "foreign_share": _running_sum(is_foreign, group_start) / count_so_far,
            "last_transaction_unix": seconds.astype(float),
            "home_country": home.reindex(customer).to_numpy(),
        }
    )
    # Windows (t - w, t]: a sorted composite key keeps each customer's search inside their rows.
    key = customer.astype(np.int64) * 10**11 + seconds
    amount_cumsum = np.r_[0.0, np.cumsum(amount)]
    for hours in settings.windows_hours:
        first_in_window = np.searchsorted(key, key - hours * 3600, side="right")
        rows = np.arange(len(key))
        states[f"txn_count_{hours}h"] = (rows + 1 - first_in_window).astype(float)
        states[f"amount_sum_{hours}h"] = amount_cumsum[rows + 1] - amount_cumsum[first_in_window]
    # Transactions of one customer at the same moment leave one state: after all of them (Feast
    # would otherwise pick one of the equal-time rows at random).
    states = states.drop_duplicates(["customer_id", "event_timestamp"], keep="last")

    signups = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy(),
            "event_timestamp": customers["signup_at"].to_numpy(),
            "txn_count_total": 0.0,
            "home_country": customers["home_country"].to_numpy(),
            **dict.fromkeys(window_features(settings.windows_hours), 0.0),
        }
    )
    table = pd.concat([signups, states], ignore_index=True)
    table["event_timestamp"] = pd.to_datetime(table["event_timestamp"], utc=True)
    table["created"] = table["event_timestamp"]
    columns = [
        "customer_id",
        "event_timestamp",
        "created",
        *window_features(settings.windows_hours),
        *PROFILE_FEATURES,
    ]
    return table[columns].sort_values(["event_timestamp", "customer_id"], ignore_index=True)


def _running_sum(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Cumulative sum that restarts at each customer's first row."""
    total = np.cumsum(values)
    before_group = np.r_[0.0, total][group_start]
    return np.asarray(total - before_group)
