"""The whole job on the embedded local stack: data, features, training, gate, registry, scoring.

Everything runs through the command line in the session's trained project (a git + DVC
repository with data, features and champion version 1, staged by the gate and approved), as a
user would. The history of stage moves is read back from the registry (`audit`).
"""

from __future__ import annotations

import getpass
import json
import re
import shutil
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.helpers import CLI, ENV_PREFIX, free_port, ok, restored_afterwards, run, serving

WORSE_MODEL = ["model.max_depth=1", "model.n_estimators=1", "gate.min_roc_auc=0.999"]


def models(project: Path) -> dict[str, dict[str, Any]]:
    listing = json.loads(ok(run(project, CLI, "models", "--json")))
    return {entry["version"]: entry for entry in listing}


def history(project: Path) -> list[dict[str, Any]]:
    """The stage moves as `audit` prints them, from the MLflow registry."""
    events: list[dict[str, Any]] = json.loads(ok(run(project, CLI, "audit", "--json")))
    return events


def moves(project: Path) -> list[tuple[str, str, str | None, str | None]]:
    return [(e["action"], e["who"], e["from_version"], e["to_version"]) for e in history(project)]


def approval(approver: str) -> list[str]:
    return ["--approver", approver, "--reason", f"{approver} reviewed the evidence"]


@pytest.fixture(scope="module")
def project(trained_project: Path) -> Iterator[Path]:
    """The shared trained project; this module's promotions are undone afterwards."""
    with restored_afterwards(trained_project):
        yield trained_project


def test_first_model_was_staged_then_approved_with_its_lineage(project: Path) -> None:
    version = models(project)["1"]
    assert "champion" in version["aliases"] and "staging" not in version["aliases"]
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
    assert moves(project)[:2] == [
        ("stage", "gate", None, "1"),
        ("promote", "reviewer", None, "1"),
    ]


def test_batch_inference_tags_every_prediction_with_the_champion(project: Path) -> None:
    output = ok(run(project, CLI, "infer", "--newest", "200"))
    path = Path(output.strip().split("predictions written to ")[-1])
    predictions = pd.read_parquet(path)
    assert len(predictions) == 200
    assert set(predictions["model_version"]) == {"1"}
    assert predictions["fraud_probability"].between(0, 1).all()


def test_a_passing_model_waits_in_staging_until_a_person_approves_it(project: Path) -> None:
    second = ok(run(project, CLI, "train"))
    assert "gate passed: version 2 is staged for approval (champion stays 1)" in second
    versions = models(project)
    assert "staging" in versions["2"]["aliases"] and "champion" in versions["1"]["aliases"]
    for name, value in versions["1"]["metrics"].items():
        assert versions["2"]["metrics"][name] == pytest.approx(value, abs=1e-9), name
    no_op = run(project, CLI, "promote", "--version", "1", *approval("bob"))
    assert no_op.returncode == 1
    assert "version 1 is already the champion: nothing to do" in no_op.stderr
    strict = {f"{ENV_PREFIX}GOVERNANCE__DISTINCT_APPROVER": "true"}
    trainer = getpass.getuser()  # who ran the training, as MLflow recorded it
    own = run(project, CLI, "promote", "--version", "2", *approval(trainer), env=strict)
    assert own.returncode == 1
    assert f"{trainer} ran the training of version 2" in own.stderr
    approved = ok(
        run(project, CLI, "promote", "--version", "staging", *approval("alice"), env=strict)
    )
    assert "version 2 is the champion (was 1), approved by alice" in approved
    assert sorted(models(project)["2"]["aliases"]) == ["challenger", "champion"]
    assert moves(project)[-1] == ("promote", "alice", "1", "2")
    assert history(project)[-1]["four_eyes"] is True  # the rule held when alice approved
    assert history(project)[1]["four_eyes"] is False  # the first approval had no such rule


def test_worse_model_is_rejected_and_only_an_override_promotes_it(project: Path) -> None:
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

    refused = run(project, CLI, "promote", "--version", "3", *approval("alice"))
    assert refused.returncode == 1
    assert "version 3 did not pass the gate (failed: roc_auc" in refused.stderr
    assert "--override" in refused.stderr
    assert "champion" in models(project)["2"]["aliases"]
    forced = ok(run(project, CLI, "promote", "--version", "3", *approval("alice"), "--override"))
    assert (
        "version 3 is the champion (was 2), approved by alice; overridden: did not pass" in forced
    )
    last = history(project)[-1]
    assert (last["action"], last["who"], last["to_version"]) == ("promote", "alice", "3")
    assert last["overridden"][0].startswith("did not pass the gate")


