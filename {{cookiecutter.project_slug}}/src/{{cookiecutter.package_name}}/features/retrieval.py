"""The two ways the model reads features: point-in-time training sets and online lookups.

Both go through the same Feast feature service and the same request-time features, so a model is
served exactly the inputs it was trained on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.features.request_time import model_columns, request_time_features
from {{ cookiecutter.package_name }}.features.store import MARKER_CUSTOMER, open_offline_store, open_store
from {{ cookiecutter.package_name }}.settings import FeatureSettings, Settings, Workspace

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore

logger = logging.getLogger(__name__)
PRESENT = 1  # FieldStatus.PRESENT in Feast's serving protos
# The position of each transaction, sent with it through the join to restore the given order.
ROW = "transaction_row"
# What Feast joins on: the customer and the moment of the transaction.
ENTITY_KEYS = ("customer_id", "event_timestamp")


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
        `event_timestamp` and the transaction's own columns). Every label row comes back once,
        in order; a row with no feature row within the TTL before it is refused, so a training
        set never holds a customer the store knew nothing about.
        """
        joined = self._joined(labels)
        unknown = joined["txn_count_total"].isna().to_numpy()
        if unknown.any():
            dropped = sorted(labels["transaction_id"][unknown])
            raise DroppedRowsError(
                f"the point-in-time join dropped {len(dropped)} of {len(labels)} label rows (no "
                f"feature row within the TTL before them), e.g. transaction_id {dropped[:5]}: "
                "check the feature table covers their period and the TTL"
            )
        return request_time_features(joined, self.features)

    def historical_features(self, transactions: pd.DataFrame) -> pd.DataFrame:
        """Any transactions (labelled or not) with the features as of each one's time.

        Transactions of one customer at the same moment each get the state from before that
        moment: none of them sees another (the feature table holds one state after all of them).
        Customers the store does not know keep their row, with missing features.
        """
        joined = self._joined(transactions)
        unknown = int(joined["txn_count_total"].isna().sum())
        if unknown:
            logger.warning("%d of %d rows have no customer features", unknown, len(transactions))
        return request_time_features(joined, self.features)

    def _joined(self, transactions: pd.DataFrame) -> pd.DataFrame:
        """The transactions with Feast's point-in-time features, in the given order, none lost.

        Only the join keys travel through the offline store (the transactions' own columns,
        strings among them, would be copied there and back); the features come back with each
        row's position and are placed beside the transactions by it.
        """
        entity_rows = pd.DataFrame(
            {
                ROW: np.arange(len(transactions)),
                **{key: transactions[key].array for key in ENTITY_KEYS},
            }
        )
        joined = self.store.get_historical_features(
            entity_df=entity_rows, features=self.service
        ).to_df()
        if len(joined) != len(entity_rows) or not joined[ROW].is_unique:
            raise DroppedRowsError(
                f"the offline store returned {len(joined)} rows for {len(entity_rows)} "
                "transactions: each must come back exactly once"
            )
        features = joined.sort_values(ROW).drop(columns=[ROW, *ENTITY_KEYS])
        return pd.concat(
            [transactions.reset_index(drop=True), features.reset_index(drop=True)], axis=1
        )

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


def write_training_set(settings: Settings, out: Path) -> int:
    """Write the training pipeline's point-in-time training set to a Parquet file; its rows.

    The same labels (the raw transactions, checked against their contract) and the same join as
    the pipeline's `build_training_set` step, for a person to inspect or a benchmark to time.
    The file is replaced only once the whole set is written.
    """
    from {{ cookiecutter.package_name }}.data.contract import TRANSACTIONS, check_file
    from {{ cookiecutter.package_name }}.data.files import DataFiles, write_atomically

    source = DataFiles.of(settings).transactions
    check_file(source, TRANSACTIONS)
    labels = pd.read_parquet(source)
    features = CustomerFeatures(settings, settings.features, open_offline_store(settings))
    training = features.training_set(labels)
    write_atomically({out: training})
    return len(training)
