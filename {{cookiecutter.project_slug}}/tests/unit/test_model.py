from __future__ import annotations

import logging
import stat
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.data.contract import LABEL, TIME
from {{ cookiecutter.package_name }}.data.generate import generate
from {{ cookiecutter.package_name }}.features.build import build_feature_table
from {{ cookiecutter.package_name }}.features.request_time import model_columns, request_time_features
from {{ cookiecutter.package_name }}.governance import audit
from {{ cookiecutter.package_name }}.governance.lineage import (
    SUBMITTED_COMMIT,
    SUBMITTED_DIRTY,
    dvc_data_hashes,
    git_state,
)
from {{ cookiecutter.package_name }}.governance.promotion import PromotionRefusedError, approve
from {{ cookiecutter.package_name }}.model.evaluate import Evaluation, evaluate
from {{ cookiecutter.package_name }}.model.fairness import breaches, group_metrics
from {{ cookiecutter.package_name }}.model.gate import Comparison, comparison_rows, judge
from {{ cookiecutter.package_name }}.model.train import TrainedModel, resolve_device, split_by_time, train
from {{ cookiecutter.package_name }}.settings import (
    DataSettings,
    FairnessSettings,
    FeatureSettings,
    GateSettings,
    GovernanceSettings,
    ModelSettings,
    load_settings,
)

FEATURES = FeatureSettings()
PARAMS = ModelSettings(n_estimators=60)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """A point-in-time training frame built offline (the same rule Feast applies)."""
    data = generate(DataSettings(n_customers=200, n_transactions=6000, days=20, fraud_rate=0.06), 5)
    table = build_feature_table(data.transactions, data.customers, FEATURES)
    joined = pd.merge_asof(
        data.transactions.sort_values("event_timestamp"),
        table.drop(columns="created").sort_values("event_timestamp"),
        on="event_timestamp",
        by="customer_id",
    )
    return request_time_features(joined, FEATURES)


def test_model_learns_and_round_trips_through_ubjson_without_pickle(frame: pd.DataFrame) -> None:
    older, newest = split_by_time(frame, 0.2)
    model = train(older, PARAMS, model_columns(FEATURES), seed=1)
    raw = model.to_bytes()
    assert raw[:1] == b"{", "UBJSON starts with an object marker"
    again = TrainedModel.from_bytes(raw)
    np.testing.assert_array_equal(again.predict(newest), model.predict(newest))
    assert again.threshold == model.threshold
    result = evaluate(again, newest, target_fpr=0.05)
    assert result.roc_auc > 0.75
    confusion = (
        result.true_negatives
        + result.false_positives
        + result.false_negatives
        + result.true_positives
    )
    assert confusion == result.rows == len(newest)


def test_training_is_deterministic(frame: pd.DataFrame) -> None:
    older, newest = split_by_time(frame, 0.2)
    first = train(older, PARAMS, model_columns(FEATURES), seed=3).predict(newest)
    second = train(older, PARAMS, model_columns(FEATURES), seed=3).predict(newest)
    np.testing.assert_array_equal(first, second)


def test_threshold_sits_at_the_target_false_positive_rate(frame: pd.DataFrame) -> None:
    older, _ = split_by_time(frame, 0.2)
    model = train(older, PARAMS, model_columns(FEATURES), seed=1)
    _, validation = split_by_time(older, PARAMS.validation_fraction)
    negatives = model.predict(validation[validation["is_fraud"] == 0])
    assert (negatives >= model.threshold).mean() == pytest.approx(PARAMS.target_fpr, abs=0.01)


def test_split_by_time_never_mixes_past_and_future(frame: pd.DataFrame) -> None:
    older, newest = split_by_time(frame.sample(frac=1, random_state=0), 0.25)
    assert older["event_timestamp"].max() <= newest["event_timestamp"].min()
    assert len(newest) == pytest.approx(len(frame) * 0.25, abs=1)


def test_evaluation_refuses_a_single_class(frame: pd.DataFrame) -> None:
    model = train(split_by_time(frame, 0.2)[0], PARAMS, model_columns(FEATURES), seed=1)
    with pytest.raises(ValueError, match="single class"):
        evaluate(model, frame[frame["is_fraud"] == 0].head(50), 0.05)


def evaluation(roc_auc: float = 0.9, caught: int = 6, false_alarms: int = 5) -> Evaluation:
    """100 held-out rows, 10 of them fraud: `caught` flagged, `false_alarms` of the 90 others."""
    return Evaluation(
        roc_auc, 0.3, 0.6, 0.05, 0.1, 0.5, 90 - false_alarms, false_alarms, 10 - caught, caught, 100
    )


@pytest.mark.parametrize(
    ("challenger", "champion", "passed", "reason"),
    [
        (evaluation(), None, True, ""),
        (evaluation(roc_auc=0.7), None, False, "roc_auc 0.7000 < minimum 0.75"),
        (evaluation(caught=2), None, False, "recall at the shipped threshold 0.2000 < minimum 0.3"),
        (evaluation(), evaluation(roc_auc=0.905), True, ""),
        (
            evaluation(roc_auc=0.88),
            evaluation(),
            False,
            "roc_auc 0.8800 is worse than the champion",
        ),
        # better ranking, worse as shipped: fewer frauds caught at its threshold
        (evaluation(roc_auc=0.95, caught=5), evaluation(), False, "recall 0.5000 is worse"),
        (evaluation(false_alarms=9), evaluation(), False, "false_positive_rate 0.1000 is worse"),
    ],
)
def test_gate_compares_both_models_as_they_ship(
    challenger: Evaluation, champion: Evaluation | None, passed: bool, reason: str
) -> None:
    comparison = Comparison(challenger, champion) if champion else None
    decision = judge(challenger, comparison, GateSettings())
    assert decision.passed is passed
    assert reason in decision.summary()


