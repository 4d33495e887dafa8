"""A learner's path through a fresh bake: the local workflow the docs quote, then every checkpoint.

The make commands here are the ones the roadmap tells learners to run, in the same order, so the
docs cannot promise a workflow that does not work. `tests/test_docs.py` checks that every local
command quoted in the docs is in `LOCAL_WORKFLOW`.
"""

from __future__ import annotations

import getpass
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
from xml.etree import ElementTree

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
    "audit",
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
        "governance.distinct_approver is off",
    ],
    5: ["has not answered for a customer without stored features"],
    6: ["configs/kubeflow/ and deploy/k8s/ are as baked", "training.yaml is missing"],
    7: [
        "the quality gate has not stopped a training run yet",
        "no monitoring run has found drift",
        "no version was rejected by the fairness gate yet",
        "the prediction log holds no answer with its reasons",
    ],
    8: [
        "was not trained because of drift",
        "lists only the baked limitations",
        "the registry holds no incident drill",
    ],
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


def every_checkpoint(project: Path, tmp_path: Path) -> dict[int, list[str]]:
    """All eight checkpoints in one run (what `make checkpoint` runs, per week): each week's
    failure messages, and "passed" or "skipped" once per check that passed or was skipped."""
    report = tmp_path / "checkpoints.xml"
    subprocess.run(
        [Path(sys.executable).parent / "pytest", "checkpoints", "-q", "-p", "no:cacheprovider",
         "--tb=line", f"--junitxml={report}"],
        cwd=project, capture_output=True, text=True,
    )  # fmt: skip
    outcomes: dict[int, list[str]] = {week: [] for week in range(1, 9)}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        week = int(case.attrib["classname"].rsplit("_", 1)[1])
        failures = [*case.iter("failure"), *case.iter("error")]
        skipped = ["skipped"] if case.find("skipped") is not None else []
        outcomes[week] += [f.attrib.get("message", "") for f in failures] or skipped or ["passed"]
    return outcomes


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
    learner: Path, tmp_path: Path
) -> None:
    failing = checkpoint(learner, 4)
    assert failing.returncode != 0 and "the promotion gate is as baked" in failing.stdout
    outcomes = every_checkpoint(learner, tmp_path)
    assert set(outcomes[1]) == {"passed"}, outcomes[1]
    for week, advice in AFTER_BARE_DEMO.items():
        said = "\n".join(outcomes[week])
        assert set(outcomes[week]) != {"passed"}, f"week {week} passed on a bare demo"
        for line in advice:
            assert line in said, f"week {week}: {line!r} not in {said[-3000:]}"


def test_the_checkpoints_know_the_model_inputs_of_an_unchanged_bake(learner: Path) -> None:
    check = (
        "from checkpoints.baseline import DEFAULT_MODEL_INPUTS as baked; "
        "from fraud_detection.features.request_time import model_columns; "
        "from fraud_detection.settings import FeatureSettings; "
        "assert set(model_columns(FeatureSettings())) == baked"
    )
    subprocess.run([sys.executable, "-c", check], cwd=learner, check=True)


def test_the_cluster_lab_counts_the_revisions_kubectl_lists(learner: Path) -> None:
    # No cluster here: the lab's grading reads `kubectl rollout history` as kubectl prints it.
    history = (
        "deployment.apps/fraud-detection \nREVISION  CHANGE-CAUSE\n1         <none>\n"
        "2         <none>\n3         <none>\n\n"
    )
    check = (
        "from checkpoints.test_week_6 import rollout_revisions as count; "
        f"assert count({history!r}) == 3, count({history!r}); "
        "assert count('No rollout history found.') == 0"
    )
    subprocess.run([sys.executable, "-c", check], cwd=learner, check=True)


