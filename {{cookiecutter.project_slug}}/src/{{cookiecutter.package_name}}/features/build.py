"""The per-customer feature table that Feast serves, free of leakage by construction.

Each row is a customer's state *after* one of their transactions, stamped one millisecond after
it, plus one empty state at signup. A point-in-time join for a transaction at time T therefore
sees the state after the customer's previous transaction and never the transaction itself, one
at the same moment, or a later one; the online store, materialised up to now, holds the state
after the latest one. The same rows feed training and serving, so the two cannot disagree.

The table is one SQL query over the Parquet files (window functions, with a RANGE frame per
window), run and written by the project's engine, {{ 'Spark' if cookiecutter.offline_store == 'spark' else 'DuckDB' }}, so the history never passes through
pandas: tens of millions of transactions build with memory the engine bounds and spills.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from {{ cookiecutter.package_name }}.data.contract import CUSTOMERS, TRANSACTIONS, check_file
{%- if cookiecutter.offline_store == "spark" %}
from {{ cookiecutter.package_name }}.data.files import DataFiles
{%- else %}
from {{ cookiecutter.package_name }}.data.files import DataFiles, staged
from {{ cookiecutter.package_name }}.features.duckdb_sql import connect, literal, parquet
{%- endif %}
from {{ cookiecutter.package_name }}.settings import FeatureSettings, Settings

if TYPE_CHECKING:
    import pandas as pd

STATE_DELAY_MS = 1
# A time's whole seconds since the epoch, in DuckDB (Spark's is unix_seconds).
DUCKDB_WHOLE_SECONDS = "CAST(floor(epoch_us({time}) / 1000000) AS BIGINT)"
TIME_DTYPE = "datetime64[ns, UTC]"
# Typed literals: Spark reads a bare 1.0 as a DECIMAL, which would change the sums' precision.
ONE, ZERO = "CAST(1 AS DOUBLE)", "CAST(0 AS DOUBLE)"
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
{%- if cookiecutter.offline_store == "spark" %}
    from {{ cookiecutter.package_name }}.features.spark_engine import write_feature_table_with_spark

    write_feature_table_with_spark(files, settings.features, settings.feast.spark)
{%- else %}
    query = feature_table_query(
        parquet(files.transactions), parquet(files.customers), settings.features
    )
    with staged(files.features) as partial, connect() as connection:
        connection.execute(f"COPY ({query}) TO {literal(str(partial))} (FORMAT parquet)")
{%- endif %}
    return files


def build_feature_table(
    transactions: pd.DataFrame, customers: pd.DataFrame, settings: FeatureSettings
) -> pd.DataFrame:
    """The feature table of frames in memory (tests, notebooks): the stage's query on them."""
{%- if cookiecutter.offline_store == "spark" %}
    from {{ cookiecutter.package_name }}.features.spark_engine import feature_table_of_frames

    table = feature_table_of_frames(transactions, customers, settings)
{%- else %}
    with connect() as connection:
        connection.register("transactions_frame", transactions)
        connection.register("customers_frame", customers)
        query = feature_table_query("transactions_frame", "customers_frame", settings)
        table = connection.execute(query).df()
{%- endif %}
    # Engines keep microseconds; frames elsewhere in the project carry pandas' nanoseconds.
    table = table.astype({"event_timestamp": TIME_DTYPE, "created": TIME_DTYPE})
    return table.sort_values(["event_timestamp", "customer_id"], ignore_index=True)


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


def feature_table_query(
    transactions: str,
    customers: str,
    settings: FeatureSettings,
    whole_seconds: str = DUCKDB_WHOLE_SECONDS,
) -> str:
    """One row per customer state, with `event_timestamp` and `created`, ready for Feast.

    Plain SQL that DuckDB and Spark both run: `transactions` and `customers` are table
    expressions (a registered frame or view, `read_parquet(...)`), `whole_seconds` the engine's
    expression for a time's whole seconds since the epoch (`{time}` in it is the time).
    Windows cover (t - w, t] in whole seconds of the state's transaction t; transactions of one
    customer at the same moment leave one state, after all of them (ordered by
    `transaction_id`), so no point-in-time join has to choose between equal times.

    Extension point: compute a new feature here and add its name and type to PROFILE_FEATURES;
    feature_repo/definitions.py declares it to Feast from that list.
    """
    in_order = "PARTITION BY customer_id ORDER BY event_timestamp, transaction_id"
    shares = share_conditions(settings)
    share_hits = [
        f"CASE WHEN {rule} THEN {ONE} ELSE {ZERO} END AS {name}_hit"
        for name, rule in shares.items()
    ]
    share_totals = [f"sum({name}_hit) OVER ({in_order}) AS {name}_hits" for name in shares]
    share_columns = [f"{name}_hits / n AS {name}" for name in shares]
    # Rows of the customer at least w before the transaction's second: what leaves the window.
    before = {
        hours: f"PARTITION BY customer_id ORDER BY unix_second "
        f"RANGE BETWEEN UNBOUNDED PRECEDING AND {hours * 3600} PRECEDING"
        for hours in settings.windows_hours
    }
    left_window = [
        column
        for hours, frame in before.items()
        for column in (
            f"count(*) OVER ({frame}) AS gone_{hours}",
            f"coalesce(sum(amount) OVER ({frame}), {ZERO}) AS gone_amount_{hours}",
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
    # The empty state at signup: no transaction in any window, no habits yet.
    signup_values = {
        **dict.fromkeys(window_features(settings.windows_hours), ZERO),
        **dict.fromkeys(PROFILE_FEATURES, "CAST(NULL AS DOUBLE)"),
        "txn_count_total": ZERO,
        "home_country": "home_country",
    }
    signup_columns = [f"{value} AS {name}" for name, value in signup_values.items()]
    features = [*window_features(settings.windows_hours), *PROFILE_FEATURES]
    seconds = whole_seconds.format(time="t.event_timestamp")
    # Two sorts in all (by time within each customer, by second for the windows); no join
    # between the states and the history, no global ORDER BY (Feast needs none).
    return f"""
WITH ordered AS (
    SELECT t.customer_id, t.transaction_id, t.event_timestamp, t.amount,
        {seconds} AS unix_second,
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
        CAST(unix_second AS DOUBLE) AS last_transaction_unix,
        home_country
    FROM running WHERE closes_moment
),
signup_rows AS (
    SELECT customer_id, signup_at AS event_timestamp, {", ".join(signup_columns)}
    FROM {customers}
)
SELECT customer_id, event_timestamp, event_timestamp AS created, {", ".join(features)}
FROM (
    SELECT customer_id, event_timestamp, {", ".join(features)} FROM table_rows
    UNION ALL
    SELECT customer_id, event_timestamp, {", ".join(features)} FROM signup_rows
)
"""
