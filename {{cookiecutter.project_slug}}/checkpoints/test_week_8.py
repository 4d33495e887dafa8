"""Week 8: a champion that drift retrained, and its release evidence, complete and up to date."""

from __future__ import annotations

import json
from typing import Any

from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.governance.evidence import evidence_folder
from {{ cookiecutter.package_name }}.model import registry, tags
from {{ cookiecutter.package_name }}.settings import Settings

SECTIONS = (
    "model",
    "code",
    "data",
    "features",
    "params",
    "metrics",
    "quality_gate",
    "environment",
    "mlflow",
    "approvals",
    "model_card",
    "fairness",
    "explanations",
)


def blank_fields(value: Any, path: str) -> list[str]:
    """The fields of a section that are null, an empty string or empty, as dotted paths."""
    if isinstance(value, dict) and value:
        return [
            found for key, item in value.items() for found in blank_fields(item, f"{path}.{key}")
        ]
    return [path] if value is None or value == "" or value == {} else []


def test_the_champion_s_release_evidence_is_complete(settings: Settings, champion: str) -> None:
    folder = evidence_folder(settings, champion)
    pages = ("evidence.md", "evidence.json", "model_card.md")
    if not all((folder / page).is_file() for page in pages):
        next_step(
            f"the release evidence of the champion (version {champion}) lacks one of {pages}: "
            "run `make evidence`"
        )
    record = json.loads((folder / "evidence.json").read_text())
    empty = [section for section in SECTIONS if not record.get(section)]
    empty += [
        found
        for section in SECTIONS
        if record.get(section)
        for found in blank_fields(record[section], section)
    ]
    if empty:
        next_step(
            f"the evidence of version {champion} has empty sections or fields {empty}: run "
            "`make train` from a committed project (every training run records them), then "
            "`make evidence`"
        )
    if not record["drift"]["last_monitoring"]:
        next_step(
            f"the evidence of version {champion} records no monitoring yet: run `make monitor` "
            "(it refreshes the evidence)"
        )


def test_the_champion_was_trained_because_of_drift(settings: Settings, champion: str) -> None:
    record = registry.version_record(settings, champion)
    trigger = json.loads(record.tags.get(tags.RETRAINING_TRIGGER, "{}"))
    if not trigger.get("failed_tests"):
        next_step(
            f"the champion (version {champion}) was not trained because of drift (its trigger: "
            f"{trigger.get('reason', 'none')}): run week 8, exercise 2, and approve the retrained "
            "version if the gate staged it"
        )
