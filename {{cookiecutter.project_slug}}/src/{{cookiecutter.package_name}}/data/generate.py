"""Synthetic card transactions with a learnable fraud signal, reproducible from a seed.

Everything is vectorised with NumPy so a million transactions take seconds. The `drift` switch
shifts amounts, the merchant mix and the countries seen, so that monitoring has real drift to find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.data.contract import (
    AGE_BAND,
    CHANNELS,
    KNOWN_AGE_BANDS,
    LABEL,
    MERCHANT_CATEGORIES,
    OTHER,
    TIME,
)
from {{ cookiecutter.package_name }}.settings import DataSettings

# The generator draws every project value except `other`, which only a team's own data fills.
GENERATED_CATEGORIES = tuple(value for value in MERCHANT_CATEGORIES if value != OTHER)
GENERATED_CHANNELS = tuple(value for value in CHANNELS if value != OTHER)
HOME_COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "CA")
AGE_BAND_MIX = np.array([0.2, 0.3, 0.35, 0.15])
DRIFT_COUNTRIES = ("BR", "IN", "NG")
CATEGORY_MIX = np.array([0.28, 0.2, 0.12, 0.18, 0.07, 0.06, 0.07, 0.02])
DRIFTED_CATEGORY_MIX = np.array([0.18, 0.16, 0.1, 0.16, 0.15, 0.12, 0.07, 0.06])
CHANNEL_MIX = np.array([0.6, 0.32, 0.08])
RISKY_CATEGORIES = ("electronics", "travel", "gambling")
NIGHT_HOURS = (0, 6)


@dataclass(frozen=True)
class Dataset:
    """The two tables the rest of the project reads."""

    customers: pd.DataFrame
    transactions: pd.DataFrame


def generate(settings: DataSettings, seed: int) -> Dataset:
    """Customers and their transactions, identical for identical settings and seed."""
    rng = np.random.default_rng(seed)
    customers = _customers(settings, rng)
    # A stream of its own: adding the attribute leaves every other generated value unchanged.
    ages = np.random.default_rng([seed, 1])
    customers[AGE_BAND] = ages.choice(KNOWN_AGE_BANDS, size=len(customers), p=AGE_BAND_MIX)
    transactions = _transactions(settings, customers, rng)
    return Dataset(customers=customers.drop(columns="typical_amount"), transactions=transactions)


def _customers(settings: DataSettings, rng: np.random.Generator) -> pd.DataFrame:
    n = settings.n_customers
    start = pd.Timestamp(settings.start, tz="UTC")
    signup_days_before = rng.integers(1, 180, size=n)
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1, dtype="int64"),
            "home_country": rng.choice(HOME_COUNTRIES, size=n),
            "signup_at": start - pd.to_timedelta(signup_days_before, unit="D"),
            # Typical spend: each customer's amounts scatter around their own level.
            "typical_amount": np.round(rng.lognormal(mean=3.6, sigma=0.7, size=n), 2),
        }
    )


def _transactions(
    settings: DataSettings, customers: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    n = settings.n_transactions
    activity = rng.gamma(shape=1.5, scale=1.0, size=len(customers))
    owner = rng.choice(len(customers), size=n, p=activity / activity.sum())
    start = pd.Timestamp(settings.start, tz="UTC")
    seconds = np.sort(rng.integers(0, settings.days * 86_400, size=n))
    timestamps = start + pd.to_timedelta(seconds, unit="s")

    amount_scale = 1.6 if settings.drift else 1.0
    typical = customers["typical_amount"].to_numpy()[owner]
    spike = rng.random(n) < 0.05
    amounts = typical * rng.lognormal(0.0, 0.5, size=n) * np.where(spike, 6.0, 1.0)
    amounts = np.clip(np.round(amounts * amount_scale, 2), 0.5, 50_000.0)

    mix = DRIFTED_CATEGORY_MIX if settings.drift else CATEGORY_MIX
    categories = rng.choice(GENERATED_CATEGORIES, size=n, p=mix / mix.sum())
    channels = rng.choice(GENERATED_CHANNELS, size=n, p=CHANNEL_MIX)
    home = customers["home_country"].to_numpy()[owner]
    abroad = rng.random(n) < 0.08
    foreign_pool = HOME_COUNTRIES + (DRIFT_COUNTRIES * 3 if settings.drift else ())
    countries = np.where(abroad, rng.choice(foreign_pool, size=n), home)

    hours = (seconds % 86_400) // 3_600
    signal = (
        4.0 * spike
        + 3.0 * (countries != home)
        + 2.0 * ((hours >= NIGHT_HOURS[0]) & (hours < NIGHT_HOURS[1]))
        + 1.2 * (channels == "online")
        + 1.6 * np.isin(categories, RISKY_CATEGORIES)
        + rng.normal(0.0, 0.3, size=n)
    )
    probability = _sigmoid(signal + _intercept_for_rate(signal, settings.fraud_rate))
    return pd.DataFrame(
        {
            "transaction_id": np.arange(1, n + 1, dtype="int64"),
            "customer_id": customers["customer_id"].to_numpy()[owner],
            TIME: timestamps,
            "amount": amounts,
            "merchant_category": categories,
            "channel": channels,
            "country": countries,
            LABEL: (rng.random(n) < probability).astype("int64"),
        }
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _intercept_for_rate(signal: np.ndarray, rate: float) -> float:
    """The logit offset whose mean fraud probability equals `rate` (bisection)."""
    low, high = -30.0, 30.0
    for _ in range(60):
        middle = (low + high) / 2
        if _sigmoid(signal + middle).mean() > rate:
            high = middle
        else:
            low = middle
    return (low + high) / 2
