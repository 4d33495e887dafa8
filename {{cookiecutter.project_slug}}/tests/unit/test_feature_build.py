from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.data.generate import generate
from {{ cookiecutter.package_name }}.features.build import STATE_DELAY_MS, build_feature_table, window_features
from {{ cookiecutter.package_name }}.features.request_time import model_columns, request_time_features
from {{ cookiecutter.package_name }}.settings import DataSettings, FeatureSettings
from tests.feature_reference import reference_feature_table

pytestmark = pytest.mark.offline_store

SETTINGS = FeatureSettings(windows_hours=(1, 24), night_hours=(0, 6), ttl_days=30)
T0 = pd.Timestamp("2026-02-01 10:00", tz="UTC")
STATE_DELAY = pd.Timedelta(milliseconds=STATE_DELAY_MS)


def transactions(rows: list[tuple[int, str, float, str]]) -> pd.DataFrame:
    """Hand-written transactions: (customer, time offset, amount, country)."""
    return pd.DataFrame(
        {
            "transaction_id": np.arange(1, len(rows) + 1, dtype="int64"),
            "customer_id": [customer for customer, _, _, _ in rows],
            "event_timestamp": [T0 + pd.Timedelta(offset) for _, offset, _, _ in rows],
            "amount": [amount for _, _, amount, _ in rows],
            "merchant_category": "grocery",
            "channel": "pos",
            "country": [country for _, _, _, country in rows],
            "is_fraud": 0,
        }
    )


CUSTOMERS = pd.DataFrame(
    {
        "customer_id": [1, 2],
        "home_country": ["FR", "DE"],
        "signup_at": [T0 - pd.Timedelta("10D"), T0 - pd.Timedelta("3D")],
    }
)
HAND_MADE = transactions(
    [
        (1, "0min", 100.0, "FR"),
        (2, "10min", 7.0, "DE"),
        (1, "30min", 50.0, "ES"),
        (1, "2h", 30.0, "FR"),
        (1, "2D", 20.0, "FR"),
    ]
)