def test_every_checkpoint_passes_after_the_weeks_exercises(learner: Path, tmp_path: Path) -> None:
    # The previous test ran on the bare demo; this one does each week's work in roadmap order.
    assert "champion" in ok(learner, "models")
    approval = ["--approver", "learner", "--reason", "evidence reviewed"]
    # Week 2, exercise 4: a feature of the learner's own, trained and approved.
    build = learner / "src" / "fraud_detection" / "features" / "build.py"
    code = build.read_text()
    rule = '        "foreign_share": "t.country IS DISTINCT FROM c.home_country",\n'
    assert rule in code, "the exercise edits share_conditions() as week 2 shows"
    code = code.replace('"foreign_share")', '"foreign_share", "online_share")').replace(
        rule, rule + '        "online_share": "t.channel = \'online\'",\n'
    )
    build.write_text(code)
    # Week 4, exercise 5, turned on here: whoever trains a version may not approve it.
    edit_params(learner, "governance", distinct_approver=True)
    commit(learner, "Feature: the customer's share of online transactions")
    ok(learner, "data", "features")
    commit(learner, "Data version with online_share")
    staged = ok(learner, "train")
    assert re.search(r"gate passed: version \d+ is staged for approval", staged), staged[-2000:]
    trainer = ["--approver", getpass.getuser(), "--reason", "my own model looks fine"]
    refused = run_cli(learner, "promote", "--version", "staging", *trainer)
    assert refused.returncode != 0 and "governance.distinct_approver" in refused.stderr
    waiting = checkpoint(learner, 4).stdout  # the demo's approval was made without the rule
    assert "no staged version was approved under governance.distinct_approver" in waiting
    cli(
        learner, "promote", "--version", "staging", "--approver", "colleague", "--reason", "read it"
    )
    # Week 3, exercise 1 and week 4, exercise 1: other parameters; the gate rejects the model.
    worse = run_cli(learner, "train", "--set", "model.max_depth=1", "--set", "model.n_estimators=1")
    assert worse.returncode != 0 and "champion stays" in worse.stderr, worse.stderr[-2000:]
    worse_version = re.search(r"gate failed for version (\d+)", worse.stderr)
    assert worse_version, worse.stderr[-2000:]
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
    # Week 7, exercise 4: a gate that tolerates no gap between groups rejects the same model.
    fairness = [f"gate.fairness.{name}=0" for name in ("max_fpr_difference", "min_z")]
    unfair = run_cli(learner, "train", *(f"--set={setting}" for setting in fairness))
    assert unfair.returncode != 0 and "> gate.fairness." in unfair.stderr, unfair.stderr[-2000:]
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
    # Week 8, exercise 3: a limitation of the team's own on the model card.
    evidence_code = learner / "src" / "fraud_detection" / "governance" / "evidence.py"
    limitation = "Scores must not be used to decline a transaction without review by an analyst."
    evidence_code.write_text(
        evidence_code.read_text().replace(
            "LIMITATIONS = (\n", f'LIMITATIONS = (\n    "{limitation}",\n'
        )
    )
    commit(learner, "Model card: no decline without an analyst")
    # Week 8, exercise 4: the incident drill. Ship the rejected model, find it, roll it back.
    bad = worse_version.group(1)
    drill = ["--approver", "learner", "--reason", f"incident drill: shipping v{bad} on purpose"]
    cli(learner, "promote", "--version", bad, "--override", *drill)
    listed = ok(learner, "models")
    assert re.search(rf"^ +{bad} +\S*champion\S* .* failed: ", listed, re.MULTILINE), listed
    assert "overridden: did not pass the gate" in ok(learner, "audit")
    cli(learner, "rollback", "--approver", "learner", "--reason", f"drill: v{bad} failed the gate")
    template = (learner / "docs" / "incidents" / "TEMPLATE.md").read_text()
    filled = re.sub(
        r"<!--.*?-->",
        f"v{bad} served after an override of its failed gate; found in make models, rolled back.",
        template,
        flags=re.DOTALL,
    )
    (learner / "docs" / "incidents" / "2026-12-04-drill.md").write_text(filled)
    commit(learner, "Post-mortem of the incident drill")
    ok(learner, "features", "monitor", "evidence", "infer", "bento")
    # Week 5, exercises 1 and 2: the new champion serves a known and an unknown customer.
    unknown = learner / "examples" / "unknown_customer.json"
    example = json.loads((learner / "examples" / "predict_request.json").read_text())
    unknown.write_text(json.dumps({**example, "customer_id": 999999}))
    with served(learner) as port:
        ok(learner, "predict-example", f"PORT={port}")
        cli(learner, "send", str(unknown), "--port", str(port))
        # Week 7, exercise 5: the reasons of a score.
        request = str(learner / "examples" / "predict_request.json")
        explained = json.loads(cli(learner, "send", request, "--port", str(port), "--explain"))
        assert explained["reasons"] and {"feature", "contribution"} <= set(explained["reasons"][0])
    outcomes = every_checkpoint(learner, tmp_path)
    assert all(
        "passed" in said and set(said) <= {"passed", "skipped"} for said in outcomes.values()
    )
    assert outcomes[6].count("skipped") == 1, outcomes[6]
    # The same checks through `make checkpoint`: no cluster here, so the optional lab says so.
    output = ok(learner, "checkpoint", "WEEK=6")
    assert re.search(r"\d+ passed, 1 skipped", output), output[-1000:]
    assert "SKIPPED" in output and "optional cluster lab" in output, output[-1000:]


