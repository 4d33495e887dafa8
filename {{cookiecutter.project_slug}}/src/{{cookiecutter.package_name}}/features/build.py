"""The per-customer feature table that Feast serves, free of leakage by construction.

Each row is a customer's state *after* one of their transactions, stamped one millisecond after
it, plus one empty state at signup. A point-in-time join for a transaction at time T therefore
sees the state after the customer's previous transaction and never the transaction itself, one
at the same moment, or a later one; the online store, materialised up to now, holds the state
after the latest one. The same rows feed training and serving, so the two cannot disagree.

The table is one DuckDB query over the Parquet files (window functions, with a RANGE frame per
window), written by DuckDB: the history never passes through pandas, so tens of millions of
transactions build in seconds with memory DuckDB bounds and spills.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from {{ cookiecutter.package_name }}.data.contract import CUSTOMERS, TRANSACTIONS, check_file
from {{ cookiecutter.package_name }}.data.files import DataFiles, staged
from {{ cookiecutter.package_name }}.features.duckdb_sql import connect, literal, parquet
from {{ cookiecutter.package_name }}.settings import FeatureSettings, Settings

if TYPE_CHECKING:
    import pandas as pd

STATE_DELAY_MS = 1
TIME_DTYPE = "datetime64[ns, UTC]"
# The customer_profile view (feature_repo/definitions.py), with each feature's type. The model
# reads PROFILE_INPUTS as they are; the other two only feed request-time features.
PROFILE_INPUTS = ("txn_count_total", "avg_amount", "night_share", "foreign_share")
PROFILE_FEATURES: dict[str, type] = {
    **dict.fromkeys(PROFILE_INPUTS, float),
    "last_transaction_unix": float,
    "home_country": str,
}


def window_features(windows_hours: tuple[int, ...]) -> list[str]:
    """Names of the windowed count and amount-sum columns, e.g. txn_count_24h."""
    return [f"{kind}_{hours}h" for hours in windows_hours for kind in ("txn_count", "amount_sum")]


def write_feature_table(settings: Settings) -> DataFiles:
    """The DVC `features` stage: check the raw files against their contract, then build.

    A file that breaks the contract stops here, before the feature table is touched; the new
    table replaces the old one only once it is completely written.
    """
    files = DataFiles.of(settings)
    check_file(files.customers, CUSTOMERS)
    check_file(files.transactions, TRANSACTIONS)
    query = feature_table_query(
        parquet(files.transactions), parquet(files.customers), settings.features
    )
    with staged(files.features) as partial, connect() as connection:
        connection.execute(f"COPY ({query}) TO {literal(str(partial))} (FORMAT parquet)")
    return files


def build_feature_table(
    transactions: pd.DataFrame, customers: pd.DataFrame, settings: FeatureSettings
) -> pd.DataFrame:
    """The feature table of frames in memory (tests, notebooks): the stage's query on them."""
    with connect() as connection:
        connection.register("transactions_frame", transactions)
        connection.register("customers_frame", customers)
        query = feature_table_query("transactions_frame", "customers_frame", settings)
        table: pd.DataFrame = connection.execute(
            f"{query} ORDER BY event_timestamp, customer_id"
        ).df()
    # DuckDB keeps microseconds; frames elsewhere in the project carry pandas' nanoseconds.
    return table.astype({"event_timestamp": TIME_DTYPE, "created": TIME_DTYPE})


def share_conditions(settings: FeatureSettings) -> dict[str, str]:
    """Each share feature and the SQL condition on a transaction `t` (of customer `c`) it counts.

    Extension point: a new share of the customer's transactions is one line here, e.g.
    `"online_share": "t.channel = 'online'"`, plus its name in PROFILE_INPUTS.
    """
    night_start, night_end = settings.night_hours
    hour = "hour(t.event_timestamp)"
    return {
        "night_share": f"{hour} >= {night_start} AND {hour} < {night_end}",
        "foreign_share": "t.country IS DISTINCT FROM c.home_country",
    }


