"""Request and response bodies of the HTTP API, with the ranges and values the model knows.

Bad input never reaches the model: pydantic rejects it and BentoML answers 400 naming the field.
Responses are pydantic models too (BentoML rebuilds a JSON schema per response for a plain dict).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from {{ cookiecutter.package_name }}.data.contract import CHANNELS, MERCHANT_CATEGORIES

MerchantCategory = Literal[MERCHANT_CATEGORIES]  # type: ignore[valid-type]
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
MAX_AMOUNT = 1_000_000.0


class Transaction(BaseModel):
    """One card transaction to score, as the payment system sends it."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    transaction_id: str = Field(default="", max_length=64)
    customer_id: int = Field(ge=1, le=2**53)
    amount: float = Field(gt=0, le=MAX_AMOUNT, description="in the account's currency")
    merchant_category: MerchantCategory
    channel: Channel
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code")
    event_timestamp: datetime = Field(
        default_factory=lambda: datetime.now(timezone.utc),
        description="when the transaction happened (default: when the request arrives)",
    )


class Prediction(BaseModel):
    """The score, the decision and what produced them."""

    transaction_id: str
    fraud_probability: float
    is_fraud: bool
    threshold: float
    model_version: str
    lineage_id: str
    features_missing: bool
