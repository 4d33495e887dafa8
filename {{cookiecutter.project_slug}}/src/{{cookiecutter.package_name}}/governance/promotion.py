"""Stage moves and their audit trail: staging by the gate, approval to champion, rollback.

The registry is the record. Each move is written to MLflow first (the alias, then an `audit.*`
tag on every version it concerns) and mirrored to `reports/audit_log.jsonl`; history and
rollback read MLflow, so they work on a fresh clone or after a pipeline pod is gone. A champion
move is compare-and-set: it names the champion it expects to replace and is refused if another
process moved it since (MLflow aliases have no conditional update, so the check runs right
before the move and again after it).
"""

from __future__ import annotations

from {{ cookiecutter.package_name }}.governance import audit
from {{ cookiecutter.package_name }}.governance.audit import AuditEvent
from {{ cookiecutter.package_name }}.model import registry, tags
from {{ cookiecutter.package_name }}.settings import GovernanceSettings, Workspace


class PromotionRefusedError(RuntimeError):
    """A promotion that the rules refuse; the message says which rule and how to proceed."""


class ChampionMovedError(RuntimeError):
    """The champion changed between the moment it was read and the move."""


def record(workspace: Workspace, event: AuditEvent) -> AuditEvent:
    """Keep an event with the versions it concerns in MLflow, then mirror it locally."""
    stamped = event.stamped()
    client = registry.mlflow_client(workspace)
    for version in {stamped.from_version, stamped.to_version} - {None}:
        client.set_model_version_tag(
            registry.model_name(workspace), str(version), stamped.tag_key(), stamped.to_json()
        )
    audit.append(workspace, stamped)
    return stamped


def history(workspace: Workspace) -> list[AuditEvent]:
    """Every event kept in the registry, oldest first (each once, though tagged on two versions)."""
    events = {
        (event.when, event.action, event.from_version, event.to_version): event
        for version in registry.list_versions(workspace)
        for event in audit.from_version_tags(version.tags)
    }
    return [events[key] for key in sorted(events)]


def move_champion(
    workspace: Workspace,
    version: str,
    expected: str | None,
    event: AuditEvent,
) -> AuditEvent:
    """Point `champion` at `version` if it still points at `expected`; record the move."""
    current = registry.champion_version(workspace)
    if current != expected:
        raise ChampionMovedError(
            f"the champion moved from {_name(expected)} to {_name(current)} since it was read; "
            f"nothing changed: run again to judge against {_name(current)}"
        )
    if current == version:
        raise PromotionRefusedError(f"version {version} is already the champion: nothing to do")
    registry.set_alias(workspace, registry.CHAMPION, version)
    after = registry.champion_version(workspace)
    if after != version:
        raise ChampionMovedError(
            f"another process moved the champion to {_name(after)} while version {version} was "
            "being promoted: check `audit` and promote again if still wanted"
        )
    return record(workspace, event)


def stage(workspace: Workspace, version: str, why: str) -> AuditEvent:
    """Give a version that passed the gate the `staging` alias, for a person to approve."""
    previous = registry.alias_version(workspace, registry.STAGING)
    registry.set_alias(workspace, registry.STAGING, version)
    return record(workspace, AuditEvent("stage", "gate", previous, version, why))


def promote_by_gate(
    workspace: Workspace, version: str, scored_champion: str | None, why: str
) -> AuditEvent:
    """Make a version that passed the gate champion (where no approval is required).

    Refused if the champion is no longer the one the version was scored against.
    """
    event = AuditEvent("promote", "gate", scored_champion, version, why)
    return move_champion(workspace, version, scored_champion, event)


def record_rejection(
    workspace: Workspace, version: str, champion: str | None, why: str
) -> AuditEvent:
    """Record that the gate kept `champion` instead of `version`."""
    return record(workspace, AuditEvent("reject", "gate", champion, version, why))


def approve(
    workspace: Workspace,
    version: str,
    approver: str,
    reason: str,
    governance: GovernanceSettings,
    override: bool = False,
) -> AuditEvent:
    """A person makes `version` champion; the refusals are one line each.

    A version that failed the gate, has no release evidence or was trained from uncommitted
    code is refused unless `override` (the event records what was overridden). A no-op, a blank
    approver or reason, and, with `distinct_approver`, the user who ran the training are always
    refused.
    """
    if not approver.strip() or not reason.strip():
        raise PromotionRefusedError("an approval needs a named approver and a reason")
    candidate = registry.version_record(workspace, version)
    champion = registry.champion_version(workspace)
    if champion == version:
        raise PromotionRefusedError(f"version {version} is already the champion: nothing to do")
    if governance.distinct_approver and approver == candidate.trained_by:
        raise PromotionRefusedError(
            f"{approver} ran the training of version {version}; governance.distinct_approver "
            "asks for someone else to approve it"
        )
    exceptions = _exceptions(candidate)
    if exceptions and not override:
        raise PromotionRefusedError(
            f"version {version} {'; '.join(exceptions)}: fix that, or promote with --override "
            "to record the exception"
        )
    event = AuditEvent(
        "promote",
        approver,
        champion,
        version,
        reason,
        overridden=exceptions,
        four_eyes=governance.distinct_approver,
    )
    moved = move_champion(workspace, version, champion, event)
    if registry.alias_version(workspace, registry.STAGING) == version:
        registry.delete_alias(workspace, registry.STAGING)  # staged means awaiting approval
    return moved


def _exceptions(candidate: registry.VersionRecord) -> list[str]:
    """What keeps a version from becoming champion without an override."""
    found = []
    gate = candidate.tags.get(tags.GATE, "not judged")
    if not gate.startswith("passed"):
        found.append(f"did not pass the gate ({gate})")
    if tags.EVIDENCE not in candidate.tags:
        found.append("has no release evidence")
    if candidate.tags.get(tags.GIT_DIRTY) == "true":
        found.append("was trained from a tree with uncommitted changes")
    return found


def rollback(workspace: Workspace, who: str, why: str) -> str:
    """Point `champion` back at the version its promotion replaced; return that version.

    The history comes from the registry: it works on a fresh clone whose reports/ is empty.
    A rollback is not itself undone by the next one, and an event from a version to itself
    (recorded by older versions of this project) is skipped.
    """
    current = registry.champion_version(workspace)
    if current is None:
        raise PromotionRefusedError("there is no champion to roll back")
    for event in reversed(history(workspace)):
        promoted_here = event.to_version == current and event.action == "promote"
        if promoted_here and event.from_version not in (None, current):
            previous = str(event.from_version)
            move_champion(
                workspace, previous, current, AuditEvent("rollback", who, current, previous, why)
            )
            return previous
    raise PromotionRefusedError(
        f"champion v{current} replaced no earlier champion: nothing to roll back to"
    )


def _name(version: str | None) -> str:
    return f"v{version}" if version else "none"
