"""Governance: who is champion (promote, rollback), the registered versions and their evidence."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from {{ cookiecutter.package_name }}.settings import load_settings


def promote(
    version: Annotated[str, typer.Option(help="Registered version to make champion.")],
    approver: Annotated[str, typer.Option(help="Who approves (goes to the audit log).")],
    reason: Annotated[str, typer.Option(help="Why (goes to the audit log).")] = "manual approval",
) -> None:
    """Make a version champion by hand, bypassing the gate; the audit log records who and why.

    Example: {{ cookiecutter.project_slug }} promote --version 3 --approver alice --reason "reviewed"
    """
    from {{ cookiecutter.package_name }}.governance import evidence
    from {{ cookiecutter.package_name }}.governance.promotion import set_champion

    settings = load_settings()
    set_champion(settings, version, "promote", approver, reason)
    evidence.write(settings, version)
    typer.echo(f"version {version} is the champion (approved by {approver})")


def rollback(
    approver: Annotated[str, typer.Option(help="Who rolls back (goes to the audit log).")],
    reason: Annotated[str, typer.Option(help="Why (goes to the audit log).")] = "rollback",
) -> None:
    """Point the champion back at the version it replaced.

    Example: {{ cookiecutter.project_slug }} rollback --approver alice --reason "alert on v4"
    """
    from {{ cookiecutter.package_name }}.governance import evidence
    from {{ cookiecutter.package_name }}.governance.promotion import rollback as roll_back

    settings = load_settings()
    version = roll_back(settings, approver, reason)
    evidence.write(settings, version)
    typer.echo(f"version {version} is the champion again")


def evidence(
    version: Annotated[str | None, typer.Option(help="Registered model version.")] = None,
    lineage: Annotated[
        str | None, typer.Option(help="A lineage_id returned by the service.")
    ] = None,
) -> None:
    """Print where a model version's release evidence is (default: the champion's).

    Example: {{ cookiecutter.project_slug }} evidence --version 3
    """
    from {{ cookiecutter.package_name }}.governance.evidence import locate
    from {{ cookiecutter.package_name }}.model.registry import require_champion

    settings = load_settings()
    if version is None and lineage is None:
        version = require_champion(settings)
    page = locate(settings, version=version, lineage_id=lineage)
    typer.echo(f"page: {page}")
    typer.echo(f"json: {page.with_suffix('.json')}")


def models(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List every registered version with its aliases, metrics and gate result.

    Example: {{ cookiecutter.project_slug }} models --json
    """
    from dataclasses import asdict

    from {{ cookiecutter.package_name }}.model.registry import list_versions

    versions = list_versions(load_settings())
    if as_json:
        typer.echo(json.dumps([asdict(version) for version in versions], indent=2))
        return
    typer.echo(f"{'version':>7}  {'aliases':<20} {'roc_auc':>8} {'recall':>8}  gate")
    for info in versions:
        roc, recall = (
            info.metrics.get("roc_auc", float("nan")),
            info.metrics.get("recall_at_fpr", float("nan")),
        )
        aliases = ",".join(sorted(info.aliases)) or "-"
        typer.echo(f"{info.version:>7}  {aliases:<20} {roc:8.4f} {recall:8.4f}  {info.gate}")


def register(app: typer.Typer) -> None:
    """Add `promote`, `rollback`, `evidence` and `models` to the top-level command line."""
    app.command()(promote)
    app.command()(rollback)
    app.command()(evidence)
    app.command()(models)
