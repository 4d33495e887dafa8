"""The DuckDB connection and SQL quoting shared by the feature build and the offline store."""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that reads times in UTC (hours, nights) whatever the host.

    Rows need not keep their input order (each query says the order it needs), which lets DuckDB
    stream and spill with less memory.
    """
    connection = duckdb.connect(config={"preserve_insertion_order": False})
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def identifier(name: str) -> str:
    """A column name quoted for SQL."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A string quoted for SQL (a path in `COPY ... TO`, which takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def parquet(path: Path | str) -> str:
    """The table expression that reads a Parquet file."""
    return f"read_parquet({literal(str(path))})"
