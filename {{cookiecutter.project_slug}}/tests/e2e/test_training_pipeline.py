"""The whole job on the embedded local stack: data, features, training, gate, registry, scoring.

Everything runs through the command line in the session's trained project (a git + DVC
repository with data, features and champion version 1), as a user would.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.helpers import CLI, free_port, ok, restored_afterwards, run, serving

WORSE_MODEL = ["model.max_depth=1", "model.n_estimators=1", "gate.min_roc_auc=0.999"]


def models(project: Path) -> dict[str, dict[str, Any]]:
    listing = json.loads(ok(run(project, CLI, "models", "--json")))
    return {entry["version"]: entry for entry in listing}


def audit_log(project: Path) -> list[dict[str, Any]]:
    lines = (project / "reports" / "audit_log.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def project(trained_project: Path) -> Iterator[Path]:
    """The shared trained project; this module's promotions are undone afterwards."""
    with restored_afterwards(trained_project):
        yield trained_project


def test_first_model_becomes_champion_with_its_lineage(project: Path) -> None:
    version = models(project)["1"]
    assert "champion" in version["aliases"]
    assert version["gate"] == "passed"
    tags = version["tags"]
    assert re.fullmatch(r"[0-9a-f]{40}", tags["git_commit"])
    assert tags["git_dirty"] == "false"
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    recorded = {
        out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage["outs"]
    }
    assert tags["dvc:data/raw/transactions.parquet"] == recorded["data/raw/transactions.parquet"]
    assert tags["feast_feature_service"] == "fraud_model_v1"
    assert re.fullmatch(r"[0-9a-f]{64}", tags["requirements_lock_sha256"])
    assert tags["mlflow_run_id"] == version["run_id"]
    for figure in ("roc_curve.png", "pr_curve.png", "feature_importance.png"):
        assert list((project / "artifacts" / "mlflow" / "artifacts").rglob(figure)), figure


def test_batch_inference_tags_every_prediction_with_the_champion(project: Path) -> None:
    output = ok(run(project, CLI, "infer", "--newest", "200"))
    path = Path(output.strip().split("predictions written to ")[-1])
    predictions = pd.read_parquet(path)
    assert len(predictions) == 200
    assert set(predictions["model_version"]) == {"1"}
    assert predictions["fraud_probability"].between(0, 1).all()


def test_same_data_and_params_give_the_same_metrics_and_may_replace_the_champion(
    project: Path,
) -> None:
    second = ok(run(project, CLI, "train"))
    assert "gate passed: version 2 is the champion" in second
    versions = models(project)
    for name, value in versions["1"]["metrics"].items():
        assert versions["2"]["metrics"][name] == pytest.approx(value, abs=1e-9), name


def test_worse_model_stays_challenger_and_rollback_restores_the_previous_champion(
    project: Path,
) -> None:
    params_before = (project / "params.yaml").read_bytes()
    overrides = [argument for setting in WORSE_MODEL for argument in ("--set", setting)]
    worse = run(project, CLI, "train", *overrides)
    assert worse.returncode == 1
    assert "gate failed for version 3" in worse.stderr
    assert "roc_auc" in worse.stderr and "< minimum 0.999" in worse.stderr
    assert "champion stays 2" in worse.stderr
    assert (project / "params.yaml").read_bytes() == params_before
    versions = models(project)
    assert versions["3"]["aliases"] == ["challenger"]
    assert "champion" in versions["2"]["aliases"]
    assert json.loads(versions["3"]["tags"]["gate_thresholds"])["min_roc_auc"] == 0.999
    record = json.loads((project / "reports" / "releases" / "v3" / "evidence.json").read_text())
    assert record["params"]["gate.min_roc_auc"] == "0.999"  # the MLflow run's params
    assert (record["params"]["max_depth"], record["params"]["n_estimators"]) == ("1", "1")
    assert record["metrics"]["gate"]["thresholds"]["min_roc_auc"] == 0.999
    assert record["metrics"]["run_overrides"] == WORSE_MODEL
    page = (project / "reports" / "releases" / "v3" / "evidence.md").read_text()
    assert "Settings overridden for this run: model.max_depth=1, model.n_estimators=1" in page
    unknown = run(project, CLI, "train", "--set", "gate.min_auc=0.9")
    assert unknown.returncode == 1
    assert "unknown setting 'gate.min_auc'" in unknown.stderr
    assert set(models(project)) == {"1", "2", "3"}
    rolled = ok(run(project, CLI, "rollback", "--approver", "oncall", "--reason", "drill"))
    assert "version 1 is the champion again" in rolled
    assert "champion" in models(project)["1"]["aliases"]
    events = [
        (e["action"], e["who"], e["from_version"], e["to_version"]) for e in audit_log(project)
    ]
    assert ("reject", "gate", "2", "3") in events
    assert events[-1] == ("rollback", "oncall", "2", "1")
    assert all(event["when"] and event["why"] for event in audit_log(project))


def test_manual_promotion_is_audited(project: Path) -> None:
    ok(run(project, CLI, "promote", "--version", "3", "--approver", "alice", "--reason", "review"))
    assert "champion" in models(project)["3"]["aliases"]
    last = audit_log(project)[-1]
    assert (last["action"], last["who"], last["to_version"], last["why"]) == (
        "promote",
        "alice",
        "3",
        "review",
    )


def test_mlflow_ui_serves_the_registry_on_loopback(project: Path) -> None:
    port = free_port()
    command = [CLI, "ui", "mlflow", "--port", str(port)]
    # With one worker, uvicorn prints this line once the app has started and the port is bound.
    with serving(command, "Uvicorn running on", cwd=project):
        name = "{{ cookiecutter.package_name }}"
        url = f"http://127.0.0.1:{port}/api/2.0/mlflow/registered-models/get?name={name}"
        with urllib.request.urlopen(url, timeout=30) as response:
            model = json.load(response)["registered_model"]
    assert {alias["alias"] for alias in model["aliases"]} >= {"champion", "challenger"}
