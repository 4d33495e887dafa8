"""Quality gate, drift monitoring with its retraining trigger, and release evidence, end to end.

The session's trained project goes through a model's life: trained on clean data, monitored
without drift, then its data drifts (and a param changes), monitoring asks for and then starts a
retraining, and finally a broken batch is refused by the quality gate. Its files are restored
afterwards.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package_name }}.governance.environment import LOCK_FILE
from tests.e2e.test_training_pipeline import models
from tests.helpers import CLI, ENV_PREFIX, TRAINED_DATA, edit_params, ok, restored_afterwards, run

UNTOUCHED_BY_DRIFT = {"channel", "hour", "is_night", "txn_count_1h"}


def evidence(project: Path, *selector: str) -> tuple[Path, dict[str, Any]]:
    output = ok(run(project, CLI, "evidence", *selector))
    page = Path(output.split("page: ")[1].splitlines()[0])
    return page, json.loads(page.with_suffix(".json").read_text())


def newest_report(project: Path, kind: str) -> Path:
    return sorted((project / "reports" / kind).iterdir())[-1]


@pytest.fixture(scope="module")
def project(trained_project: Path) -> Iterator[Path]:
    """The shared trained project (clean data, champion 1); its drift is undone afterwards."""
    with restored_afterwards(trained_project):
        yield trained_project


def test_release_evidence_is_filled_from_the_real_sources(project: Path) -> None:
    page, record = evidence(project, "--version", "1")
    assert page == project / "reports" / "releases" / "v1" / "evidence.md"
    commit = ok(run(project, "git", "rev-parse", "HEAD")).strip()
    assert record["code"] == {"git_commit": commit, "git_dirty": "false"}
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    for stage in lock["stages"].values():
        for out in stage["outs"]:
            assert record["data"]["dvc"][out["path"]] == out["md5"]
    assert record["data"]["rows"] == TRAINED_DATA["n_transactions"]
    assert record["features"]["feature_service"] == "fraud_model_v1"
    assert "txn_count_24h" in record["features"]["definition"]["customer_activity"]
    assert record["params"]["max_depth"] == "5"
    assert record["metrics"]["gate"]["result"] == "passed"
    assert record["metrics"]["gate"]["thresholds"]["min_roc_auc"] == 0.75
    assert record["metrics"]["values"]["roc_auc"] > 0.75
    assert record["quality_gate"]["passed"] is True
    lock_hash = hashlib.sha256((project / LOCK_FILE).read_bytes()).hexdigest()
    assert record["environment"]["lock_sha256"] == lock_hash
    assert record["environment"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert record["mlflow"]["run_id"] == record["model"]["lineage_id"]
    assert [(a["action"], a["who"], a["to_version"]) for a in record["approvals"]] == [
        ("stage", "gate", "1"),
        ("promote", "reviewer", "1"),
    ]
    assert record["drift"]["retraining_trigger"] == {"reason": "run by hand"}
    bands = {group["group"] for group in record["fairness"]["age_band"]["groups"]}
    assert bands == {"18-29", "30-44", "45-64", "65+"}
    importance = record["explanations"]["global_importance"]
    assert "amount" in importance and min(importance.values()) >= 0
    assert list(importance.values()) == sorted(importance.values(), reverse=True)
    card = (page.parent / "model_card.md").read_text()
    for heading in ("## Intended use", "## Metrics by group", "## What moves the scores"):
        assert heading in card
    assert "promote by reviewer" in card
    text = page.read_text()
    for heading in ("## Code", "## Data (DVC)", "## Model card", "**Limitations.**"):
        assert heading in text
    assert commit in text and record["model"]["lineage_id"] in text


def test_monitoring_without_drift_triggers_nothing(project: Path) -> None:
    output = ok(run(project, CLI, "monitor", "--newest", "1500"))
    assert "no retraining needed" in output
    report = newest_report(project, "monitoring")
    assert report.name.endswith("-v1")
    summary = json.loads((report / "summary.json").read_text())
    assert summary["failed_tests"] == [] and summary["current_rows"] == 1500
    assert summary["performance"]["RocAuc"] > 0.5  # the batch has labels
    assert (report / "drift.html").is_file() and (report / "drift.json").is_file()
    assert set(models(project)) == {"1"}
    assert not (project / "reports" / "retraining_request.json").exists()
    _, record = evidence(project, "--version", "1")
    last = record["drift"]["last_monitoring"]
    assert (last["drift_share"], last["action"]) == (summary["drift_share"], "none")


def test_drift_without_new_labels_files_a_request_and_trains_nothing(
    project: Path, tmp_path: Path
) -> None:
    batch = tmp_path / "drifted.parquet"  # scored, not labelled data: dvc.lock is unchanged
    code = (
        "import sys; from {{ cookiecutter.package_name }}.data.generate import generate; "
        "from {{ cookiecutter.package_name }}.settings import load_settings; s = load_settings(); "
        "drifted = generate(s.data.model_copy(update={'drift': True}), s.seed); "
        "drifted.transactions.to_parquet(sys.argv[1])"
    )
    ok(run(project, sys.executable, "-c", code, str(batch)))
    asked = run(project, CLI, "monitor", "--path", str(batch), "--newest", "1500")
    assert asked.returncode == 3, asked.stdout[-2000:] + asked.stderr[-2000:]
    assert "no new labelled data since version 1" in asked.stdout
    request = json.loads((project / "reports" / "retraining_request.json").read_text())
    assert (request["action"], request["retrain"]) == ("request", True)
    assert request["reasons"][-1].startswith("no new labelled data since version 1")
    assert set(models(project)) == {"1"}


def test_drift_on_asks_for_retraining_and_then_retrains(project: Path) -> None:
    edit_params(project, "data", drift=True)
    edit_params(project, "model", max_depth=4)
    ok(run(project, sys.executable, "-m", "dvc", "repro"))

    pending = run(project, CLI, "monitor", env={f"{ENV_PREFIX}MONITORING__AUTO_RETRAIN": "false"})
    assert pending.returncode == 3, pending.stdout[-2000:] + pending.stderr[-2000:]
    request = json.loads((project / "reports" / "retraining_request.json").read_text())
    assert request["action"] == "request" and request["monitoring"]["model_version"] == "1"
    drifted = set(request["monitoring"]["drifted_features"])
    assert {"amount", "merchant_category"} <= drifted
    assert not drifted & UNTOUCHED_BY_DRIFT
    assert set(models(project)) == {"1"}
    _, pending_record = evidence(project, "--version", "1")
    assert pending_record["drift"]["last_monitoring"]["action"] == "request"

    retrained = ok(run(project, CLI, "monitor"))
    assert "retrained: version 2" in retrained
    versions = models(project)
    assert set(versions) == {"1", "2"}
    _, old = evidence(project, "--version", "1")
    _, new = evidence(project, "--version", "2")
    assert (old["params"]["max_depth"], new["params"]["max_depth"]) == ("5", "4")
    raw = "data/raw/transactions.parquet"
    assert new["data"]["dvc"][raw] != old["data"]["dvc"][raw]
    trigger = new["drift"]["retraining_trigger"]
    assert (trigger["action"], trigger["model_version"]) == ("retrain", "1")
    assert any(reason.startswith("Share of Drifted Columns") for reason in trigger["reasons"])
    assert new["metrics"]["compared_with_champion"]["version"] == "1"


def test_a_broken_batch_fails_the_quality_gate_before_training(project: Path) -> None:
    raw = project / "data" / "raw" / "transactions.parquet"
    broken = pd.read_parquet(raw)
    broken.loc[:9, "amount"] = np.nan
    broken.loc[20:24, "merchant_category"] = "casino"
    broken.to_parquet(raw, index=False)
    ok(run(project, sys.executable, "-m", "dvc", "commit", "--force", "raw"))
    before = set(models(project))

    failed = run(project, CLI, "train")
    assert failed.returncode == 1
    assert "quality gate failed" in failed.stderr
    assert "Column 'amount' missing values: Less or Equal 0.000, actual 10" in failed.stderr
    assert "Column 'merchant_category' values out of list" in failed.stderr
    assert "actual 5" in failed.stderr
    assert set(models(project)) == before
    report = newest_report(project, "quality")
    saved = json.loads((report / "quality.json").read_text())
    assert any(str(test["status"]) == "FAIL" for test in saved["tests"])
    assert (report / "quality.html").is_file()
