"""The two ways the model reads features: point-in-time training sets and online lookups.

Both go through the same Feast feature service and the same request-time features, so a model is
served exactly the inputs it was trained on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pandas as pd

from {{ cookiecutter.package_name }}.features.request_time import model_columns, request_time_features
from {{ cookiecutter.package_name }}.features.store import MARKER_CUSTOMER, open_store
from {{ cookiecutter.package_name }}.settings import FeatureSettings, Settings, Workspace

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore

logger = logging.getLogger(__name__)
PRESENT = 1  # FieldStatus.PRESENT in Feast's serving protos
CHUNK_ROWS = 100_000
# What Feast joins on: one entity row per customer and moment.
MOMENT = ("customer_id", "event_timestamp")


class DroppedRowsError(RuntimeError):
    """The point-in-time join lost label rows (no feature row within the TTL before them)."""


@dataclass(frozen=True)
class OnlineFeatures:
    """Feature values per requested customer, and the customers the online store does not know."""

    columns: dict[str, list[Any]]
    missing: list[int]

    @property
    def values(self) -> pd.DataFrame:
        """The values as a frame, one row per requested customer."""
        return pd.DataFrame(self.columns)


class CustomerFeatures:
    """Feature access for training and serving, built once (the service lookup is not free)."""

    def __init__(
        self,
        workspace: Workspace,
        features: FeatureSettings,
        store: FeatureStore | None = None,
    ) -> None:
        """Open the store and resolve the model's feature service once.

        `features` holds the request-time feature settings (given to a step as a parameter).
        """
        self.features = features
        self.store = store or open_store(workspace)
        self.service: FeatureService = self.store.get_feature_service(
            workspace.feast.feature_service
        )

    @classmethod
    def of(cls, settings: Settings) -> CustomerFeatures:
        """Feature access with the project's own feature settings (for entry points)."""
        return cls(settings, settings.features)

    def training_set(self, labels: pd.DataFrame) -> pd.DataFrame:
        """Labels joined point-in-time with the features, plus the request-time features.

        `labels` holds one row per transaction (`transaction_id`, `customer_id`,
        `event_timestamp` and the transaction's own columns). Rows that the join drops are
        reported and refused: a training set never shrinks silently.
        """
        return self.historical_features(labels)

    def historical_features(self, transactions: pd.DataFrame) -> pd.DataFrame:
        """Any transactions (labelled or not) with the features as of each one's time.

        Feast keeps one entity row per customer and time, so transactions of one customer at
        the same moment are joined once and each gets that state (from before the moment: none
        of them sees another). Feast's file offline store joins every entity row with all of
        its customer's feature rows before picking the latest; asking for a few thousand
        customers at a time keeps that product, and the memory it needs, small.
        """
        moments = transactions[list(MOMENT)].drop_duplicates()
        joined = pd.concat(
            [
                self.store.get_historical_features(entity_df=chunk, features=self.service).to_df()
                for chunk in _by_customer_chunks(moments, CHUNK_ROWS)
            ],
            ignore_index=True,
        )
        joined["event_timestamp"] = joined["event_timestamp"].astype(
            transactions["event_timestamp"].dtype
        )
        found = transactions[list(MOMENT)].merge(joined[list(MOMENT)], how="left", indicator=True)
        dropped = transactions["transaction_id"][(found["_merge"] == "left_only").to_numpy()]
        if len(dropped) or len(joined) != len(moments):
            raise DroppedRowsError(
                f"the point-in-time join dropped {len(dropped)} of {len(transactions)} label "
                f"rows (no feature row within the TTL before them), e.g. transaction_id "
                f"{sorted(dropped)[:5]}: check the feature table covers their period and the TTL"
            )
        ordered = transactions.merge(joined, on=list(MOMENT), how="left", validate="m:1")
        unknown = int(ordered["txn_count_total"].isna().sum())
        if unknown:
            logger.warning("%d of %d rows have no customer features", unknown, len(transactions))
        return request_time_features(ordered, self.features)

    def online_features(self, customer_ids: list[int]) -> OnlineFeatures:
        """Current feature values of the customers; unknown ones are listed in `missing`."""
        response = self.store.get_online_features(
            features=self.service, entity_rows=[{"customer_id": int(c)} for c in customer_ids]
        )
        columns = response.to_dict()
        # Statuses say NOT_FOUND for SQLite; Redis reports PRESENT with null values. An entity is
        # missing when none of its features has a present, non-null value.
        results = response.proto.results[1:]
        missing = [
            int(customer)
            for row, customer in enumerate(customer_ids)
            if not any(
                result.statuses[row] == PRESENT and result.values[row].WhichOneof("val")
                for result in results
            )
        ]
        return OnlineFeatures(columns=columns, missing=missing)

    def materialized_at(self) -> datetime | None:
        """When the online store was last filled (its marker's time), or None if it has none."""
        response = self.store.get_online_features(
            features=self.service, entity_rows=[{"customer_id": MARKER_CUSTOMER}]
        )
        stamps = [
            result.event_timestamps[0].ToDatetime(tzinfo=timezone.utc)
            for result in response.proto.results[1:]
            if result.statuses[0] == PRESENT and result.values[0].WhichOneof("val")
        ]
        return min(stamps) if stamps else None

    def model_inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's input columns of a frame prepared by `training_set` or at serving."""
        return frame[model_columns(self.features)]


def _by_customer_chunks(frame: pd.DataFrame, rows: int) -> list[pd.DataFrame]:
    """Split into parts of about `rows` rows, each holding whole customers."""
    per_customer = frame.groupby("customer_id").size().sort_index()
    part = (per_customer.cumsum() - 1) // rows
    return [frame[frame["customer_id"].isin(ids)] for _, ids in part.groupby(part).groups.items()]
