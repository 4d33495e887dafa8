"""The data contract: what a transactions or customers file must look like before anything runs.

Checked by pandera on every read, so a broken file stops the run with a message that names the
column and the rule, before any downstream output is touched.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.parquet as pq
from pandera.errors import SchemaErrors

# The only values of the categorical columns. A value's position is its code for the model, so
# models trained earlier depend on this order: add values at the end, never reorder.
MERCHANT_CATEGORIES = (
    "grocery",
    "restaurant",
    "fuel",
    "retail",
    "electronics",
    "travel",
    "entertainment",
    "gambling",
    "other",
)
CHANNELS = ("pos", "online", "atm", "other")
# Where a team's own data puts a category or channel its mapping does not name (data/importer.py).
OTHER = "other"
CATEGORICAL = {"merchant_category": MERCHANT_CATEGORIES, "channel": CHANNELS}
# The column the model learns to predict, and the one that orders transactions in time.
LABEL = "is_fraud"
TIME = "event_timestamp"
MAX_AMOUNT = 50_000.0
COUNTRY_CODE = r"^[A-Z]{2}$"
# The country of a transaction whose source does not say (ISO 3166 user-assigned code).
UNKNOWN_COUNTRY = "XX"


class ContractViolation(ValueError):
    """A data file does not meet its contract; the message names the column and the rule."""


HAS_ROWS = pa.Check(lambda frame: len(frame) > 0, name="has_rows", error="the table has no rows")
TRANSACTION_COLUMNS = {
    "transaction_id": pa.Column("int64", unique=True, nullable=False),
    "customer_id": pa.Column("int64", pa.Check.ge(1), nullable=False),
    TIME: pa.Column("datetime64[ns, UTC]", nullable=False),
    "amount": pa.Column("float64", pa.Check.in_range(0.0, MAX_AMOUNT, include_min=False)),
    "merchant_category": pa.Column(str, pa.Check.isin(MERCHANT_CATEGORIES)),
    "channel": pa.Column(str, pa.Check.isin(CHANNELS)),
    "country": pa.Column(str, pa.Check.str_matches(COUNTRY_CODE)),
}
TRANSACTIONS = pa.DataFrameSchema(
    {**TRANSACTION_COLUMNS, LABEL: pa.Column("int64", pa.Check.isin([0, 1]))},
    checks=HAS_ROWS,
    strict=True,
    name="transactions",
)
# A batch to score: the same transaction columns; a label or other columns may come along.
TRANSACTIONS_TO_SCORE = pa.DataFrameSchema(
    TRANSACTION_COLUMNS, checks=HAS_ROWS, strict=False, name="transactions"
)

# A sensitive attribute of the customer: the fairness gate measures the model per band; it is
# never a model feature.
AGE_BAND = "age_band"
KNOWN_AGE_BANDS = ("18-29", "30-44", "45-64", "65+")
# Customers derived from a team's transactions have no recorded age.
UNKNOWN_AGE_BAND = "unknown"
AGE_BANDS = (*KNOWN_AGE_BANDS, UNKNOWN_AGE_BAND)

CUSTOMERS = pa.DataFrameSchema(
    {
        "customer_id": pa.Column("int64", pa.Check.ge(1), unique=True, nullable=False),
        "home_country": pa.Column(str, pa.Check.str_matches(COUNTRY_CODE)),
        "signup_at": pa.Column("datetime64[ns, UTC]", nullable=False),
        AGE_BAND: pa.Column(str, pa.Check.isin(AGE_BANDS)),
    },
    checks=HAS_ROWS,
    strict=True,
    name="customers",
)


def validate(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Return the frame if it meets the contract; otherwise raise one line per broken rule."""
    try:
        return schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        raise ContractViolation(describe_failures(schema.name, errors.failure_cases)) from None


def describe_failures(table: str, failures: pd.DataFrame) -> str:
    """One readable clause per broken rule, naming the column: `transactions.amount: ...`."""
    clauses: list[str] = []
    wrong_dtype: set[str] = set()
    for row in failures.itertuples(index=False):
        column, check, example = str(row.column), str(row.check), _plain(row.failure_case)
        if check == "column_in_dataframe":
            clause = f"{table}.{example}: missing column"
        elif check.startswith("dtype("):
            wrong_dtype.add(column)
            clause = f"{table}.{column}: expected dtype {check[7:-2]}, got {example}"
        elif column in wrong_dtype:
            continue
        elif check == "not_nullable":
            clause = f"{table}.{column}: must not be null"
        elif check == "field_uniqueness":
            clause = f"{table}.{column}: values must be unique (duplicate {example!r})"
        elif column == table:
            clause = f"{table}: {check}"
        else:
            clause = f"{table}.{column}: breaks {check} (e.g. {example!r})"
        clauses.append(clause)
    return "; ".join(dict.fromkeys(clauses))


def _plain(value: object) -> object:
    """NumPy scalars print as `np.int64(1)`; show the plain Python value instead."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def read_table(path: Path, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Read a Parquet file and check it against its contract."""
    try:
        frame = pd.read_parquet(path)
    except (OSError, pa_arrow.ArrowInvalid) as error:
        raise _unreadable(path, schema, error) from None
    return validate(frame, schema)


def check_file(path: Path, schema: pa.DataFrameSchema, batch_rows: int = 1_000_000) -> int:
    """Check a Parquet file against its contract without loading it whole; return its rows.

    The rules run on batches of `batch_rows` rows (memory stays bounded at any size); columns
    that must be unique are then checked across the whole file by DuckDB. The message is the
    one `validate` gives: the first batch that breaks a rule stops the check.
    """
    import duckdb

    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=batch_rows)
        rows = 0
        for batch in batches:
            validate(batch.to_pandas(), schema)
            rows += batch.num_rows
    except (OSError, pa_arrow.ArrowInvalid) as error:
        raise _unreadable(path, schema, error) from None
    if not rows:
        validate(pq.read_table(path).to_pandas(), schema)
    unique = [name for name, column in schema.columns.items() if column.unique]
    with duckdb.connect() as connection:
        for column in unique:
            duplicate = connection.execute(
                f'SELECT "{column}" FROM read_parquet(?) GROUP BY 1 HAVING count(*) > 1 LIMIT 1',
                [str(path)],
            ).fetchone()
            if duplicate:
                raise ContractViolation(
                    f"{schema.name}.{column}: values must be unique (duplicate {duplicate[0]!r})"
                )
    return rows


def _unreadable(path: Path, schema: pa.DataFrameSchema, error: Exception) -> ContractViolation:
    return ContractViolation(f"{schema.name}: {path} is empty or not Parquet ({error})")
