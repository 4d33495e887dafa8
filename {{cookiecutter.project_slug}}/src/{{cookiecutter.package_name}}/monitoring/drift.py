"""Drift of the model's inputs and scores against the champion's training set (Evidently).

Distances, not p-values: Wasserstein (normed by the reference's spread) for numbers and
Jensen-Shannon for categories. A p-value flags any difference once batches are large; a distance
measures how large the difference is, so the thresholds in settings keep their meaning. Small
batches are noisy: about 0.1 for numbers at 1,500 rows, hence the numerical default of 0.2.
With labels, the report adds the classification quality on the current rows.

Evidently's test results are the one source of truth: the thresholds go into the report, and
which columns drifted, whether their share is too large and whether the score drifted are read
back from its tests, never recomputed here.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from {{ cookiecutter.package_name }}.data.contract import CATEGORICAL, LABEL
from {{ cookiecutter.package_name }}.monitoring.reports import save_snapshot
from {{ cookiecutter.package_name }}.settings import MonitoringSettings

SCORE = "fraud_probability"
CATEGORICAL_INPUTS = (*CATEGORICAL, "is_night", "is_foreign")
PERFORMANCE = ("RocAuc", "Precision", "Recall", "F1Score", "LogLoss")


@dataclass(frozen=True)
class DriftResult:
    """Per-feature drift scores, which features drifted, the drifted share and the score drift."""

    feature_scores: dict[str, float]
    drifted_features: list[str]
    drift_share: float
    score_drift: float
    failed_tests: list[str]  # the tests whose failure calls for retraining
    reference_rows: int
    current_rows: int
    performance: dict[str, float] = field(default_factory=dict)
    report: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for JSON, MLflow tags and the release evidence."""
        return asdict(self)


def drift_report(features: list[str], settings: MonitoringSettings, threshold: float | None) -> Any:
    """The report: per-feature drift, the drifted share and the score's drift.

    With the model's decision `threshold` (given when the current rows have labels), the report
    adds the classification quality.
    """
    from evidently import Report
    from evidently.metrics import ValueDrift
    from evidently.presets import ClassificationPreset, DataDriftPreset

    return Report(
        include_tests=True,
        metrics=[
            DataDriftPreset(
                columns=features,
                num_method="wasserstein",
                cat_method="jensenshannon",
                num_threshold=settings.numerical_drift_threshold,
                cat_threshold=settings.categorical_drift_threshold,
                drift_share=settings.drift_share_threshold,
            ),
            ValueDrift(
                column=SCORE, method="wasserstein", threshold=settings.score_drift_threshold
            ),
            *([ClassificationPreset(probas_threshold=threshold)] if threshold is not None else []),
        ],
    )


def check_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: list[str],
    settings: MonitoringSettings,
    threshold: float,
    folder: Path,
) -> DriftResult:
    """Compare `current` with `reference`, save the HTML + JSON report in `folder`."""
    from evidently import BinaryClassification, DataDefinition, Dataset

    if len(current) < settings.min_rows:
        raise ValueError(
            f"only {len(current)} current rows; drift needs at least {settings.min_rows} "
            "(monitoring.min_rows): serve or score more transactions first"
        )
    labelled = LABEL in current.columns and current[LABEL].notna().all()
    categorical = [name for name in features if name in CATEGORICAL_INPUTS]
    definition = DataDefinition(
        numerical_columns=[name for name in features if name not in categorical] + [SCORE],
        categorical_columns=categorical + ([LABEL] if labelled else []),
        classification=(
            [BinaryClassification(target=LABEL, prediction_probas=SCORE)] if labelled else None
        ),
    )
    report = drift_report(features, settings, threshold if labelled else None)
    columns = [*features, SCORE, *([LABEL] if labelled else [])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns on batches without a positive prediction
        snapshot = report.run(
            Dataset.from_pandas(current[columns], data_definition=definition),
            Dataset.from_pandas(reference[columns], data_definition=definition),
        )
    html = save_snapshot(snapshot, folder, "drift")
    values = {metric["metric_name"]: metric["value"] for metric in snapshot.dict()["metrics"]}
    scores = {name: _value(values, f"ValueDrift(column={name},") for name in features}
    performance = (
        {name: float(_value(values, f"{name}(classification_name=")) for name in PERFORMANCE}
        if labelled
        else {}
    )
    failed = [test for test in snapshot.dict()["tests"] if test["status"].name == "FAIL"]
    drifted_columns = {_column(test) for test in failed if _kind(test) == "ValueDrift"}
    drifted = [name for name in features if name in drifted_columns]
    retraining_tests = [
        test for test in failed if _kind(test) == "DriftedColumnsCount" or _column(test) == SCORE
    ]
    return DriftResult(
        feature_scores=scores,
        drifted_features=drifted,
        drift_share=len(drifted) / len(features),
        score_drift=_value(values, f"ValueDrift(column={SCORE},"),
        failed_tests=[f"{test['name']}: {test['description']}" for test in retraining_tests],
        reference_rows=len(reference),
        current_rows=len(current),
        performance=performance,
        report=str(html),
    )


def _kind(test: dict[str, Any]) -> str:
    """The metric an Evidently test checks (`ValueDrift`, `DriftedColumnsCount`, ...)."""
    return str(test["metric_config"]["params"]["type"]).rpartition(":")[2]


def _column(test: dict[str, Any]) -> str | None:
    column = test["metric_config"]["params"].get("column")
    return str(column) if column is not None else None


def _value(values: dict[str, Any], prefix: str) -> float:
    """The value of the one metric whose name starts with `prefix`."""
    return float(next(value for name, value in values.items() if name.startswith(prefix)))
