"""Week 8: a champion that drift retrained, its evidence and model card, an incident drill."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from checkpoints.baseline import file_at_bake
from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.governance.audit import AuditEvent
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
EVIDENCE_CODE = "src/{{ cookiecutter.package_name }}/governance/evidence.py"
INCIDENTS = Path("docs") / "incidents"
MIN_SECTION_WORDS = 5


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


def baked_limitations(source: str | None) -> set[str]:
    """The model card's LIMITATIONS as the bake wrote them (empty when it cannot be read)."""
    for node in ast.walk(ast.parse(source or "")):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "LIMITATIONS" for target in node.targets
        ):
            return set(ast.literal_eval(node.value))
    return set()


def test_the_champion_s_model_card_carries_a_limitation_you_added(
    settings: Settings, champion: str, bake_commit: str
) -> None:
    baked = baked_limitations(file_at_bake(settings.project_root, bake_commit, EVIDENCE_CODE))
    record = evidence_folder(settings, champion) / "evidence.json"
    card = json.loads(record.read_text())["model_card"] if record.is_file() else {}
    if not set(card.get("limitations", [])) - baked:
        next_step(
            f"the model card of the champion (version {champion}) lists only the baked "
            f"limitations: add your own to LIMITATIONS in {EVIDENCE_CODE}, then rebuild the "
            "champion's evidence (week 8, exercise 3)"
        )


def sections(text: str) -> dict[str, str]:
    """A Markdown page's `## ` sections: heading -> body, HTML comments (the prompts) removed."""
    parts = re.split(r"^## +(.+)$", re.sub(r"<!--.*?-->", "", text, flags=re.S), flags=re.M)
    pairs = zip(parts[1::2], parts[2::2], strict=True)
    return {heading.strip(): body.strip() for heading, body in pairs}


def test_an_incident_drill_shipped_a_worse_model_rolled_it_back_and_wrote_it_up(
    settings: Settings, bake_commit: str, audit_history: list[AuditEvent]
) -> None:
    shipped = [
        event
        for event in audit_history
        if event.action == "promote"
        and any(reason.startswith("did not pass the gate") for reason in event.overridden)
    ]
    rolled_back = [
        str(shipment.to_version)
        for shipment in shipped
        if any(
            event.action == "rollback"
            and event.from_version == shipment.to_version
            and event.when > shipment.when
            for event in audit_history
        )
    ]
    if not rolled_back:
        next_step(
            "the registry holds no incident drill: promote a version the gate rejected with "
            "--override, find it in `make models`, then `rollback` (week 8, exercise 4)"
        )
    folder = settings.project_root / INCIDENTS
    # The sections the bake's template asks for, whatever became of the copy in the project.
    baked = file_at_bake(settings.project_root, bake_commit, f"{INCIDENTS}/TEMPLATE.md")
    template = sections(baked or "")
    reports = [path for path in sorted(folder.glob("*.md")) if path.name != "TEMPLATE.md"]
    versions = "|".join(rolled_back)
    named = [
        path
        for path in reports
        if re.search(rf"\b(?:v|version )(?:{versions})\b", path.read_text())
    ]
    if not named:
        next_step(
            f"no post-mortem in {INCIDENTS}/ names the version you rolled back "
            f"({', '.join('v' + v for v in rolled_back)}): copy TEMPLATE.md to "
            f"{INCIDENTS}/<date>-<what>.md and fill it in"
        )
    written = sections(named[-1].read_text())
    thin = [
        heading for heading in template if len(written.get(heading, "").split()) < MIN_SECTION_WORDS
    ]
    if thin:
        next_step(
            f"the post-mortem {named[-1].name} has missing or empty sections {thin}: a few "
            "sentences each, for the next person on call"
        )
