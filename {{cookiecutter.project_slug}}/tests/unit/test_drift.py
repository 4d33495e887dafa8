"""Drift scores, the drifted share and the retraining decision on controlled shifts.

Evidently's tests decide: a column drifted when its test failed; retraining is called for when the
drifted-share test or the score's drift test failed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.monitoring.drift import check_drift
from {{ cookiecutter.package_name }}.monitoring.trigger import decide, request_path, write_request
from {{ cookiecutter.package_name }}.settings import MonitoringSettings, load_settings

FEATURES = ["amount", "hour", "merchant_category", "channel"]


def frame(rows: int, seed: int, amount_scale: float = 1.0, category_high: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.0, 0.5, rows) * amount_scale
    score = 1 / (1 + np.exp(-(amount - 40.0) / 10.0))
    return pd.DataFrame(
        {
            "amount": amount,
            "hour": rng.integers(0, 24, rows).astype(float),
            "merchant_category": rng.integers(0, category_high, rows).astype(float),
            "channel": rng.integers(0, 3, rows).astype(float),
            "fraud_probability": score,
            "is_fraud": (rng.random(rows) < score).astype(int),
        }
    )


def test_only_the_shifted_features_drift(tmp_path: Path) -> None:
    reference, current = frame(3000, 1), frame(1000, 2, amount_scale=1.6, category_high=4)
    result = check_drift(reference, current, FEATURES, MonitoringSettings(), 0.5, tmp_path)
    assert result.drifted_features == ["amount", "merchant_category"]
    assert result.drift_share == pytest.approx(0.5)
    assert result.score_drift > MonitoringSettings().score_drift_threshold
    assert 0.5 < result.performance["RocAuc"] <= 1.0
    assert (tmp_path / "drift.html").is_file() and (tmp_path / "drift.json").is_file()
    decision = decide(result.failed_tests, auto_retrain=True, new_labels=True, champion="1")
    assert (decision.retrain, decision.action) == (True, "retrain")
    assert decision.reasons[0].startswith("Share of Drifted Columns: Less 0.250")
    assert "Actual value 0.500 >= 0.250" in decision.reasons[0]
    assert decision.reasons[1].startswith("Value Drift for column fraud_probability")
    assert (
        decide(result.failed_tests, auto_retrain=False, new_labels=True, champion="1").action
        == "request"
    )
    same_labels = decide(result.failed_tests, auto_retrain=True, new_labels=False, champion="1")
    assert (same_labels.retrain, same_labels.action) == (True, "request")
    assert same_labels.reasons[-1].startswith("no new labelled data since version 1")


def test_one_drifted_feature_below_the_share_does_not_call_for_retraining(tmp_path: Path) -> None:
    reference, current = frame(3000, 1), frame(1000, 2, category_high=4)
    settings = MonitoringSettings(drift_share_threshold=0.5)
    result = check_drift(reference, current, FEATURES, settings, 0.5, tmp_path)
    assert result.drifted_features == ["merchant_category"]
    assert result.failed_tests == []
    assert (
        decide(result.failed_tests, auto_retrain=True, new_labels=True, champion="1").action
        == "none"
    )


def test_the_same_distribution_triggers_nothing(tmp_path: Path) -> None:
    result = check_drift(
        frame(3000, 1), frame(1000, 3), FEATURES, MonitoringSettings(), 0.5, tmp_path
    )
    assert result.drifted_features == []
    assert result.score_drift < MonitoringSettings().score_drift_threshold
    assert (
        decide(result.failed_tests, auto_retrain=True, new_labels=True, champion="1").retrain
        is False
    )


def test_rows_without_labels_get_drift_but_no_performance(tmp_path: Path) -> None:
    current = frame(500, 4).drop(columns="is_fraud")
    result = check_drift(frame(3000, 1), current, FEATURES, MonitoringSettings(), 0.5, tmp_path)
    assert result.performance == {}
    assert set(result.feature_scores) == set(FEATURES)


def test_too_few_current_rows_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only 50 current rows"):
        check_drift(frame(3000, 1), frame(50, 2), FEATURES, MonitoringSettings(), 0.5, tmp_path)


def test_a_pending_request_records_why(project_copy: Path) -> None:
    settings = load_settings()
    result = check_drift(
        frame(3000, 1),
        frame(1000, 2, amount_scale=2.0),
        FEATURES,
        MonitoringSettings(),
        0.5,
        project_copy,
    )
    decision = decide(result.failed_tests, auto_retrain=False, new_labels=True, champion="1")
    path = write_request(settings, decision, {"model_version": "7"})
    assert path == request_path(settings)
    request = json.loads(path.read_text())
    assert (request["retrain"], request["action"]) == (True, "request")
    assert request["monitoring"] == {"model_version": "7"}
    assert request["reasons"] and request["requested_at"]