def fake_nvidia_smi(folder: Path, output: str) -> None:
    script = folder / "nvidia-smi"
    script.write_text(f"#!/bin/sh\necho '{output}'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_device_auto_uses_cuda_only_when_a_gpu_is_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert resolve_device("auto") == "cpu"
    fake_nvidia_smi(tmp_path, "GPU 0: NVIDIA H100 (UUID: GPU-1)")
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cpu") == "cpu"


def test_a_torn_line_in_the_audit_mirror_is_reported_and_skipped(
    project_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings()
    promoted = audit.AuditEvent("promote", "gate", None, "1", "passed").stamped()
    audit.append(settings, promoted)
    with audit.audit_log_path(settings).open("a") as log:
        log.write('{"action": "rollback", "who": "al')  # the process died mid-line
    rolled_back = audit.AuditEvent("rollback", "alice", "2", "1", "alert").stamped()
    audit.append(settings, rolled_back)
    with caplog.at_level(logging.WARNING):
        assert audit.read(settings) == [promoted, rolled_back]
    assert "line 2 is not a whole audit event; skipped" in caplog.text
    assert all(event.when for event in audit.read(settings))


def test_lineage_reads_dvc_lock_and_git_state(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project_copy / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  generate:\n    cmd: x\n    outs:\n"
        "    - path: data/raw/transactions.parquet\n      md5: abc123\n      size: 1\n"
    )
    assert dvc_data_hashes(project_copy) == {"dvc:data/raw/transactions.parquet": "abc123"}
    assert git_state(project_copy) == {"git_commit": "unknown", "git_dirty": "unknown"}
    monkeypatch.setenv(SUBMITTED_COMMIT, "f" * 40)  # a pipeline pod: code without .git
    monkeypatch.setenv(SUBMITTED_DIRTY, "false")
    assert git_state(project_copy) == {"git_commit": "f" * 40, "git_dirty": "false"}
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    for command in (["init", "-q"], ["add", "--all"], [*identity, "commit", "-qm", "x"]):
        subprocess.run(["git", *command], cwd=project_copy, check=True)
    state = git_state(project_copy)
    assert len(state["git_commit"]) == 40
    assert state["git_dirty"] == "false"
    (project_copy / "params.yaml").write_text("seed: 1\n")
    assert git_state(project_copy)["git_dirty"] == "true"


def test_evaluation_survives_its_metrics_dictionary() -> None:
    original = evaluation()
    restored = Evaluation.from_metrics(original.metrics())
    assert restored == original
    assert isinstance(restored.true_positives, int)


def decisions(
    rows: int, frauds: int, caught: int, false_alarms: int
) -> tuple[list[int], list[bool]]:
    """Labels and flags of one group: `caught` of its frauds, `false_alarms` of its others."""
    labels = [1] * frauds + [0] * (rows - frauds)
    flagged = [i < caught for i in range(frauds)] + [i < false_alarms for i in range(rows - frauds)]
    return labels, flagged


def test_the_fairness_gate_names_the_group_with_more_false_positives() -> None:
    bands = {"18-29": (400, 40, 30, 18), "45-64": (400, 40, 30, 72), "65+": (20, 2, 1, 10)}
    labels, flagged, band = [], [], []
    for name, counts in bands.items():
        group_labels, group_flags = decisions(*counts)
        labels += group_labels
        flagged += group_flags
        band += [name] * counts[0]
    groups = pd.DataFrame({"age_band": band, "channel": "web"})
    settings = FairnessSettings(groups=["age_band", "channel"])
    report = group_metrics(np.array(labels), np.array(flagged), groups, settings)
    gap = report["age_band"]["false_positive_rate_gap"]
    assert (gap["worst"], gap["best"]) == ("45-64", "18-29")  # 65+ is too small to judge
    assert gap["difference"] == pytest.approx(72 / 360 - 18 / 360)
    assert report["age_band"]["recall_gap"]["difference"] == 0.0
    assert report["channel"]["false_positive_rate_gap"] is None  # one group: nothing to compare
    [reason] = breaches(report, settings)
    assert reason.startswith("false_positive_rate of age_band=45-64 is 0.200 against 0.050")
    assert reason.endswith("> gate.fairness.max_fpr_difference 0.08")
    assert breaches(report, FairnessSettings(max_fpr_difference=0.2)) == []
    assert gap["z"] == pytest.approx(0.15 / (0.2 * 0.8 / 360 + 0.05 * 0.95 / 360) ** 0.5, abs=0.01)
    assert breaches(report, FairnessSettings(min_z=gap["z"] + 0.1)) == []  # within the noise
    small = next(row for row in report["age_band"]["groups"] if row["group"] == "65+")
    assert (small["rows"], small["judged"]) == (20, False)


def test_the_champion_is_compared_only_on_rows_newer_than_its_training_data() -> None:
    times = pd.date_range("2026-01-01", periods=10, freq="D", tz="UTC")
    held_out = pd.DataFrame({TIME: times, LABEL: [0, 1] * 5})
    rows = comparison_rows(held_out, "2", trained_until=times[5], min_rows=4)
    assert list(rows[TIME]) == list(times[6:])
    with pytest.raises(ValueError, match=r"cannot compare with champion v2: 4 held-out rows are"):
        comparison_rows(held_out, "2", trained_until=times[5], min_rows=5)


def test_an_approval_needs_a_named_approver_and_a_reason(project_copy: Path) -> None:
    governance = GovernanceSettings()
    for approver, reason in ((" ", "reviewed"), ("alice", "")):
        with pytest.raises(PromotionRefusedError, match="needs a named approver and a reason"):
            approve(load_settings(), "1", approver, reason, governance)
