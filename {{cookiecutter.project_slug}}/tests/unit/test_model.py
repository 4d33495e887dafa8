from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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
from {{ cookiecutter.package_name }}.model.evaluate import Evaluation, evaluate
from {{ cookiecutter.package_name }}.model.gate import judge
from {{ cookiecutter.package_name }}.model.train import TrainedModel, resolve_device, split_by_time, train
from {{ cookiecutter.package_name }}.settings import (
    DataSettings,
    FeatureSettings,
    GateSettings,
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


def evaluation(roc_auc: float, recall: float) -> Evaluation:
    return Evaluation(roc_auc, 0.3, recall, 0.05, 0.1, 0.5, 90, 5, 2, 3, 100)


@pytest.mark.parametrize(
    ("challenger", "champion", "passed", "reason"),
    [
        (evaluation(0.9, 0.5), None, True, ""),
        (evaluation(0.7, 0.5), None, False, "roc_auc 0.7000 < minimum 0.75"),
        (evaluation(0.9, 0.2), None, False, "recall_at_fpr 0.2000 < minimum 0.3"),
        (evaluation(0.9, 0.5), evaluation(0.905, 0.5), True, ""),
        (evaluation(0.88, 0.5), evaluation(0.9, 0.5), False, "worse than the champion"),
        (evaluation(0.9, 0.4), evaluation(0.9, 0.5), False, "recall_at_fpr 0.4000 is worse"),
    ],
)
def test_gate(
    challenger: Evaluation, champion: Evaluation | None, passed: bool, reason: str
) -> None:
    decision = judge(challenger, champion, GateSettings())
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


def test_audit_log_appends_stamped_events(project_copy: Path) -> None:
    settings = load_settings()
    audit.append(settings, audit.AuditEvent("promote", "gate", None, "1", "passed"))
    audit.append(settings, audit.AuditEvent("rollback", "alice", "2", "1", "alert"))
    events = audit.read(settings)
    assert [(e.action, e.who, e.to_version) for e in events] == [
        ("promote", "gate", "1"),
        ("rollback", "alice", "1"),
    ]
    assert all(event.when for event in events)


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
    original = evaluation(0.9, 0.5)
    restored = Evaluation.from_metrics(original.metrics())
    assert restored == original
    assert isinstance(restored.true_positives, int)
