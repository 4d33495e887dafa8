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
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.bakery import IDENTITY, bake, make

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
    "homework",
    "capstone",
)
# What each week's checkpoint says after a bare `make demo`: one line per check it fails.
AFTER_BARE_DEMO = {
    2: ["no registered model uses a feature you added"],
    3: ["every tracked run used the default values"],
    4: [
        "the promotion gate is as baked",
        "the registry records no rollback",
        "holds no rejected challenger",
    ],
    5: ["has not answered for a customer without stored features"],
    6: ["configs/kubeflow/ and deploy/k8s/ are as baked", "training.yaml is missing"],
    7: ["the quality gate has not stopped a training run yet", "no monitoring run has found drift"],
    8: ["was not trained because of drift"],
}
# What removing each week's artifact must make that week's checkpoint say.
REMOVED_ARTIFACT = {
    1: ("data/raw/transactions.parquet", "run `make data`"),
    2: ("data/features/customer_features.parquet", "run `make data`"),
    3: ("artifacts/mlflow/mlflow.db", "run `make train`"),
    4: ("artifacts/mlflow/mlflow.db", "the registry records no rollback"),
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
    """A fresh bake (committed, as the roadmap asks) after `make data features` twice and
    `make demo`."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in IDENTITY.items():
            patch.setenv(name, value)
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


def run_cli(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """The project's command line, as the roadmap's exercises call it."""
    command = [str(Path(sys.executable).parent / "fraud-detection"), *arguments]
    return subprocess.run(command, cwd=project, capture_output=True, text=True)


def cli(project: Path, *arguments: str) -> str:
    result = run_cli(project, *arguments)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def commit(project: Path, message: str) -> None:
    """Commit the learner's change, so the next model records a clean tree."""
    subprocess.run(["git", "add", "--all"], cwd=project, check=True)
    subprocess.run(["git", "commit", "-qm", message], cwd=project, check=True)


def checkpoint(project: Path, week: int) -> subprocess.CompletedProcess[str]:
    return make(project, "checkpoint", f"WEEK={week}")


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


def test_after_a_bare_demo_only_week_1_passes_and_each_week_says_what_it_wants(
    learner: Path,
) -> None:
    assert re.search(r"\d+ passed", checkpoint(learner, 1).stdout)
    for week, advice in AFTER_BARE_DEMO.items():
        result = checkpoint(learner, week)
        assert result.returncode != 0, f"week {week} passed on a bare demo"
        for line in advice:
            assert line in result.stdout, f"week {week}: {line!r} not in {result.stdout[-3000:]}"


def test_the_checkpoints_know_the_model_inputs_of_an_unchanged_bake(learner: Path) -> None:
    check = (
        "from checkpoints.baseline import DEFAULT_MODEL_INPUTS as baked; "
        "from fraud_detection.features.request_time import model_columns; "
        "from fraud_detection.settings import FeatureSettings; "
        "assert set(model_columns(FeatureSettings())) == baked"
    )
    subprocess.run([sys.executable, "-c", check], cwd=learner, check=True)


def test_every_checkpoint_passes_after_the_weeks_exercises(learner: Path) -> None:
    # The previous test ran on the bare demo; this one does each week's work in roadmap order.
    assert "champion" in ok(learner, "models")
    approval = ["--approver", "learner", "--reason", "evidence reviewed"]
    # Week 2, exercise 4: a feature of the learner's own, trained and approved.
    build = learner / "src" / "fraud_detection" / "features" / "build.py"
    code = build.read_text()
    code = code.replace('"foreign_share")', '"foreign_share", "online_share")').replace(
        '            "last_transaction_unix": seconds.astype(float),\n',
        '            "online_share": _running_sum(\n'
        '                (ordered["channel"].to_numpy() == "online").astype(float), group_start\n'
        "            )\n"
        "            / count_so_far,\n"
        '            "last_transaction_unix": seconds.astype(float),\n',
    )
    build.write_text(code)
    commit(learner, "Feature: the customer's share of online transactions")
    ok(learner, "data", "features")
    commit(learner, "Data version with online_share")
    trained = make(learner, "train")
    version = re.search(r"registered version (\d+)", trained.stdout + trained.stderr)
    assert version, trained.stdout[-2000:] + trained.stderr[-2000:]
    cli(learner, "promote", "--version", version.group(1), "--override", *approval)
    # Week 3, exercise 1 and week 4, exercise 1: other parameters; the gate rejects the model.
    worse = run_cli(learner, "train", "--set", "model.max_depth=1", "--set", "model.n_estimators=1")
    assert worse.returncode != 0 and "champion stays" in worse.stderr, worse.stderr[-2000:]
    # Week 4, exercise 4: the team's own gate rule with its unit test; a person's rollback.
    edit_params(learner, "gate", min_recall=0.25)
    (learner / "tests" / "unit" / "test_our_gate_rule.py").write_text(
        "from fraud_detection.settings import load_settings\n\n\n"
        "def test_our_gate_accepts_a_recall_of_a_quarter() -> None:\n"
        "    assert load_settings().gate.min_recall == 0.25\n"
    )
    commit(learner, "Gate: a recall of 0.25 is enough for the first quarter")
    cli(learner, "rollback", *approval)
    # Week 6, exercises 1 and 2: a GPU training spec; a bigger memory request kept.
    resources = learner / "configs" / "kubeflow" / "training.yaml"
    resources.write_text(resources.read_text().replace("memory: 8GB", "memory: 16GB", 1))
    week_6 = edit_params(learner, "kubeflow", gpu=True)
    ok(learner, "kfp-compile")
    edit_params(learner, "kubeflow", **week_6)
    commit(learner, "Kubeflow: 16GB for the point-in-time join")
    # Week 7, exercise 1: the quality gate stops a run.
    week_7 = edit_params(learner, "quality", max_fraud_rate=0.01)
    stopped = make(learner, "train")
    assert stopped.returncode != 0 and "quality gate failed" in stopped.stderr
    edit_params(learner, "quality", **week_7)
    # Week 8, exercise 2: drift, a retraining it triggers, approved; monitored and evidenced.
    edit_params(learner, "data", drift=True)
    ok(learner, "data")
    commit(learner, "Data: drifted")
    monitored = make(learner, "monitor").stdout
    retrained = re.search(r"^retrained: version (\d+) (.*)$", monitored, re.MULTILINE)
    assert retrained, monitored[-2000:]
    if "staged for approval" in retrained.group(2):
        cli(learner, "promote", "--version", "staging", *approval)
    else:  # the gate judged it against the old champion on drifted rows: a person decides
        cli(learner, "promote", "--version", retrained.group(1), "--override", *approval)
    ok(learner, "features", "monitor", "evidence", "infer", "bento")
    # Week 5, exercises 1 and 2: the new champion serves a known and an unknown customer.
    unknown = learner / "examples" / "unknown_customer.json"
    example = json.loads((learner / "examples" / "predict_request.json").read_text())
    unknown.write_text(json.dumps({**example, "customer_id": 999999}))
    with served(learner) as port:
        ok(learner, "predict-example", f"PORT={port}")
        cli(learner, "send", str(unknown), "--port", str(port))
    for week in range(1, 9):
        output = ok(learner, "checkpoint", f"WEEK={week}")
        assert re.search(r"\d+ passed", output), output[-1000:]


def test_homework_accepts_right_answers_and_names_a_wrong_one_and_the_capstone_adds_up(
    learner: Path,
) -> None:
    first = make(learner, "homework", "WEEK=1")
    assert first.returncode != 0 and "wrote homework/week-1.yaml" in first.stdout, first.stdout
    sheet = (learner / "homework" / "week-1.yaml").read_text()
    assert "How many rows does data/raw/transactions.parquet hold?" in sheet
    assert "transactions: null" in sheet and 'reflection: ""' in sheet
    compute = (
        "import json; from checkpoints.homework import QUESTIONS; "
        "from fraud_detection.settings import load_settings; s = load_settings(); "
        "print(json.dumps({w: {q.key: q.answer(s) for q in qs} for w, qs in QUESTIONS.items()}))"
    )
    computed = subprocess.run(
        [sys.executable, "-c", compute], cwd=learner, capture_output=True, text=True, check=True
    )
    reflection = " ".join(["I would first compare the data hashes and the commit."] * 4)
    for week, right in json.loads(computed.stdout).items():
        assert 3 <= len(right) <= 5
        sheet_file = learner / "homework" / f"week-{week}.yaml"
        key, value = next(iter(right.items()))
        wrong = value + 7 if isinstance(value, float) else f"{value}x"
        sheet_file.write_text(yaml.safe_dump({**right, key: wrong, "reflection": reflection}))
        rejected = make(learner, "homework", f"WEEK={week}")
        assert rejected.returncode != 0, rejected.stdout
        assert f"NO  {key}: off" in rejected.stdout, rejected.stdout
        assert f": {value}" not in rejected.stdout, "the checker must not reveal the answer"
        sheet_file.write_text(yaml.safe_dump({**right, "reflection": "too short"}))
        short = make(learner, "homework", f"WEEK={week}")
        assert short.returncode != 0 and "NO  reflection: 2 words" in short.stdout
        sheet_file.write_text(yaml.safe_dump({**right, "reflection": reflection}))
        accepted = make(learner, "homework", f"WEEK={week}")
        assert accepted.returncode == 0, accepted.stdout[-2000:]
    capstone = make(learner, "capstone")
    assert capstone.returncode == 0, capstone.stdout[-3000:]
    assert "total 18/18 by command" in capstone.stdout
    assert "2/2  Homework" in capstone.stdout and "(needs a reviewer)" in capstone.stdout


@contextmanager
def served(project: Path) -> Iterator[int]:
    """`make serve` on a free port, stopped afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("FRAUD_DETECTION_", "MAKE"))
    }
    server = subprocess.Popen(
        ["make", "--no-print-directory", "serve", f"PORT={port}", f"VENV={sys.prefix}"],
        cwd=project,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def test_make_predict_example_gets_an_answer_from_make_serve(learner: Path) -> None:
    with served(learner) as port:
        answer = ok(learner, "predict-example", f"PORT={port}")
    assert '"model_version": "' in answer
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
    listing = json.loads(cli(learner, "models", "--json"))
    champion = next(entry["version"] for entry in listing if "champion" in entry["aliases"])
    folder = learner / "reports" / "releases" / f"v{champion}"
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
