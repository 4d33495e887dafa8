"""Week 8: the champion's release evidence, complete and up to date."""

from __future__ import annotations

import json

from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.governance.evidence import evidence_folder
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
)


def test_the_champion_s_release_evidence_is_complete(settings: Settings, champion: str) -> None:
    folder = evidence_folder(settings, champion)
    if not (folder / "evidence.md").is_file() or not (folder / "evidence.json").is_file():
        next_step(f"no release evidence of the champion (version {champion}): run `make evidence`")
    record = json.loads((folder / "evidence.json").read_text())
    empty = [section for section in SECTIONS if not record.get(section)]
    if empty:
        next_step(
            f"the evidence of version {champion} has empty sections {empty}: run `make train` "
            "(every training run records them), then `make evidence`"
        )
    if not record["drift"]["last_monitoring"]:
        next_step(
            f"the evidence of version {champion} records no monitoring yet: run `make monitor` "
            "(it refreshes the evidence)"
        )
