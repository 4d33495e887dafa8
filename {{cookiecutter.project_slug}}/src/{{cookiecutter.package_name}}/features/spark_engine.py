"""Spark for the feature build and for Feast's Spark offline store, from the project's settings.

One session configuration serves both: the feature table's query (features/build.py, the same
SQL DuckDB runs) and Feast's point-in-time join (`type: spark` in feature_store.yaml). The master
comes from `feast.spark.master`: `local[*]` inside the process, a standalone cluster
(`spark://`) or Kubernetes (`k8s://`) by settings alone. A cluster that cannot be reached stops
the job before Spark starts, with the address in one line.
"""

from __future__ import annotations

import logging
import shutil
import socket
import warnings
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from {{ cookiecutter.package_name }}.data.files import DataFiles, staged
from {{ cookiecutter.package_name }}.features.build import feature_table_query
from {{ cookiecutter.package_name }}.settings import FeatureSettings, SparkSettings

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    from feast import FeatureStore
    from pyspark.sql import DataFrame, SparkSession

# A time's whole seconds since the epoch, in Spark SQL (feature_table_query's `whole_seconds`).
SPARK_WHOLE_SECONDS = "unix_seconds({time})"
CONNECT_TIMEOUT_S = 5.0
# What every session needs, whatever the cluster: UTC for hours and nights, microsecond
# timestamps in the Parquet it writes (what Feast and pandas read), raw files with pandas'
# nanosecond timestamps readable (as numbers, converted on read), Arrow between Spark and pandas.
BASE_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


class SparkMasterError(RuntimeError):
    """The configured Spark master cannot be reached."""


def spark_conf(spark: SparkSettings) -> dict[str, str]:
    """The session's configuration: the base, the settings' own entries, then the master."""
    local = {"spark.driver.host": "127.0.0.1"} if spark.master.startswith("local") else {}
    return {**BASE_CONF, **local, **spark.conf, "spark.master": spark.master}


def check_master(master: str) -> None:
    """Stop with the address when a cluster master does not accept a connection.

    Without this check a Spark driver waits and retries for minutes before failing with a
    JVM trace; `local` and `yarn` (found through Hadoop's configuration) are not checked.
    """
    for host, port in _master_addresses(master):
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise SparkMasterError(
                f"feast.spark.master {master}: {host}:{port} cannot be reached ({reason})"
            ) from None


def _master_addresses(master: str) -> list[tuple[str, int]]:
    """The host and port of each master a URL names (a standalone one may list several)."""
    if master.startswith("spark://"):
        hosts = master.removeprefix("spark://").split(",")
        return [(host.rsplit(":", 1)[0], int(host.rsplit(":", 1)[1])) for host in hosts]
    if master.startswith("k8s://"):
        url = master.removeprefix("k8s://")
        parts = urlsplit(url if "://" in url else f"https://{url}")
        default = 80 if parts.scheme == "http" else 443
        return [(parts.hostname or "", parts.port or default)]
    return []


def spark_session(spark: SparkSettings) -> SparkSession:
    """The process's Spark session, started from the settings when there is none yet."""
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    check_master(spark.master)
    quiet_spark_notes()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    conf = SparkConf().setAll(list(spark_conf(spark).items()))
    session = SparkSession.builder.config(conf=conf).getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def quiet_spark_notes() -> None:
    """Silence Feast's notes that its Spark parts are experimental, and py4j's at exit.

    Feast says its Spark store and source are experimental (docs/scale.md) on every join and
    every source it reads from the registry; py4j's INFO line on closing its connection to the
    JVM lands on standard output after the last line a command prints (a path a script reads,
    say). Call it after Feast's Spark module is imported: that import sets its
    warnings to "once", ahead of filters set before.
    """
    for subject in ("offline store", "data source API"):
        warnings.filterwarnings(
            "ignore", message=f"The spark {subject} is an experimental", category=RuntimeWarning
        )
    logging.getLogger("py4j").setLevel(logging.WARNING)


def configure_store(store: FeatureStore, spark: SparkSettings) -> None:
    """Give Feast's Spark offline store the settings' session configuration.

    feature_store.yaml names only the store's type; the session is the settings' (params.yaml,
    .env or the environment), so one place configures the cluster for the build and the join.
    Feast starts the session only when a join or a materialisation runs; `check_master` is
    for the callers that will run one (serving reads the online store only).
    """
    from feast.infra.offline_stores.contrib.spark_offline_store import spark as feast_spark

    quiet_spark_notes()
    offline = store.config.offline_store
    assert isinstance(offline, feast_spark.SparkOfflineStoreConfig), type(offline)
    offline.spark_conf = spark_conf(spark)


def read_parquet(session: SparkSession, path: Path) -> DataFrame:
    """A Parquet file as a Spark frame, pandas' nanosecond timestamps as Spark timestamps.

    Spark refuses nanosecond timestamps; the session reads them as numbers
    (`nanosAsLong`), turned back into times here, to the microsecond Spark keeps.
    """
    from pyspark.sql import functions

    nanosecond_columns = [
        field.name
        for field in pq.read_schema(path)
        if pa.types.is_timestamp(field.type) and field.type.unit == "ns"
    ]
    frame = session.read.parquet(str(path))
    return frame.withColumns(
        {
            name: functions.expr(f"timestamp_micros(`{name}` DIV 1000)")
            for name in nanosecond_columns
        }
    )


def write_feature_table_with_spark(
    files: DataFiles, features: FeatureSettings, spark: SparkSettings
) -> None:
    """Run the feature table's query on Spark and write it as the one Parquet file Feast reads.

    Spark writes a folder of parts; the single part replaces the feature table only when the
    whole job succeeded, so a failed build leaves the previous table as it was.
    """
    session = spark_session(spark)
    read_parquet(session, files.transactions).createOrReplaceTempView("raw_transactions")
    read_parquet(session, files.customers).createOrReplaceTempView("raw_customers")
    query = feature_table_query("raw_transactions", "raw_customers", features, SPARK_WHOLE_SECONDS)
    with staged(files.features) as partial:
        parts = partial.with_name(f"{partial.name}.parts")
        try:
            session.sql(query).repartition(1).write.parquet(str(parts))
            (part,) = parts.glob("part-*.parquet")
            part.replace(partial)
        finally:
            shutil.rmtree(parts, ignore_errors=True)


def feature_table_of_frames(
    transactions: pd.DataFrame, customers: pd.DataFrame, features: FeatureSettings
) -> pd.DataFrame:
    """The feature table of frames in memory, on a local session (tests, notebooks)."""
    session = spark_session(SparkSettings())
    session.createDataFrame(transactions).createOrReplaceTempView("frame_transactions")
    session.createDataFrame(customers).createOrReplaceTempView("frame_customers")
    query = feature_table_query(
        "frame_transactions", "frame_customers", features, SPARK_WHOLE_SECONDS
    )
    table: pd.DataFrame = session.sql(query).toPandas()
    # Spark hands pandas times without a zone, in the session's (UTC).
    for column in ("event_timestamp", "created"):
        table[column] = table[column].dt.tz_localize("UTC")
    return table
