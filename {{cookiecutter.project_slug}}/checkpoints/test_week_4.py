"""Week 4: your gate rule and its test, a rejected challenger, a second approver, a rollback."""

from __future__ import annotations

import yaml

from checkpoints.baseline import changed_since_bake, file_at_bake
from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.governance.audit import AuditEvent
from {{ cookiecutter.package_name }}.settings import Settings

GATE_CODE = "src/{{ cookiecutter.package_name }}/model/gate.py"


def test_you_changed_a_gate_rule_and_wrote_a_unit_test_for_it(
    settings: Settings, bake_commit: str
) -> None:
    root = settings.project_root
    baked = yaml.safe_load(file_at_bake(root, bake_commit, "params.yaml") or "{}")
    now = yaml.safe_load((root / "params.yaml").read_text())
    rule_changed = baked.get("gate") != now.get("gate") or changed_since_bake(
        root, bake_commit, GATE_CODE
    )
    if not rule_changed:
        next_step(
            "the promotion gate is as baked: choose a rule for your team (a threshold in the "
            f"`gate` section of params.yaml, or a rule in {GATE_CODE}) and write down why in "
            "its comment (week 4, exercise 4)"
        )
    tests = [
        path
        for path in changed_since_bake(root, bake_commit, "tests")
        if path.endswith(".py") and "gate" in (root / path).read_text(errors="replace")
    ]
    if not tests:
        next_step(
            "no test you wrote or changed under tests/ exercises the gate: add a unit test of "
            "your rule (e.g. tests/unit/test_my_gate_rule.py calling model.gate.judge)"
        )


def test_a_person_rolled_the_champion_back(audit_history: list[AuditEvent]) -> None:
    rollbacks = [e for e in audit_history if e.action == "rollback" and e.who != "gate"]
    if not rollbacks:
        next_step(
            "the registry records no rollback: after a second champion, run `.venv/bin/"
            "{{ cookiecutter.project_slug }} rollback --approver <you> --reason <why>` "
            "(week 4, exercise 4)"
        )


def test_the_gate_rejected_a_challenger(audit_history: list[AuditEvent]) -> None:
    rejected = [event for event in audit_history if event.action == "reject"]
    if not rejected:
        next_step(
            "the registry's audit history holds no rejected challenger: set model.max_depth: 1 and "
            "model.n_estimators: 1 in params.yaml, run `make train` (the gate rejects the "
            "worse model and the champion stays), then restore both values"
        )


def test_a_second_person_approved_a_staged_version(
    settings: Settings, audit_history: list[AuditEvent]
) -> None:
    if not settings.governance.distinct_approver:
        next_step(
            "governance.distinct_approver is off: one person can train and approve a model. Set "
            "it to true in params.yaml and commit (week 4, exercise 5)"
        )
    staged = {event.to_version for event in audit_history if event.action == "stage"}
    if not any(
        event.action == "promote" and event.four_eyes and event.to_version in staged
        for event in audit_history
    ):
        next_step(
            "no staged version was approved under governance.distinct_approver: `make train` "
            "until the gate stages a version, then have a colleague (not who trained it) run "
            "`.venv/bin/{{ cookiecutter.project_slug }} promote --version staging --approver "
            "<them> --reason <why>` (week 4, exercise 5)"
        )
