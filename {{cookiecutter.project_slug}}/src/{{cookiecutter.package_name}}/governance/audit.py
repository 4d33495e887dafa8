"""Audit events: who moved a model between stages, when, from which version to which, and why.

The registry holds the record (an `audit.<time>` tag on each version an event concerns);
`reports/audit_log.jsonl` mirrors it for reading on this machine. The mirror is appended under a
lock and synced to disk, and a line torn by a crash is reported and skipped, never fatal.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from {{ cookiecutter.package_name }}.model import tags
from {{ cookiecutter.package_name }}.settings import Workspace

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditEvent:
    """One move (stage, promote, reject, rollback) by `who`, from one version to another.

    `overridden` names the refusals an approver chose to override (empty when none);
    `four_eyes` says the approval was made under `governance.distinct_approver`, so the approver
    was checked not to be who trained the version.
    """

    action: str
    who: str
    from_version: str | None
    to_version: str | None
    why: str
    when: str = ""
    overridden: list[str] = field(default_factory=list)
    four_eyes: bool = False

    def stamped(self) -> AuditEvent:
        """The event with the current UTC time."""
        return replace(self, when=datetime.now(timezone.utc).isoformat())

    def tag_key(self) -> str:
        """The version tag that keeps this event in MLflow (tag keys allow no `+`)."""
        return tags.AUDIT_PREFIX + self.when.replace("+00:00", "Z")

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, line: str) -> AuditEvent:
        """Parse one event; ValueError or TypeError when the line is not a whole event."""
        values: dict[str, Any] = json.loads(line)
        return cls(**values)


def audit_log_path(settings: Workspace) -> Path:
    """Where the local mirror lives (an append-only JSON Lines file)."""
    return settings.resolve(settings.paths.reports_dir) / "audit_log.jsonl"


def append(settings: Workspace, event: AuditEvent) -> None:
    """Append one stamped event to the mirror: one writer at a time, on disk before returning.

    A line left torn by a crash is ended first, so the new event starts a line of its own.
    """
    path = audit_log_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        try:
            end = log.seek(0, os.SEEK_END)
            torn = False
            if end:
                log.seek(end - 1)
                torn = log.read(1) != b"\n"
            log.write((b"\n" if torn else b"") + event.to_json().encode() + b"\n")
            log.flush()
            os.fsync(log.fileno())
        finally:
            fcntl.flock(log, fcntl.LOCK_UN)


def read(settings: Workspace) -> list[AuditEvent]:
    """Every whole event of the mirror, oldest first; a torn or foreign line is logged, skipped."""
    path = audit_log_path(settings)
    if not path.is_file():
        return []
    events = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(AuditEvent.from_json(line))
        except (ValueError, TypeError):
            logger.warning(
                "%s line %d is not a whole audit event; skipped: %.80s", path, number, line
            )
    return events


def from_version_tags(version_tags: dict[str, str]) -> list[AuditEvent]:
    """The events kept on one model version in MLflow."""
    events = []
    for key, value in version_tags.items():
        if key.startswith(tags.AUDIT_PREFIX):
            try:
                events.append(AuditEvent.from_json(value))
            except (ValueError, TypeError):
                logger.warning("version tag %s is not an audit event; skipped", key)
    return events
