"""A team's own transactions, read through the mapping in params.yaml into the project's tables.

Plain functions over a DataFrame, so every rule tests without files. Two kinds of rows are dropped
by a stated rule and counted (a missing label, a repeated transaction id); anything else that
breaks the contract stops the import with one clause per broken rule and its first rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.data.contract import (
    AGE_BAND,
    CHANNELS,
    CUSTOMERS,
    LABEL,
    MAX_AMOUNT,
    MERCHANT_CATEGORIES,
    OTHER,
    TIME,
    TRANSACTIONS,
    UNKNOWN_AGE_BAND,
    UNKNOWN_COUNTRY,
    ContractViolation,
    validate,
)
from {{ cookiecutter.package_name }}.settings import SourceMapping

# Ids stay exact in JSON (the serving API's bound): larger ones, such as raw card numbers, need
# a token or a hash first.
MAX_ID = 2**53
# How many offending rows a clause quotes.
EXAMPLES = 3
# A derived customer signs up this long before their first transaction, so the feature table's
# empty signup state precedes it.
SIGNUP_LEAD = pd.Timedelta(days=1)
MISSING = "(missing)"


@dataclass
class ImportReport:
    """What an import read, dropped, mapped and filled in: logged with every training run."""

    source: str
    rows_read: int
    rows_kept: int = 0
    customers: int = 0
    frauds: int = 0
    first_event: str = ""
    last_event: str = ""
    # rule -> number of rows dropped by it, and the first rows dropped (as in the source)
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_rows: dict[str, list[str]] = field(default_factory=dict)
    # column -> {source value -> rows} of kept rows mapped by the mapping, or put in `other`
    mapped: dict[str, dict[str, int]] = field(default_factory=dict)
    other: dict[str, dict[str, int]] = field(default_factory=dict)
    # project columns the source lacks, with the value every row got
    defaults: dict[str, str] = field(default_factory=dict)
    # rows sharing their customer and second with another row (all are kept)
    same_second_rows: int = 0
    transaction_ids: str = "numbered in file order"
    customers_derived: bool = True

    def to_json(self) -> str:
        """The report as indented JSON (the machine-readable record)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    def to_markdown(self) -> str:
        """The report as Markdown for a person (rendered by GitHub, GitLab and MkDocs)."""
        lines = [
            "# Import report",
            "",
            f"- source: `{self.source}`",
            f"- rows read: {self.rows_read:,}; kept: {self.rows_kept:,}; "
            f"customers: {self.customers:,}; frauds: {self.frauds:,}",
            f"- events from {self.first_event or '-'} to {self.last_event or '-'} (UTC)",
            f"- transaction ids: {self.transaction_ids}; customers "
            + ("derived from the transactions" if self.customers_derived else "generated"),
            f"- rows sharing customer and second with another (kept): {self.same_second_rows:,}",
            "",
            "## Dropped rows",
            "",
            *(
                [
                    f"- {rule}: {count:,} (first: {', '.join(self.dropped_rows[rule])})"
                    for rule, count in self.dropped.items()
                ]
                or ["- none"]
            ),
            "",
            "## Values mapped",
            "",
            *_value_lines(self.mapped),
            "",
            "## Values put in `other`",
            "",
            *_value_lines(self.other),
            "",
            "## Columns the source lacks (default used)",
            "",
            *([f"- {column}: `{value}`" for column, value in self.defaults.items()] or ["- none"]),
            "",
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class Imported:
    """The project's two tables, built from the source, and the report of how."""

    customers: pd.DataFrame
    transactions: pd.DataFrame
    report: ImportReport


def import_transactions(
    source: pd.DataFrame,
    mapping: SourceMapping,
    name: str,
    row_label: Callable[[int], str] = lambda position: f"line {position + 2}",
) -> Imported:
    """Map a source table to the contract's transactions and derive its customers.

    `row_label` names a row of the source by its position (CSV: the line, counting the header).
    Raises ContractViolation with every broken rule, before anything is written.
    """
    _check_mapping(source, mapping, name)
    frame = source.reset_index(drop=True)
    report = ImportReport(source=name, rows_read=len(frame))

    label = pd.to_numeric(frame[mapping.label], errors="coerce")
    keep = _drop(report, "missing label", frame[mapping.label].isna(), row_label)
    if mapping.transaction_id is not None:
        repeated = frame[mapping.transaction_id].duplicated() & keep
        keep &= _drop(report, "repeated transaction id", repeated, row_label)
    frame, label = frame[keep], label[keep]

    rules = _Rules(frame, row_label)
    customer = _whole_numbers(frame[mapping.customer_id])
    rules.check(
        mapping.customer_id, "customer_id", customer.isna(), "is not a whole number from 1 to 2**53"
    )
    times = _parse_times(frame[mapping.event_timestamp], mapping)
    time_rule = f"is not a time in format {mapping.time_format or 'ISO 8601'}"
    rules.check(mapping.event_timestamp, TIME, times.isna(), time_rule)
    amount = pd.to_numeric(frame[mapping.amount], errors="coerce")
    rules.check(mapping.amount, "amount", amount.isna(), "is not a number")
    rules.check(mapping.amount, "amount", amount <= 0, "is not above 0")
    rules.check(mapping.amount, "amount", amount > MAX_AMOUNT, f"is above {MAX_AMOUNT:,.0f}")
    rules.check(mapping.label, LABEL, ~label.isin([0, 1]), "is not 0 or 1")
    country = _countries(frame, mapping, report)
    if mapping.country is not None:
        broken = ~country.str.fullmatch("[A-Z]{2}")
        rules.check(mapping.country, "country", broken, "is not a two-letter country code")
    breaches = rules.breaches
    if not frame.empty and label.isin([0, 1]).all() and not (label == 1).any():
        breaches.append(
            f"{LABEL} (column {mapping.label!r}): no row of {len(frame):,} is fraud (1); "
            "the model would have nothing to learn"
        )
    if frame.empty:
        breaches.append(f"no labelled rows: all {report.rows_read:,} rows were dropped or absent")
    if breaches:
        raise ContractViolation(f"{name} breaks the contract: " + "; ".join(breaches))

    transactions = pd.DataFrame(
        {
            "transaction_id": _transaction_ids(frame, mapping, report),
            "customer_id": customer.astype("int64").to_numpy(),
            TIME: times.to_numpy(),
            "amount": amount.astype("float64").to_numpy(),
            "merchant_category": _categories(
                frame,
                mapping.merchant_category,
                mapping.merchant_categories,
                MERCHANT_CATEGORIES,
                "merchant_category",
                report,
            ),
            "channel": _categories(
                frame, mapping.channel, mapping.channels, CHANNELS, "channel", report
            ),
            "country": country.to_numpy(),
            LABEL: label.astype("int64").to_numpy(),
        }
    )
    transactions[TIME] = pd.to_datetime(transactions[TIME], utc=True)
    transactions = transactions.sort_values([TIME, "transaction_id"], ignore_index=True)
    customers = derive_customers(transactions)
    summarise(report, transactions)
    return Imported(
        customers=validate(customers, CUSTOMERS),
        transactions=validate(transactions, TRANSACTIONS),
        report=report,
    )


def derive_customers(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row per customer, for a source that has transactions only.

    Home country is the customer's most frequent one, signup a day before their first
    transaction, age band unknown (transactions do not record it).
    """
    by_customer = transactions.groupby("customer_id")
    home = (
        transactions.groupby(["customer_id", "country"])
        .size()
        .rename("rows")
        .reset_index()
        .sort_values(["customer_id", "rows", "country"], ascending=[True, False, True])
        .drop_duplicates("customer_id")
        .set_index("customer_id")["country"]
    )
    first = by_customer[TIME].min()
    return pd.DataFrame(
        {
            "customer_id": first.index.to_numpy(dtype="int64"),
            "home_country": home.reindex(first.index).to_numpy(),
            "signup_at": (first - SIGNUP_LEAD).to_numpy(),
            AGE_BAND: UNKNOWN_AGE_BAND,
        }
    ).assign(signup_at=lambda table: pd.to_datetime(table["signup_at"], utc=True))


def _check_mapping(source: pd.DataFrame, mapping: SourceMapping, name: str) -> None:
    """Every mapped column exists and every mapped value is one the project knows."""
    problems = [
        f"{target}: column {column!r} is not in the source"
        for target, column in _mapped_columns(mapping).items()
        if column not in source.columns
    ]
    for setting, values, allowed in (
        ("merchant_categories", mapping.merchant_categories, MERCHANT_CATEGORIES),
        ("channels", mapping.channels, CHANNELS),
    ):
        problems += [
            f"mapping.{setting}: {source_value!r} -> {value!r}, which is not one of "
            + ", ".join(allowed)
            for source_value, value in values.items()
            if value not in allowed
        ]
    if problems:
        columns = ", ".join(repr(str(column)) for column in source.columns[:20])
        raise ContractViolation(
            f"{name} breaks the contract: " + "; ".join(problems) + f" (its columns: {columns})"
        )


def _mapped_columns(mapping: SourceMapping) -> dict[str, str]:
    targets = {
        "transaction_id": mapping.transaction_id,
        "customer_id": mapping.customer_id,
        TIME: mapping.event_timestamp,
        "amount": mapping.amount,
        "merchant_category": mapping.merchant_category,
        "channel": mapping.channel,
        "country": mapping.country,
        LABEL: mapping.label,
    }
    return {target: column for target, column in targets.items() if column is not None}


def _drop(
    report: ImportReport, rule: str, rows: pd.Series, row_label: Callable[[int], str]
) -> pd.Series:
    """Count the rows a rule drops; returns the mask of rows to keep."""
    dropped = rows.to_numpy().nonzero()[0]
    if len(dropped):
        report.dropped[rule] = len(dropped)
        report.dropped_rows[rule] = [row_label(int(index)) for index in dropped[:EXAMPLES]]
    return ~rows


class _Rules:
    """Collects one clause per broken rule, quoting its first rows and their source values."""

    def __init__(self, frame: pd.DataFrame, row_label: Callable[[int], str]) -> None:
        self.frame = frame
        self.row_label = row_label
        self.breaches: list[str] = []

    def check(self, column: str, target: str, broken: pd.Series, rule: str) -> None:
        rows = self.frame.index[broken.fillna(False).to_numpy(dtype=bool)]
        if len(rows):
            examples = ", ".join(
                f"{self.row_label(int(index))}: {_show(self.frame.at[index, column])}"
                for index in rows[:EXAMPLES]
            )
            self.breaches.append(
                f"{target} (column {column!r}): {len(rows):,} rows where it {rule} ({examples})"
            )


def _show(value: object) -> str:
    return (
        MISSING
        if value is None or (isinstance(value, float) and np.isnan(value))
        else repr(value.item() if isinstance(value, np.generic) else value)
    )


def _whole_numbers(values: pd.Series) -> pd.Series:
    """Integers from 1 to MAX_ID, kept exact (a float would round long ids); anything else NaN."""
    if pd.api.types.is_integer_dtype(values):
        return values.where((values >= 1) & (values <= MAX_ID)).astype("Int64")
    text = values.astype("string").str.strip().str.removesuffix(".0")
    whole = text.str.fullmatch(r"[0-9]{1,18}").fillna(False)
    numbers = pd.Series(pd.NA, index=values.index, dtype="Int64")
    numbers[whole] = text[whole].astype("int64")
    return numbers.where((numbers >= 1) & (numbers <= MAX_ID))


def _parse_times(values: pd.Series, mapping: SourceMapping) -> pd.Series:
    """UTC times: naive ones are read in the mapping's zone, offsets are kept; bad ones NaT."""
    if mapping.time_format in ("unix", "unix_ms"):
        unit = "s" if mapping.time_format == "unix" else "ms"
        return pd.to_datetime(pd.to_numeric(values, errors="coerce"), unit=unit, utc=True)
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        text = values.astype("string").str.strip()
        fmt = mapping.time_format or "ISO8601"
        try:
            parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        except ValueError:  # offsets that differ between rows (e.g. across a DST change)
            return pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
    if parsed.dt.tz is None:
        # A time that occurs twice when summer time ends is read as the summer one; one that
        # a clock change skips moves forward to the first valid time.
        parsed = parsed.dt.tz_localize(
            mapping.time_zone,
            ambiguous=np.ones(len(parsed), dtype=bool),
            nonexistent="shift_forward",
        )
    return parsed.dt.tz_convert("UTC")


def _countries(frame: pd.DataFrame, mapping: SourceMapping, report: ImportReport) -> pd.Series:
    if mapping.country is None:
        report.defaults["country"] = UNKNOWN_COUNTRY
        return pd.Series(UNKNOWN_COUNTRY, index=frame.index)
    return frame[mapping.country].astype("string").str.strip().str.upper().fillna(UNKNOWN_COUNTRY)


def _categories(
    frame: pd.DataFrame,
    column: str | None,
    mapping: dict[str, str],
    allowed: tuple[str, ...],
    target: str,
    report: ImportReport,
) -> np.ndarray:
    """Project values: mapped ones, values already the project's, and `other` for the rest."""
    if column is None:
        report.defaults[target] = OTHER
        return np.full(len(frame), OTHER, dtype=object)
    raw = frame[column].astype("string").str.strip().fillna(MISSING)
    lowered = raw.str.lower()
    mapped = raw.map(mapping)
    known = lowered.where(lowered.isin(allowed))
    values = mapped.fillna(known).fillna(OTHER)
    counts = raw.value_counts()
    report.mapped[target] = {
        f"{value} -> {mapping[value]}": int(counts[value]) for value in raw[mapped.notna()].unique()
    }
    other = raw[mapped.isna() & known.isna()]
    report.other[target] = {str(value): int(counts[value]) for value in other.unique()}
    return np.asarray(values, dtype=object)


def _transaction_ids(
    frame: pd.DataFrame, mapping: SourceMapping, report: ImportReport
) -> np.ndarray:
    """The source's ids when they are whole numbers, else 1..n in file order."""
    if mapping.transaction_id is not None:
        ids = _whole_numbers(frame[mapping.transaction_id])
        if ids.notna().all():
            report.transaction_ids = f"from column {mapping.transaction_id!r}"
            return np.asarray(ids, dtype="int64")
        report.transaction_ids = (
            f"numbered in file order (column {mapping.transaction_id!r} is not whole numbers; "
            "used only to find repeats)"
        )
    return np.arange(1, len(frame) + 1, dtype="int64")


def summarise(report: ImportReport, transactions: pd.DataFrame) -> None:
    """Fill in the counts and the period of the tables an import produced."""
    report.rows_kept = len(transactions)
    report.customers = int(transactions["customer_id"].nunique())
    report.frauds = int(transactions[LABEL].sum())
    report.first_event = transactions[TIME].min().isoformat()
    report.last_event = transactions[TIME].max().isoformat()
    second = transactions[TIME].dt.floor("s")
    report.same_second_rows = int(
        pd.DataFrame({"c": transactions["customer_id"], "s": second}).duplicated(keep=False).sum()
    )


def _value_lines(values: dict[str, dict[str, int]]) -> list[str]:
    lines = [
        f"- {column}: " + ", ".join(f"`{value}` ({rows:,})" for value, rows in counts.items())
        for column, counts in values.items()
        if counts
    ]
    return lines or ["- none"]
