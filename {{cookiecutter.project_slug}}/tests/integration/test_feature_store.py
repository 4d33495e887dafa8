"""Feast for real: apply, materialise, point-in-time training sets and online lookups agree."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.data.contract import ContractViolation
from {{ cookiecutter.package_name }}.data.files import DataFiles
from {{ cookiecutter.package_name }}.data.sources import write_raw_tables
from {{ cookiecutter.package_name }}.features.build import PROFILE_FEATURES, window_features, write_feature_table
from {{ cookiecutter.package_name }}.features.retrieval import (
    CustomerFeatures,
    DroppedRowsError,
    write_training_set,
)
from {{ cookiecutter.package_name }}.features.store import apply_definitions, materialize, open_store
from {{ cookiecutter.package_name }}.settings import Settings, load_settings
from tests.helpers import (
    ENV_PREFIX,
    SMALL_DATA,
    clean_environment,
    copy_project,
    flush_redis,
)

# The offline engine answers the joins, the online store the lookups: both choices change them.
pytestmark = [pytest.mark.online_store, pytest.mark.offline_store]


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, online_store_environment: dict[str, str]
) -> Iterator[Settings]:
    """A small project with data, a feature table and applied Feast definitions."""
    root = copy_project(tmp_path_factory.mktemp("project"))
    with pytest.MonkeyPatch.context() as patch:
        clean_environment(patch)
        for name, value in {**SMALL_DATA, **online_store_environment}.items():
            patch.setenv(name if name.startswith(ENV_PREFIX) else ENV_PREFIX + name, value)
        patch.chdir(root)
        settings = load_settings()
        write_raw_tables(settings)
        write_feature_table(settings)
        apply_definitions(settings)
        yield settings


@pytest.fixture(scope="module")
def feature_table(project: Settings) -> pd.DataFrame:
    return pd.read_parquet(DataFiles.of(project).features)


@pytest.fixture(scope="module")
def transactions(project: Settings) -> pd.DataFrame:
    return pd.read_parquet(DataFiles.of(project).transactions)


def feature_names(settings: Settings) -> list[str]:
    return [*window_features(settings.features.windows_hours), *PROFILE_FEATURES]


def test_historical_value_at_t_equals_online_value_after_materializing_to_t(
    project: Settings, feature_table: pd.DataFrame
) -> None:
    store = open_store(project)
    start = feature_table["event_timestamp"].min().to_pydatetime()
    cutoff = feature_table["event_timestamp"].quantile(0.6).floor("s").to_pydatetime()
    store.materialize(start_date=start, end_date=cutoff)
    customers = sorted(feature_table["customer_id"].unique())[:40]
    features = CustomerFeatures(project, project.features, store)
    online = features.online_features(customers).values.set_index("customer_id")
    at_cutoff = pd.DataFrame({"customer_id": customers, "event_timestamp": cutoff})
    historical = (
        store.get_historical_features(entity_df=at_cutoff, features=features.service)
        .to_df()
        .set_index("customer_id")
        .loc[customers]
    )
    names = feature_names(project)
    pd.testing.assert_frame_equal(
        online.loc[customers, names], historical[names], check_dtype=False, check_names=False
    )
    assert online["txn_count_total"].notna().all()


def test_training_set_keeps_every_label_row_in_order(
    project: Settings, transactions: pd.DataFrame
) -> None:
    labels = transactions.sample(500, random_state=1)
    training = CustomerFeatures.of(project).training_set(labels)
    assert list(training["transaction_id"]) == list(labels["transaction_id"])
    assert training["txn_count_total"].notna().all()
    assert (training["days_since_previous"].dropna() > 0).all()


{% if cookiecutter.offline_store == "duckdb" -%}
def test_asof_store_returns_what_feasts_own_duckdb_store_returns(
    project: Settings, transactions: pd.DataFrame, feature_table: pd.DataFrame
) -> None:
    from feast.infra.offline_stores.duckdb import DuckDBOfflineStore

    store = open_store(project)
    assert type(store._get_provider().offline_store).__name__ == "DuckDBAsofOfflineStore"
    service = store.get_feature_service(project.feast.feature_service)
    entity_rows = transactions.sample(800, random_state=4)[
        ["transaction_id", "customer_id", "event_timestamp"]
    ]
    # Rows the TTL rules out (nulls, not dropped) and a customer the table does not know.
    beyond_ttl = entity_rows.head(5).assign(
        transaction_id=lambda rows: rows["transaction_id"] + 10**8,
        event_timestamp=lambda rows: rows["event_timestamp"] + timedelta(days=900),
    )
    stranger = entity_rows.head(3).assign(
        transaction_id=lambda rows: rows["transaction_id"] + 2 * 10**8, customer_id=10_000_001
    )
    entity_rows = pd.concat([entity_rows, beyond_ttl, stranger], ignore_index=True)

    ours = store.get_historical_features(entity_df=entity_rows, features=service).to_df()
    refs = [
        f"{view.name}:{f.name}" for view in service.feature_view_projections for f in view.features
    ]
    feasts = DuckDBOfflineStore.get_historical_features(
        config=store.config,
        feature_views=[
            store.get_feature_view(view.name) for view in service.feature_view_projections
        ],
        feature_refs=refs,
        entity_df=entity_rows,
        registry=store.registry,
        project=store.project,
    ).to_df()

    assert list(ours["transaction_id"]) == list(entity_rows["transaction_id"])
    assert len(feasts) == len(entity_rows)
    names = feature_names(project)
    expected = feasts.set_index("transaction_id").loc[ours["transaction_id"], names]
    pd.testing.assert_frame_equal(
        ours.set_index("transaction_id")[names], expected, check_dtype=False, rtol=1e-12
    )
    assert (
        ours.set_index("transaction_id").loc[beyond_ttl["transaction_id"], names].isna().all().all()
    )


{% endif -%}
def test_training_set_file_has_one_row_per_labelled_transaction_and_survives_bad_input(
    project: Settings, transactions: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "training_set.parquet"
    assert write_training_set(project, out) == len(transactions)
    written = pd.read_parquet(out)
    assert len(written) == len(transactions)
    assert written["transaction_id"].is_unique
    assert list(written["transaction_id"]) == list(transactions["transaction_id"])

    raw = DataFiles.of(project).transactions
    good = raw.read_bytes()
    before = out.read_bytes()
    try:
        transactions.drop(columns="amount").to_parquet(raw, index=False)
        with pytest.raises(ContractViolation, match=r"transactions\.amount: missing column"):
            write_training_set(project, out)
    finally:
        raw.write_bytes(good)
    assert out.read_bytes() == before, "the previous training set must stay intact"


def test_transactions_of_one_customer_in_the_same_second_each_keep_their_label(
    project: Settings, transactions: pd.DataFrame
) -> None:
    labels = transactions.sample(200, random_state=3).reset_index(drop=True)
    twins = labels.head(40).assign(transaction_id=labels["transaction_id"].head(40) + 10**9)
    # Another customer at the very same second as each twin pair, too.
    others = labels.iloc[40:80].assign(event_timestamp=labels["event_timestamp"].head(40).tolist())
    with_collisions = pd.concat([labels, twins, others], ignore_index=True)
    with_collisions = with_collisions.drop_duplicates("transaction_id", keep="last")
    training = CustomerFeatures.of(project).training_set(with_collisions)
    assert list(training["transaction_id"]) == list(with_collisions["transaction_id"])
    assert list(training["is_fraud"]) == list(with_collisions["is_fraud"])
    by_id = training.set_index("transaction_id")
    names = feature_names(project)
    for original, twin in zip(
        labels["transaction_id"].head(40), twins["transaction_id"], strict=True
    ):
        pd.testing.assert_series_equal(
            by_id.loc[original, names], by_id.loc[twin, names], check_names=False
        )
    history = transactions.set_index("transaction_id")
    for row in training.head(40).itertuples():
        earlier = transactions[
            (transactions["customer_id"] == row.customer_id)
            & (transactions["event_timestamp"] < history.loc[row.transaction_id, "event_timestamp"])
        ]
        assert row.txn_count_total == len(earlier)


def test_training_set_refuses_rows_the_join_would_drop(
    project: Settings, transactions: pd.DataFrame
) -> None:
    labels = transactions.head(20).copy()
    too_late = timedelta(days=project.features.ttl_days + 400)
    labels.loc[labels.index[:3], "event_timestamp"] += too_late
    with pytest.raises(DroppedRowsError, match="dropped 3 of 20 label rows"):
        CustomerFeatures.of(project).training_set(labels)


def test_online_lookup_lists_unknown_customers(
    project: Settings, feature_table: pd.DataFrame
) -> None:
    materialize(open_store(project), feature_table)
    known = int(feature_table["customer_id"].iloc[-1])
    result = CustomerFeatures.of(project).online_features([known, 10_000_001])
    assert result.missing == [10_000_001]
    values = result.values.set_index("customer_id")
    assert values.loc[known, "txn_count_total"] > 0
    assert values.loc[10_000_001, feature_names(project)].isna().all()


def test_materialize_backfills_first_then_runs_incrementally_and_rebuilds_a_wiped_store(
    project: Settings, feature_table: pd.DataFrame
) -> None:
    store = open_store(project)
    first = materialize(store, feature_table)
    assert first.mode in {"backfill", "incremental"}
    assert materialize(store, feature_table).mode == "incremental"
    wipe_online_store(project, store)
    rebuilt = materialize(open_store(project), feature_table)
    assert rebuilt.mode == "backfill"
    newest = feature_table.sort_values("event_timestamp").iloc[-1]
    values = CustomerFeatures.of(project).online_features([int(newest["customer_id"])]).values
    assert values["txn_count_total"].iloc[0] == newest["txn_count_total"]


def wipe_online_store(settings: Settings, store: object) -> None:
    """Lose the online store as an operator might: delete the SQLite file or flush Redis."""
    online = store.config.online_store  # type: ignore[attr-defined]
    if online.type == "redis":
        flush_redis(online.connection_string)
    else:
        (settings.resolve(settings.feast.repo_path) / online.path).resolve().unlink()
