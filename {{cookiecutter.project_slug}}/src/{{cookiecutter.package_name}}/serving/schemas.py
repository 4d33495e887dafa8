"""Request and response bodies of the HTTP API, with the ranges and values the model knows.

Bad input never reaches the model: pydantic rejects it and the API answers 400 naming the field.
The bounds are the data contract's (data/contract.py): what training accepts, serving accepts.
Every response, errors included, is one of these models, and the OpenAPI document is built
from them (serving/openapi.py).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from {{ cookiecutter.package_name }}.data.contract import CHANNELS, COUNTRY_CODE, MAX_AMOUNT, MERCHANT_CATEGORIES

MerchantCategory = Literal[MERCHANT_CATEGORIES]  # type: ignore[valid-type]
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
ServedBy = Literal["champion", "staging"]


class Transaction(BaseModel):
    """One card transaction to score, as the payment system sends it."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    transaction_id: str = Field(default="", max_length=64)
    customer_id: int = Field(ge=1, le=2**53)
    amount: float = Field(gt=0, le=MAX_AMOUNT, description="in the account's currency")
    merchant_category: MerchantCategory
    channel: Channel
    country: str = Field(pattern=COUNTRY_CODE, description="ISO 3166-1 alpha-2 code")
    event_timestamp: AwareDatetime = Field(
        default_factory=lambda: datetime.now(timezone.utc),
        description=(
            "when the transaction happened, with its UTC offset (2026-03-02T10:15:00Z); "
            "default: when the request arrives. Not later than serving.max_clock_skew_s "
            "ahead of the server's clock."
        ),
    )


class TransactionBatch(BaseModel):
    """Transactions scored together: one online-store lookup and one model call for all."""

    model_config = ConfigDict(extra="forbid")

    transactions: list[Transaction] = Field(min_length=1)


class Reason(BaseModel):
    """One input's contribution to the score (XGBoost SHAP values, in log-odds)."""

    feature: str = Field(description="the model input, named as in the Feast feature service")
    value: float | None = Field(description="its value for this transaction (null: missing)")
    contribution: float = Field(description="positive raises the fraud probability")


class Prediction(BaseModel):
    """The score, the decision and what produced them."""

    transaction_id: str
    fraud_probability: float
    is_fraud: bool
    threshold: float
    model_version: str
    lineage_id: str
    features_missing: bool = Field(description="the customer is not in the online store")
    served_by: ServedBy = Field(description="champion, or staging for a canary's share")
    reasons: list[Reason] | None = Field(
        default=None, description="the largest contributions, with ?explain=true"
    )


class Problem(BaseModel):
    """Why a request was refused; `fields` names the request fields at fault."""

    error: str
    fields: list[str] = Field(default_factory=list)


class OnlineStoreState(BaseModel):
    """What the last readiness check of the online store found."""

    reachable: bool
    materialized_at: datetime | None = Field(description="when `make features` last filled it")
    reason: str | None


class Readiness(BaseModel):
    """The answer of /readyz: 200 when every part is ready, 503 with the reason otherwise."""

    ready: bool
    reason: str | None
    auth: Literal["on", "off"]
    model_version: str | None
    staging: str | None = Field(description="shadow or canary with the staging version, or off")
    online_store: OnlineStoreState | None
