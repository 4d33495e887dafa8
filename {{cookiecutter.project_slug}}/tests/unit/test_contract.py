from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.data.contract import TRANSACTIONS, ContractViolation, check_file
from {{ cookiecutter.package_name }}.data.files import DataFiles
from {{ cookiecutter.package_name }}.data.sources import write_raw_tables
from {{ cookiecutter.package_name }}.features.build import write_feature_table
from {{ cookiecutter.package_name }}.settings import load_settings


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def set_value(column: str, row: int, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        changed = frame.astype({column: "object"}) if value is None else frame.copy()
        changed.loc[row, column] = value
        return changed

    return change


BROKEN_TRANSACTIONS = {
    "missing column": (
        lambda frame: frame.drop(columns="amount"),
        "transactions.amount: missing column",
    ),
    "wrong dtype": (
        lambda frame: frame.astype({"amount": str}),
        "transactions.amount: expected dtype float64, got object",
    ),
    "null key": (set_value("customer_id", 3, None), "transactions.customer_id: must not be null"),
    "duplicate id": (
        set_value("transaction_id", 5, 1),
        "transactions.transaction_id: values must be unique (duplicate 1)",
    ),
    "out-of-range amount": (
        set_value("amount", 7, -12.5),
        "transactions.amount: breaks in_range(0.0, 50000.0) (e.g. -12.5)",
    ),
    "unknown channel": (
        set_value("channel", 2, "fax"),
        "transactions.channel: breaks isin",
    ),
    "no rows": (lambda frame: frame.iloc[:0], "transactions: the table has no rows"),
}


@pytest.fixture
def built_project(project_copy: Path) -> DataFiles:
    settings = load_settings()
    write_raw_tables(settings)
    return write_feature_table(settings)


@pytest.mark.parametrize("case", BROKEN_TRANSACTIONS, ids=str)
def test_broken_file_stops_the_stage_with_its_own_message_and_keeps_outputs(
    built_project: DataFiles, case: str
) -> None:
    breaks, message = BROKEN_TRANSACTIONS[case]
    before = digest(built_project.features)
    transactions = pd.read_parquet(built_project.transactions)
    breaks(transactions).to_parquet(built_project.transactions, index=False)
    with pytest.raises(ContractViolation) as error:
        write_feature_table(load_settings())
    assert str(error.value).startswith(message), str(error.value)
    assert digest(built_project.features) == before, "previous outputs must stay intact"


def test_empty_file_is_named(built_project: DataFiles) -> None:
    before = digest(built_project.features)
    built_project.transactions.write_bytes(b"")
    with pytest.raises(ContractViolation, match=r"transactions: .* is empty or not Parquet"):
        write_feature_table(load_settings())
    assert digest(built_project.features) == before


def test_every_broken_rule_is_listed(built_project: DataFiles) -> None:
    transactions = pd.read_parquet(built_project.transactions)
    broken = set_value("channel", 2, "fax")(set_value("amount", 7, -1.0)(transactions))
    broken.to_parquet(built_project.transactions, index=False)
    with pytest.raises(ContractViolation) as error:
        write_feature_table(load_settings())
    assert "transactions.amount" in str(error.value)
    assert "transactions.channel" in str(error.value)


def test_a_file_checked_in_batches_still_finds_a_duplicate_across_batches(
    built_project: DataFiles,
) -> None:
    transactions = pd.read_parquet(built_project.transactions)
    assert check_file(built_project.transactions, TRANSACTIONS, batch_rows=1_000) == len(
        transactions
    )
    last = len(transactions) - 1
    first_id = int(transactions["transaction_id"].iloc[0])
    set_value("transaction_id", last, first_id)(transactions).to_parquet(
        built_project.transactions, index=False
    )
    with pytest.raises(
        ContractViolation, match=rf"transaction_id: values must be unique \(duplicate {first_id}\)"
    ):
        check_file(built_project.transactions, TRANSACTIONS, batch_rows=1_000)
