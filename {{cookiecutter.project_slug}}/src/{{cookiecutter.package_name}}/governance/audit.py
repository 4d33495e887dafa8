"""The audit log: one JSON line per champion change or gate decision, never rewritten."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from {{ cookiecutter.package_name }}.settings import Workspace


@dataclass(frozen=True)
class AuditEvent:
    """Who did what to the champion, when, from which version to which, and why."""

    action: str
    who: str
    from_version: str | None
    to_version: str | None
    why: str
    when: str = ""


def audit_log_path(settings: Workspace) -> Path:
    """Where the audit log lives (an append-only JSON Lines file)."""
    return settings.resolve(settings.paths.reports_dir) / "audit_log.jsonl"


def append(settings: Workspace, event: AuditEvent) -> AuditEvent:
    """Append one event, stamped with the current UTC time."""
    stamped = AuditEvent(**{**asdict(event), "when": datetime.now(timezone.utc).isoformat()})
    path = audit_log_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as log:
        log.write(json.dumps(asdict(stamped)) + "\n")
    return stamped


def read(settings: Workspace) -> list[AuditEvent]:
    """Every event, oldest first."""
    path = audit_log_path(settings)
    if not path.is_file():
        return []
    return [AuditEvent(**json.loads(line)) for line in path.read_text().splitlines() if line]