def test_homework_accepts_right_answers_and_names_a_wrong_one_and_the_capstone_adds_up(
    learner: Path,
) -> None:
    first = make(learner, "homework", "WEEK=1")
    assert first.returncode != 0 and "wrote homework/week-1.yaml" in first.stdout, first.stdout
    sheet = (learner / "homework" / "week-1.yaml").read_text()
    assert "How many rows does data/raw/transactions.parquet hold?" in sheet
    assert "transactions: null" in sheet and 'reflection: ""' in sheet
    # Each week's sheet graded with each answer off in turn, a short reflection, all right, by the
    # checker `make homework` runs, in one process: the answers come from the project itself.
    reflection = " ".join(["I would first compare the data hashes and the commit."] * 4)
    grade_every_week = f"""
import contextlib, io, json, yaml
from checkpoints.homework import QUESTIONS, homework_file, main
from fraud_detection.settings import load_settings
settings, results = load_settings(), {{}}
def graded(week, sheet):
    homework_file(settings, week).write_text(yaml.safe_dump(sheet))
    with contextlib.redirect_stdout(io.StringIO()) as said:
        code = main([str(week)])
    return code, said.getvalue()
def off(value):
    return value + 7 if isinstance(value, float) else f"{{value}}x"
for week, questions in QUESTIONS.items():
    right = {{q.key: q.answer(settings) for q in questions}}
    results[week] = {{
        "right": right,
        "wrong": {{
            key: graded(week, {{**right, key: off(value), "reflection": {reflection!r}}})
            for key, value in right.items()
        }},
        "short": graded(week, {{**right, "reflection": "too short"}}),
        "accepted": graded(week, {{**right, "reflection": {reflection!r}}}),
    }}
print(json.dumps(results))
"""
    graded = subprocess.run(
        [sys.executable, "-c", grade_every_week], cwd=learner, capture_output=True, text=True
    )
    assert graded.returncode == 0, graded.stderr[-3000:]
    results = json.loads(graded.stdout.splitlines()[-1])
    assert sorted(results) == [str(week) for week in range(1, 9)]
    assert "weak_model_recall" in results["3"]["right"]  # after a stated parameter change
    for week, result in results.items():
        assert 3 <= len(result["right"]) <= 5, week
        for key, (code, said) in result["wrong"].items():  # every answer, off in turn
            assert code != 0 and f"NO  {key}: off" in said, (week, said)
            assert said.count("NO ") == 1, (week, key, said)
            assert f": {result['right'][key]}" not in said, "the checker must not reveal it"
        short_code, short = result["short"]
        assert short_code != 0 and "NO  reflection: 2 words" in short, (week, short)
        assert result["accepted"][0] == 0, (week, result["accepted"][1][-2000:])
    accepted = make(learner, "homework", "WEEK=8")
    assert accepted.returncode == 0 and "week 8 homework: " in accepted.stdout, accepted.stdout
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


# Weeks whose artifacts can be moved aside together without one hiding another's advice (the
# registry's removal makes every champion check fail first, so weeks 3 and 4 go on their own).
REMOVED_TOGETHER = ((1, 2, 5, 6, 7, 8), (3, 4))


@pytest.mark.parametrize("weeks", REMOVED_TOGETHER, ids=str)
def test_each_checkpoint_says_what_to_do_when_its_artifact_is_missing(
    learner: Path, tmp_path: Path, weeks: tuple[int, ...]
) -> None:
    moved = {learner / REMOVED_ARTIFACT[week][0] for week in weeks}
    aside = {artifact: tmp_path / f"aside-{n}" for n, artifact in enumerate(sorted(moved))}
    for artifact, place in aside.items():
        shutil.move(artifact, place)
    try:
        outcomes = every_checkpoint(learner, tmp_path)
    finally:
        for artifact, place in aside.items():
            shutil.move(place, artifact)
    for week in weeks:
        said = "\n".join(outcomes[week])
        assert REMOVED_ARTIFACT[week][1] in said, f"week {week}: {said[-2000:]}"


@pytest.mark.parametrize(
    ("parts", "advice"),
    [
        (
            ("code.git_commit", "fairness", "explanations.global_importance"),
            "empty sections or fields ['fairness', 'code.git_commit', "
            "'explanations.global_importance']",
        ),
        (("model_card.md",), "lacks one of ('evidence.md', 'evidence.json', 'model_card.md')"),
    ],
    ids=["blank-fields", "missing-page"],
)
def test_week_8_fails_when_a_part_of_the_champion_s_evidence_is_blank_or_missing(
    learner: Path, parts: tuple[str, ...], advice: str
) -> None:
    listing = json.loads(cli(learner, "models", "--json"))
    champion = next(entry["version"] for entry in listing if "champion" in entry["aliases"])
    folder = learner / "reports" / "releases" / f"v{champion}"
    saved = {path: path.read_bytes() for path in folder.iterdir()}
    record = json.loads((folder / "evidence.json").read_text())
    for part in parts:
        if part.endswith(".md"):
            (folder / part).unlink()
            continue
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
