"""A team's own transactions through the mapping: every rule without files or DVC."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.data.contract import ContractViolation
from {{ cookiecutter.package_name }}.data.importer import import_transactions
from {{ cookiecutter.package_name }}.settings import DataSettings, SourceMapping

MAPPING = SourceMapping(
    transaction_id="ref",
    customer_id="card",
    event_timestamp="posted",
    time_format="%d/%m/%Y %H:%M:%S",
    time_zone="Europe/Paris",
    amount="amt",
    merchant_category="mcc",
    channel="mode",
    country="ctry",
    label="flag",
    merchant_categories={"GROC": "grocery", "GAS": "fuel"},
    channels={"ecom": "online", "chip": "pos"},
)


def export(**changes: list[object]) -> pd.DataFrame:
    """Four rows of a bank's export, as text (as a CSV is read); `changes` replaces columns."""
    rows = {
        "ref": ["A1", "A2", "A3", "A4"],
        "card": ["4000000000000001", "4000000000000001", "7", "7"],
        # 15 January is winter time (UTC+1), 15 July summer time (UTC+2)
        "posted": ["15/01/2026 10:00:00", "15/01/2026 10:00:00", "15/07/2026 23:30:00", "bad"],
        "amt": ["12.50", "99.00", "5", "7"],
        "mcc": ["GROC", "GAS", "charity", "travel"],
        "mode": ["chip", "ecom", "atm", None],
        "ctry": ["fr", "FR", "de", "DE"],
        "flag": ["0", "1", "0", "1"],
        "terminal": ["t1", "t2", "t3", "t4"],
    }
    rows["posted"][3] = "16/07/2026 08:00:00"
    return pd.DataFrame({**rows, **changes})


def test_a_bank_export_becomes_the_contract_s_tables_with_a_report() -> None:
    imported = import_transactions(export(), MAPPING, "bank.csv")
    table = imported.transactions
    assert list(table["customer_id"]) == [4000000000000001, 4000000000000001, 7, 7]
    assert table["event_timestamp"].dt.tz is not None
    assert [stamp.isoformat() for stamp in table["event_timestamp"][[0, 2]]] == [
        "2026-01-15T09:00:00+00:00",
        "2026-07-15T21:30:00+00:00",
    ]
    assert list(table["merchant_category"]) == ["grocery", "fuel", "other", "travel"]
    assert list(table["channel"]) == ["pos", "online", "atm", "other"]
    assert list(table["country"]) == ["FR", "FR", "DE", "DE"]
    assert list(table["transaction_id"]) == [1, 2, 3, 4]
    report = imported.report
    assert report.mapped["merchant_category"] == {"GROC -> grocery": 1, "GAS -> fuel": 1}
    assert report.other == {"merchant_category": {"charity": 1}, "channel": {"(missing)": 1}}
    assert report.same_second_rows == 2
    assert (report.rows_read, report.rows_kept, report.customers, report.frauds) == (4, 4, 2, 2)
    customers = imported.customers.set_index("customer_id")
    assert set(customers["age_band"]) == {"unknown"}
    assert customers.loc[7, "home_country"] == "DE"
    assert customers.loc[7, "signup_at"] < table["event_timestamp"][2]
    assert json.loads(report.to_json())["other"]["merchant_category"] == {"charity": 1}
    assert "`charity` (1)" in report.to_markdown()


def test_missing_labels_and_repeated_ids_are_dropped_and_counted() -> None:
    frame = export(flag=["1", None, "0", "0"], ref=["A1", "A2", "A1", "A4"])
    imported = import_transactions(frame, MAPPING, "bank.csv")
    assert imported.report.dropped == {"missing label": 1, "repeated transaction id": 1}
    assert imported.report.dropped_rows == {
        "missing label": ["line 3"],
        "repeated transaction id": ["line 4"],
    }
    assert len(imported.transactions) == 2