def as_of(table: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Feast's point-in-time rule: the newest feature row at or before each label's time."""
    return pd.merge_asof(
        labels.sort_values("event_timestamp"),
        table.sort_values("event_timestamp"),
        on="event_timestamp",
        by="customer_id",
        direction="backward",
        allow_exact_matches=True,
    ).set_index("transaction_id")


def test_hand_made_case_features_exclude_the_transaction_itself() -> None:
    table = build_feature_table(HAND_MADE, CUSTOMERS, SETTINGS)
    seen = as_of(table, HAND_MADE)
    # Transaction 3 (customer 1 at +30 min) sees only transaction 1.
    assert seen.loc[3, "txn_count_total"] == 1
    assert seen.loc[3, "amount_sum_1h"] == 100.0
    assert seen.loc[3, "avg_amount"] == 100.0
    # Transaction 4 (+2 h): both earlier ones in 24 h, none within the hour before the last one.
    assert seen.loc[4, "txn_count_total"] == 2
    assert seen.loc[4, "amount_sum_24h"] == 150.0
    assert seen.loc[4, "foreign_share"] == 0.5
    # Transaction 5 (+2 days) sees all three earlier ones of customer 1, none of customer 2.
    assert seen.loc[5, "txn_count_total"] == 3
    assert seen.loc[5, "avg_amount"] == pytest.approx(60.0)
    # A first transaction sees the empty state written at signup.
    assert seen.loc[1, "txn_count_total"] == 0
    assert seen.loc[2, "txn_count_total"] == 0


def test_no_transaction_ever_sees_itself_or_a_later_one() -> None:
    dataset = generate(DataSettings(n_customers=40, n_transactions=2_000, days=5), seed=11)
    frame = dataset.transactions
    table = build_feature_table(frame, dataset.customers, SETTINGS)
    seen = as_of(table, frame)
    for row in frame.sample(300, random_state=0).itertuples():
        earlier = frame[
            (frame["customer_id"] == row.customer_id)
            & (frame["event_timestamp"] < row.event_timestamp)
        ]
        in_day = earlier[
            earlier["event_timestamp"] > earlier["event_timestamp"].max() - pd.Timedelta("24h")
        ]
        state = seen.loc[row.transaction_id]
        assert state["txn_count_total"] == len(earlier)
        assert state["amount_sum_24h"] == pytest.approx(in_day["amount"].sum())
        if len(earlier):
            assert state["avg_amount"] == pytest.approx(earlier["amount"].mean())


def test_feature_rows_come_with_event_and_created_timestamps() -> None:
    table = build_feature_table(HAND_MADE, CUSTOMERS, SETTINGS)
    assert {"event_timestamp", "created"} <= set(table.columns)
    assert str(table["event_timestamp"].dtype) == "datetime64[ns, UTC]"
    assert set(window_features(SETTINGS.windows_hours)) <= set(table.columns)
    assert len(table) == len(HAND_MADE) + len(CUSTOMERS)


def test_request_time_features_reset_windows_that_have_fully_elapsed() -> None:
    table = build_feature_table(HAND_MADE, CUSTOMERS, SETTINGS)
    labels = HAND_MADE.set_index("transaction_id")
    joined = as_of(table, HAND_MADE).join(labels[["amount"]], rsuffix="_now")
    joined = joined.drop(columns="amount").rename(columns={"amount_now": "amount"}).reset_index()
    features = request_time_features(joined, SETTINGS).set_index("transaction_id")
    # Transaction 4 comes 1.5 h after the previous one: its 1 h window is empty, 24 h is not.
    assert features.loc[4, "txn_count_1h"] == 0
    assert features.loc[4, "txn_count_24h"] == 2
    assert features.loc[4, "days_since_previous"] == pytest.approx(1.5 / 24)
    assert features.loc[3, "is_foreign"] == 1.0
    assert features.loc[5, "amount_to_avg"] == pytest.approx(20.0 / 60.0)
    assert list(features[model_columns(SETTINGS)].columns) == model_columns(SETTINGS)


def test_transactions_at_the_same_moment_leave_one_state_holding_all_of_them() -> None:
    same_second = transactions(
        [
            (1, "0min", 100.0, "FR"),
            (1, "1h", 10.0, "FR"),
            (1, "1h", 20.0, "ES"),
            (2, "1h", 7.0, "DE"),
            (1, "3h", 5.0, "FR"),
        ]
    )
    table = build_feature_table(same_second, CUSTOMERS, SETTINGS)
    at_one_hour = table[table["event_timestamp"] == T0 + pd.Timedelta("1h") + STATE_DELAY]
    assert sorted(at_one_hour["customer_id"]) == [1, 2]
    seen = as_of(table, same_second)
    # The two at +1 h see only the first transaction, not each other.
    assert list(seen.loc[[2, 3], "txn_count_total"]) == [1, 1]
    # The one after them sees both, whatever order Feast finds equal-time rows in.
    assert seen.loc[5, "txn_count_total"] == 3
    assert seen.loc[5, "amount_sum_24h"] == 130.0
    assert seen.loc[5, "foreign_share"] == pytest.approx(1 / 3)


def test_engine_table_equals_the_plain_reference_with_ties_sub_seconds_and_unknown_customers() -> (
    None
):
    dataset = generate(DataSettings(n_customers=60, n_transactions=6_000, days=4), seed=5)
    frame = dataset.transactions
    rng = np.random.default_rng(0)
    # Same customer, same second (new ids); part of a second later; a customer with no record.
    twins = frame.sample(300, random_state=1).assign(
        transaction_id=lambda rows: rows["transaction_id"] + 10**7
    )
    later = frame.sample(400, random_state=2)
    later = later.assign(
        transaction_id=later["transaction_id"] + 2 * 10**7,
        event_timestamp=later["event_timestamp"]
        + pd.to_timedelta(rng.integers(1, 999, len(later)), unit="ms"),
    )
    stranger = frame.head(30).assign(
        transaction_id=lambda rows: rows["transaction_id"] + 3 * 10**7, customer_id=999_999
    )
    frame = pd.concat([frame, twins, later, stranger], ignore_index=True).sample(
        frac=1.0, random_state=3
    )
    settings = FeatureSettings(windows_hours=(1, 24, 168), night_hours=(22, 24), ttl_days=30)

    engine = build_feature_table(frame, dataset.customers, settings)
    reference = reference_feature_table(frame, dataset.customers, settings)

    assert len(engine) == len(reference)
    for table in (engine, reference):  # a customer with no record: no home country, one null
        table["home_country"] = (
            table["home_country"].astype(object).where(table["home_country"].notna(), None)
        )
    pd.testing.assert_frame_equal(
        engine, reference, check_exact=False, rtol=1e-9, atol=1e-9, check_dtype=False
    )
