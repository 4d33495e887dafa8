from __future__ import annotations

import pandas as pd

from {{ cookiecutter.package_name }}.data.contract import CUSTOMERS, TRANSACTIONS, validate
from {{ cookiecutter.package_name }}.data.generate import DRIFT_COUNTRIES, HOME_COUNTRIES, generate
from {{ cookiecutter.package_name }}.settings import DataSettings

SETTINGS = DataSettings(n_customers=300, n_transactions=30_000, days=30, fraud_rate=0.03)


def test_same_seed_same_data_and_another_seed_other_data() -> None:
    first, again, other = (generate(SETTINGS, seed) for seed in (7, 7, 8))
    pd.testing.assert_frame_equal(first.transactions, again.transactions)
    pd.testing.assert_frame_equal(first.customers, again.customers)
    assert not first.transactions["amount"].equals(other.transactions["amount"])


def test_generated_data_meets_its_contract() -> None:
    dataset = generate(SETTINGS, seed=1)
    validate(dataset.transactions, TRANSACTIONS)
    validate(dataset.customers, CUSTOMERS)
    assert len(dataset.transactions) == SETTINGS.n_transactions
    assert dataset.transactions["event_timestamp"].is_monotonic_increasing


def test_fraud_rate_is_as_configured_and_learnable() -> None:
    transactions = generate(SETTINGS, seed=2).transactions
    assert 0.025 < transactions["is_fraud"].mean() < 0.035
    customers = generate(SETTINGS, seed=2).customers.set_index("customer_id")
    home = customers.loc[transactions["customer_id"], "home_country"].to_numpy()
    foreign = transactions["country"].to_numpy() != home
    fraud = transactions["is_fraud"]
    assert fraud[foreign].mean() > 2 * fraud[~foreign].mean()


def test_drift_shifts_amounts_merchants_and_countries_but_not_channels() -> None:
    base = generate(SETTINGS, seed=3).transactions
    drifted = generate(SETTINGS.model_copy(update={"drift": True}), seed=3).transactions
    assert drifted["amount"].median() > 1.4 * base["amount"].median()
    electronics = [
        (frame["merchant_category"] == "electronics").mean() for frame in (base, drifted)
    ]
    assert electronics[1] > 1.5 * electronics[0]
    assert set(base["country"]) <= set(HOME_COUNTRIES)
    assert set(DRIFT_COUNTRIES) <= set(drifted["country"])
    channel_mix = base["channel"].value_counts(normalize=True)
    drifted_mix = drifted["channel"].value_counts(normalize=True)
    assert (channel_mix - drifted_mix).abs().max() < 0.02