def feature_table_query(transactions: str, customers: str, settings: FeatureSettings) -> str:
    """One row per customer state, with `event_timestamp` and `created`, ready for Feast.

    `transactions` and `customers` are table expressions (a registered frame or
    `read_parquet(...)`). Windows cover (t - w, t] in whole seconds of the state's transaction
    t; transactions of one customer at the same moment leave one state, after all of them
    (ordered by `transaction_id`), so no point-in-time join has to choose between equal times.

    Extension point: compute a new feature here and add its name and type to PROFILE_FEATURES;
    feature_repo/definitions.py declares it to Feast from that list.
    """
    in_order = "PARTITION BY customer_id ORDER BY event_timestamp, transaction_id"
    shares = share_conditions(settings)
    share_hits = [
        f"CASE WHEN {rule} THEN 1.0 ELSE 0.0 END AS {name}_hit" for name, rule in shares.items()
    ]
    share_totals = [f"sum({name}_hit) OVER ({in_order}) AS {name}_hits" for name in shares]
    share_columns = [f"{name}_hits / n AS {name}" for name in shares]
    # Rows of the customer at least w before the transaction's second: what leaves the window.
    before = {
        hours: f"PARTITION BY customer_id ORDER BY second "
        f"RANGE BETWEEN UNBOUNDED PRECEDING AND {hours * 3600} PRECEDING"
        for hours in settings.windows_hours
    }
    left_window = [
        column
        for hours, frame in before.items()
        for column in (
            f"count(*) OVER ({frame}) AS gone_{hours}",
            f"coalesce(sum(amount) OVER ({frame}), 0.0) AS gone_amount_{hours}",
        )
    ]
    window_columns = [
        column
        for hours in settings.windows_hours
        for column in (
            f"CAST(n - gone_{hours} AS DOUBLE) AS txn_count_{hours}h",
            f"amount_total - gone_amount_{hours} AS amount_sum_{hours}h",
        )
    ]
    empty_windows = [f"0.0 AS {name}" for name in window_features(settings.windows_hours)]
    columns = ", ".join(
        [
            "customer_id",
            "event_timestamp",
            "event_timestamp AS created",
            *window_features(settings.windows_hours),
            *PROFILE_FEATURES,
        ]
    )
    # Two sorts in all (by time within each customer, by second for the windows); no join
    # between the states and the history, no global ORDER BY (Feast needs none).
    return f"""
WITH ordered AS (
    SELECT t.customer_id, t.transaction_id, t.event_timestamp, t.amount,
        CAST(floor(epoch_us(t.event_timestamp) / 1000000) AS BIGINT) AS second,
        {", ".join(share_hits)},
        c.home_country
    FROM {transactions} t LEFT JOIN {customers} c USING (customer_id)
),
running AS (
    SELECT *,
        row_number() OVER ({in_order}) AS n,
        sum(amount) OVER ({in_order}) AS amount_total,
        {", ".join(share_totals)},
        lead(event_timestamp) OVER ({in_order}) IS DISTINCT FROM event_timestamp AS closes_moment,
        {", ".join(left_window)}
    FROM ordered
),
table_rows AS (
    SELECT customer_id,
        event_timestamp + INTERVAL {STATE_DELAY_MS} MILLISECOND AS event_timestamp,
        {", ".join(window_columns)},
        CAST(n AS DOUBLE) AS txn_count_total,
        amount_total / n AS avg_amount,
        {", ".join(share_columns)},
        CAST(second AS DOUBLE) AS last_transaction_unix,
        home_country
    FROM running WHERE closes_moment
    UNION ALL BY NAME
    SELECT customer_id, signup_at AS event_timestamp, {", ".join(empty_windows)},
        0.0 AS txn_count_total, home_country
    FROM {customers}
)
SELECT {columns} FROM table_rows
"""
