"""A learner's path through a fresh bake: the local workflow the docs quote, then every checkpoint.

The make commands here are the ones the roadmap tells learners to run, in the same order, so the
docs cannot promise a workflow that does not work. `tests/test_docs.py` checks that every local
command quoted in the docs is in `LOCAL_WORKFLOW`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.bakery import bake, make

pytestmark = pytest.mark.slow

# Every make target the docs quote for the local workflow, as this module runs it.
LOCAL_WORKFLOW = (
    "setup",
    "data",
    "features",
    "demo",
    "train",
    "infer",
    "models",
    "monitor",
    "evidence",
    "bento",
    "serve",
    "predict-example",
    "kfp-compile",
    "checkpoint",
)
# What removing each week's artifact must make that week's checkpoint say.
REMOVED_ARTIFACT = {
    1: ("data/raw/transactions.parquet", "run `make data`"),
    2: ("data/features/customer_features.parquet", "run `make data`"),
    3: ("artifacts/mlflow/mlflow.db", "run `make train`"),
    4: ("artifacts/mlflow/mlflow.db", "no champion model yet"),  # the history is the registry's
    5: ("reports/prediction_log.jsonl", "`make predict-example`"),
    6: ("build/kfp/training.yaml", "run `make kfp-compile`"),
    7: ("reports/monitoring", "run `make monitor`"),
    8: ("reports/releases", "run `make evidence`"),
}


def ok(project: Path, *targets: str) -> str:
    result = make(project, *targets)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def edit_params(project: Path, section: str, **values: object) -> dict[str, object]:
    """Change params.yaml as the exercises say; return the previous values."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    previous = {key: params[section][key] for key in values}
    params[section].update(values)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return previous


@pytest.fixture(scope="module")
def learner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh bake after `make data features` twice and `make demo`."""
    project = bake(tmp_path_factory.mktemp("learner"))
    first = ok(project, "data", "features")
    assert "Running stage 'raw'" in first
    assert "materialized (backfill)" in first
    again = ok(project, "data", "features")
    assert "Data and pipelines are up to date." in again
    assert "materialized (incremental)" in again
    demo = ok(project, "demo")
    (project / "demo.log").write_text(demo)
    yield project


def test_demo_runs_the_whole_job_and_ends_in_a_served_prediction(learner: Path) -> None:
    demo = (learner / "demo.log").read_text()
    stages = re.findall(r"^  (\w+) +(\d+\.\d) s  (.+)$", demo, re.MULTILINE)
    names = [name for name, _, _ in stages]
    assert names == [
        "setup", "data", "features", "train", "approve", "infer", "models", "lookup",
        "monitor", "evidence", "bento", "serve",
    ]  # fmt: skip
    by_name = {name: line for name, _, line in stages}
    assert by_name["train"].startswith("registered version 1 (roc_auc 0.")
    assert "drift share" in by_name["monitor"]
    assert "fraud_probability: 0." in by_name["serve"]
    assert "Warning" not in demo, "third-party warnings belong in logs/demo/, not the terminal"
    assert "zenml" in (learner / "logs" / "demo" / "train.log").read_text().lower()
    assert "gate passed: version 1 is staged for approval" in demo
    assert "version 1 is the champion (was none), approved by" in demo
    assert "not found: [999999]" in demo
    assert "no retraining needed" in demo
    assert (learner / "reports" / "releases" / "v1" / "evidence.md").is_file()
    answer = re.search(r"^\{\n.*?^\}$", demo, re.MULTILINE | re.DOTALL)
    assert answer, "make demo printed no served prediction"
    served = json.loads(answer.group(0))
    assert served["model_version"] == "1"
    assert 0 <= served["fraud_probability"] <= 1


def test_every_checkpoint_passes_after_the_weeks_exercises(learner: Path) -> None:
    assert "champion" in ok(learner, "models")
    assert "releases/v1/evidence.md" in ok(learner, "evidence", "VERSION=1")
    assert "predictions written to" in ok(learner, "infer")
    assert "no retraining needed" in ok(learner, "monitor")
    assert "built Bento" in ok(learner, "bento")
    week_4 = edit_params(learner, "model", max_depth=1, n_estimators=1)
    worse = make(learner, "train")
    assert worse.returncode != 0 and "champion stays 1" in worse.stderr, worse.stderr[-2000:]
    edit_params(learner, "model", **week_4)
    week_6 = edit_params(learner, "kubeflow", gpu=True)
    ok(learner, "kfp-compile")
    edit_params(learner, "kubeflow", **week_6)
    for week in range(1, 9):
        output = ok(learner, "checkpoint", f"WEEK={week}")
        assert re.search(r"\d+ passed", output), output[-1000:]


def test_make_predict_example_gets_an_answer_from_make_serve(learner: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("FRAUD_DETECTION_", "MAKE"))
    }
    server = subprocess.Popen(
        ["make", "--no-print-directory", "serve", f"PORT={port}", f"VENV={sys.prefix}"],
        cwd=learner,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        answer = ok(learner, "predict-example", f"PORT={port}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    assert '"model_version": "1"' in answer
    assert '"lineage_id"' in answer


@pytest.mark.parametrize("week", sorted(REMOVED_ARTIFACT))
def test_each_checkpoint_says_what_to_do_when_its_artifact_is_missing(
    learner: Path, week: int
) -> None:
    relative, advice = REMOVED_ARTIFACT[week]
    artifact, aside = learner / relative, learner.parent / f"aside-{week}"
    shutil.move(artifact, aside)
    try:
        result = make(learner, "checkpoint", f"WEEK={week}")
    finally:
        shutil.move(aside, artifact)
    assert result.returncode != 0, result.stdout[-2000:]
    assert advice in result.stdout, result.stdout[-2000:]


@pytest.mark.parametrize(
    ("part", "advice"),
    [
        ("code.git_commit", "empty sections or fields ['code.git_commit']"),
        ("fairness", "empty sections or fields ['fairness']"),
        ("explanations.global_importance", "['explanations.global_importance']"),
        ("model_card.md", "lacks one of ('evidence.md', 'evidence.json', 'model_card.md')"),
    ],
)
def test_week_8_fails_when_a_part_of_the_champion_s_evidence_is_blank_or_missing(
    learner: Path, part: str, advice: str
) -> None:
    folder = learner / "reports" / "releases" / "v1"
    saved = {path: path.read_bytes() for path in folder.iterdir()}
    if part.endswith(".md"):
        (folder / part).unlink()
    else:
        record = json.loads((folder / "evidence.json").read_text())
        section, _, field = part.partition(".")
        if field:
            record[section][field] = None if section == "code" else {}
        else:
            record[section] = {}
        (folder / "evidence.json").write_text(json.dumps(record))
    try:
        result = make(learner, "checkpoint", "WEEK=8")
    finally:
        for path, content in saved.items():
            path.write_bytes(content)
    assert result.returncode != 0, result.stdout[-2000:]
    assert advice in result.stdout, result.stdout[-2000:]


def test_an_unknown_week_is_refused_with_the_valid_range(learner: Path) -> None:
    result = make(learner, "checkpoint", "WEEK=9")
    assert result.returncode != 0
    assert "WEEK must be 1..8" in result.stdout + result.stderr