def test_rollback_on_a_clone_without_reports_restores_the_champion_from_the_registry(
    project: Path,
) -> None:
    shutil.rmtree(project / "reports")  # git-ignored: a fresh clone or a pod has none
    rolled = ok(run(project, CLI, "rollback", "--approver", "oncall", "--reason", "drill"))
    assert "version 2 is the champion again" in rolled
    assert "champion" in models(project)["2"]["aliases"]
    assert moves(project) == [
        ("stage", "gate", None, "1"),
        ("promote", "reviewer", None, "1"),
        ("stage", "gate", None, "2"),
        ("promote", "alice", "1", "2"),
        ("reject", "gate", "2", "3"),
        ("promote", "alice", "2", "3"),
        ("rollback", "oncall", "3", "2"),
    ]
    assert all(event["when"] and event["why"] for event in history(project))
    mirrored = (project / "reports" / "audit_log.jsonl").read_text().splitlines()
    assert [json.loads(line)["action"] for line in mirrored] == ["rollback"]


def test_a_champion_moved_by_another_process_fails_the_promotion_clearly(project: Path) -> None:
    code = (
        "from {{ cookiecutter.package_name }}.governance.promotion import promote_by_gate; "
        "from {{ cookiecutter.package_name }}.settings import load_workspace; "
        "promote_by_gate(load_workspace(), '3', '1', 'gate passed')"  # it was scored against 1
    )
    raced = run(project, sys.executable, "-c", code)
    assert raced.returncode == 1
    assert "the champion moved from v1 to v2 since it was read; nothing changed" in raced.stderr
    assert "champion" in models(project)["2"]["aliases"]
    assert moves(project)[-1] == ("rollback", "oncall", "3", "2")


def test_the_champion_is_never_scored_on_rows_it_trained_on(project: Path) -> None:
    wider = run(project, CLI, "train", "--set", "model.test_fraction=0.4")
    assert "registered version 4" in wider.stdout, wider.stdout[-2000:] + wider.stderr[-2000:]
    versions = models(project)
    comparison = json.loads(versions["4"]["tags"]["compared_with_champion"])
    champion_trained_until = versions["2"]["tags"]["trained_until"]
    assert (comparison["version"], comparison["champion_trained_until"]) == (
        "2",
        champion_trained_until,
    )
    assert pd.Timestamp(comparison["first_row"]) > pd.Timestamp(champion_trained_until)
    held_out = 0.4 * json.loads(versions["4"]["tags"]["training_data"])["rows"]
    assert 0 < comparison["rows"] < 0.75 * held_out  # the older held-out rows were left out


def test_a_model_unfair_to_a_group_is_rejected_and_the_group_named(project: Path) -> None:
    strict = ["gate.fairness.max_fpr_difference=0", "gate.fairness.min_z=0"]
    unfair = run(project, CLI, "train", *(argument for s in strict for argument in ("--set", s)))
    assert unfair.returncode == 1, unfair.stdout[-2000:]
    assert "gate failed for version 5" in unfair.stderr
    named = re.search(r"false_positive_rate of age_band=(\S+) is [0-9.]+ against", unfair.stderr)
    assert named and named[1] in {"18-29", "30-44", "45-64", "65+"}, unfair.stderr[-2000:]
    assert "gate.fairness.max_fpr_difference 0" in unfair.stderr
    fairness = json.loads(models(project)["5"]["tags"]["fairness"])
    assert fairness["age_band"]["false_positive_rate_gap"]["worst"] == named[1]
    assert {group["group"] for group in fairness["channel"]["groups"]} == {"pos", "online", "atm"}


def test_without_required_approval_the_gate_promotes_directly(project: Path) -> None:
    solo = {f"{ENV_PREFIX}GOVERNANCE__REQUIRE_APPROVAL": "false"}
    direct = ok(run(project, CLI, "train", env=solo))
    assert "gate passed: version 6 is the champion" in direct
    assert moves(project)[-1] == ("promote", "gate", "2", "6")


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
