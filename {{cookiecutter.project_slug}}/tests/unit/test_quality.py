"""The Evidently data-quality gate on generated transactions, good and broken."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.data.contract import MAX_AMOUNT
from {{ cookiecutter.package_name }}.data.generate import generate
from {{ cookiecutter.package_name }}.monitoring.quality import QualityGateError, check_quality
from {{ cookiecutter.package_name }}.settings import DataSettings, QualitySettings


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    settings = DataSettings(n_customers=100, n_transactions=3000, days=10, fraud_rate=0.05)
    return generate(settings, seed=7).transactions


def test_a_clean_batch_passes_and_its_report_is_saved(
    transactions: pd.DataFrame, tmp_path: Path
) -> None:
    result = check_quality(transactions, QualitySettings(), tmp_path)
    assert result.passed, result.failed
    assert result.tests >= 10
    assert Path(result.report) == tmp_path / "quality.html"
    assert "<html" in (tmp_path / "quality.html").read_text().lower()
    saved = json.loads((tmp_path / "quality.json").read_text())
    assert len(saved["tests"]) == result.tests


def test_nulls_and_an_unseen_category_fail_with_each_test_named(
    transactions: pd.DataFrame, tmp_path: Path
) -> None:
    broken = transactions.copy()
    broken.loc[:4, "amount"] = np.nan
    broken.loc[10:12, "merchant_category"] = "casino"
    broken.loc[20, "amount"] = MAX_AMOUNT + 1  # the contract's bound, the one serving enforces
    result = check_quality(broken, QualitySettings(), tmp_path)
    assert not result.passed
    assert len(result.failed) == 3
    assert "Column 'amount' missing values" in result.failed[0]
    assert result.failed[0].endswith("actual 5")
    assert "Column 'amount' values out of range" in result.failed[1]
    assert result.failed[1].endswith("actual 1")
    assert "Column 'merchant_category' values out of list" in result.failed[2]
    assert result.failed[2].endswith("actual 3")
    assert (tmp_path / "quality.html").is_file() and (tmp_path / "quality.json").is_file()


@pytest.mark.parametrize(
    ("thresholds", "named"),
    [
        ({"min_rows": 5000}, "Row count"),
        ({"min_fraud_rate": 0.2}, "Column 'is_fraud' categories '1'"),
    ],
)
def test_each_threshold_from_settings_is_enforced(
    transactions: pd.DataFrame, tmp_path: Path, thresholds: dict[str, float], named: str
) -> None:
    result = check_quality(transactions, QualitySettings(**thresholds), tmp_path)
    assert [failure for failure in result.failed if failure.startswith(named)], result.failed


def test_a_batch_without_a_required_column_is_refused(
    transactions: pd.DataFrame, tmp_path: Path
) -> None:
    with pytest.raises(QualityGateError, match="no column channel"):
        check_quality(transactions.drop(columns="channel"), QualitySettings(), tmp_path)
