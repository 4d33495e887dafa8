"""Champion moves with their audit trail: promotions, gate rejections and rollbacks.

Each move is an audit event, appended to the local log and kept as an `audit.*` tag on the model
versions it concerns in MLflow: the local log is lost with a pipeline pod, the registry's copy is
not, and the release evidence reads its approvals from there.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from {{ cookiecutter.package_name }}.governance import audit
from {{ cookiecutter.package_name }}.model import registry, tags
from {{ cookiecutter.package_name }}.settings import Workspace


def set_champion(workspace: Workspace, version: str, action: str, who: str, why: str) -> None:
    """Point `champion` at `version` and record who moved it and why."""
    previous = registry.move_champion(workspace, version)
    record(workspace, audit.AuditEvent(action, who, previous, version, why))


def record_rejection(
    workspace: Workspace, version: str, champion: str | None, why: str
) -> audit.AuditEvent:
    """Record that the gate kept `champion` instead of `version`."""
    return record(workspace, audit.AuditEvent("reject", "gate", champion, version, why))


def record(workspace: Workspace, event: audit.AuditEvent) -> audit.AuditEvent:
    """Append an event to the audit log and keep it with the versions it concerns in MLflow."""
    stamped = audit.append(workspace, event)
    client = registry.mlflow_client(workspace)
    line = json.dumps(asdict(stamped))
    key = tags.AUDIT_PREFIX + stamped.when.replace("+00:00", "Z")  # tag keys allow no "+"
    for version in {stamped.from_version, stamped.to_version} - {None}:
        client.set_model_version_tag(registry.model_name(workspace), str(version), key, line)
    return stamped


def rollback(workspace: Workspace, who: str, why: str) -> str:
    """Point `champion` back at the version it replaced last; return that version."""
    current = registry.champion_version(workspace)
    if current is None:
        raise RuntimeError("there is no champion to roll back")
    for event in reversed(audit.read(workspace)):
        if event.to_version == current and event.from_version and event.action != "rollback":
            set_champion(workspace, event.from_version, "rollback", who, why)
            return event.from_version
    raise RuntimeError(f"champion v{current} replaced no earlier champion: nothing to roll back to")
