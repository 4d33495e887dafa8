"""The data-quality gate: Evidently tests on a labelled batch before any training.

The pandera contract checks the table's shape; this gate checks what a model needs from the
data: enough rows, no missing values, amounts in range, only known categories and a plausible
fraud rate. The report is saved whether the gate passes or not, so a failure can be read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from {{ cookiecutter.package_name }}.data.contract import CATEGORICAL, LABEL, MAX_AMOUNT, TIME, TRANSACTIONS
from {{ cookiecutter.package_name }}.monitoring.reports import save_snapshot
from {{ cookiecutter.package_name }}.settings import QualitySettings


class QualityGateError(RuntimeError):
    """The batch failed the quality gate; the message lists every failed test."""


@dataclass(frozen=True)
class QualityResult:
    """The gate's verdict, the failed tests (empty when passed) and where the report is."""

    passed: bool
    tests: int
    failed: list[str] = field(default_factory=list)
    report: str = ""

    def summary(self) -> str:
        """One line: `passed (N tests)` or `failed: test; test`."""
        return (
            f"passed ({self.tests} tests)" if self.passed else "failed: " + "; ".join(self.failed)
        )


def quality_report(settings: QualitySettings, rows: int) -> Any:
    """The Evidently report whose tests make up the gate, for a batch of `rows` rows.

    Missing values are tested as counts (the allowed share of `rows`), so a failure reads
    "6 missing" rather than a share rounded to zero.
    """
    from evidently import Report
    from evidently.metrics import (
        CategoryCount,
        MissingValueCount,
        OutListValueCount,
        OutRangeValueCount,
        RowCount,
    )
    from evidently.tests import eq, gte, lte

    allowed_missing = int(settings.max_missing_share * rows)
    return Report(
        [
            RowCount(tests=[gte(settings.min_rows)]),
            *(
                MissingValueCount(column=column, tests=[lte(allowed_missing)])
                for column in TRANSACTIONS.columns
            ),
            OutRangeValueCount(column="amount", left=0.0, right=MAX_AMOUNT, tests=[eq(0)]),
            *(
                OutListValueCount(column=column, values=list(values), tests=[eq(0)])
                for column, values in CATEGORICAL.items()
            ),
            CategoryCount(
                column=LABEL,
                category=1,
                share_tests=[gte(settings.min_fraud_rate), lte(settings.max_fraud_rate)],
            ),
        ]
    )


def check_quality(labels: pd.DataFrame, settings: QualitySettings, folder: Path) -> QualityResult:
    """Run the gate's tests on `labels`; save the HTML + JSON report in `folder`."""
    from evidently import DataDefinition, Dataset

    definition = DataDefinition(
        numerical_columns=["amount", "customer_id", "transaction_id"],
        categorical_columns=[*CATEGORICAL, "country", LABEL],
        datetime_columns=[TIME],
    )
    missing = [column for column in TRANSACTIONS.columns if column not in labels.columns]
    if missing:
        raise QualityGateError(f"quality gate: the batch has no column {', '.join(missing)}")
    snapshot = quality_report(settings, len(labels)).run(
        Dataset.from_pandas(labels, data_definition=definition)
    )
    report = save_snapshot(snapshot, folder, "quality")
    outcome = snapshot.dict()
    values = {metric["id"]: metric["value"] for metric in outcome["metrics"]}
    results = outcome["tests"]
    failed = [_failure(test, values) for test in results if _status(test) in ("FAIL", "ERROR")]
    return QualityResult(passed=not failed, tests=len(results), failed=failed, report=str(report))


def _failure(test: dict[str, Any], values: dict[str, Any]) -> str:
    """`<what was tested>: <threshold>, actual <value>` for a failed test."""
    value = values.get(test["metric_config"]["metric_id"])
    if isinstance(value, dict):
        value = (
            value["count"] if test.get("bound_test", {}).get("is_count", True) else value["share"]
        )
    actual = f"{float(value):g}" if isinstance(value, int | float) else str(value)
    return f"{test['name']}, actual {actual}"


def _status(test: dict[str, Any]) -> str:
    """A test's status as text (`SUCCESS`, `FAIL`, ...) whether it is an enum or a string."""
    return str(getattr(test["status"], "value", test["status"]))