def test_whole_number_ids_are_kept_and_absent_optional_columns_get_their_defaults() -> None:
    mapping = MAPPING.model_copy(
        update={"transaction_id": "id", "channel": None, "country": None, "time_format": "unix"}
    )
    frame = export(id=["10", "11", "12", "13"], posted=["1767258000"] * 4).drop(
        columns=["mode", "ctry"]
    )
    imported = import_transactions(frame, mapping, "bank.csv")
    assert list(imported.transactions["transaction_id"]) == [10, 11, 12, 13]
    assert set(imported.transactions["channel"]) == {"other"}
    assert set(imported.transactions["country"]) == {"XX"}
    assert imported.report.defaults == {"country": "XX", "channel": "other"}
    assert imported.transactions["event_timestamp"][0].isoformat() == "2026-01-01T09:00:00+00:00"


@pytest.mark.parametrize(
    ("frame", "clause"),
    [
        (
            export().drop(columns="amt"),
            "amount: column 'amt' is not in the source",
        ),
        (
            export(posted=["31/02/2026 10:00:00"] + ["15/01/2026 10:00:00"] * 3),
            "event_timestamp (column 'posted'): 1 rows where it is not a time in format "
            "%d/%m/%Y %H:%M:%S (line 2: '31/02/2026 10:00:00')",
        ),
        (
            export(amt=["12.50", "-3.10", "5", "7"]),
            "amount (column 'amt'): 1 rows where it is not above 0 (line 3: '-3.10')",
        ),
        (
            export(flag=["0", "yes", "2", "1"]),
            "is_fraud (column 'flag'): 2 rows where it is not 0 or 1 (line 3: 'yes', line 4: '2')",
        ),
        (
            export(flag=["0", "0", "0", "0"]),
            "is_fraud (column 'flag'): no row of 4 is fraud (1)",
        ),
        (
            export(card=["abc", "1", "99999999999999999", "1"]),
            "customer_id (column 'card'): 2 rows where it is not a whole number from 1 to 2**53 "
            "(line 2: 'abc', line 4: '99999999999999999')",
        ),
    ],
    ids=["missing-column", "bad-time", "negative-amount", "label-not-0-1", "no-fraud", "bad-id"],
)
def test_each_broken_rule_is_one_clause_with_its_first_rows(
    frame: pd.DataFrame, clause: str
) -> None:
    with pytest.raises(ContractViolation) as raised:
        import_transactions(frame, MAPPING, "bank.csv")
    message = str(raised.value)
    assert message.startswith("bank.csv breaks the contract: ")
    assert clause in message
    assert "\n" not in message


def test_every_rule_broken_at_once_is_reported_at_once() -> None:
    frame = export(amt=["x", "1", "1", "1"], ctry=["FRA", "FR", "FR", "FR"])
    with pytest.raises(ContractViolation) as raised:
        import_transactions(frame, MAPPING, "bank.csv")
    assert "amount (column 'amt'): 1 rows where it is not a number (line 2: 'x')" in str(
        raised.value
    )
    assert "country (column 'ctry'): 1 rows where it is not a two-letter" in str(raised.value)


def test_a_mapping_to_a_value_the_project_does_not_know_is_refused() -> None:
    mapping = MAPPING.model_copy(update={"merchant_categories": {"GROC": "groceries"}})
    with pytest.raises(
        ContractViolation, match=re.escape("mapping.merchant_categories: 'GROC' -> 'groceries'")
    ):
        import_transactions(export(), mapping, "bank.csv")


def test_settings_refuse_an_unknown_zone_and_a_source_that_is_not_csv_or_parquet() -> None:
    with pytest.raises(ValidationError, match="unknown time_zone 'Mars/Olympus'"):
        SourceMapping(time_zone="Mars/Olympus")
    with pytest.raises(
        ValidationError, match=re.escape("must be `synthetic` or a file ending in .csv")
    ):
        DataSettings(source="exports/transactions.xlsx")
    assert DataSettings(source="s3://bank/exports/2026.csv.gz").source_format == "csv"
