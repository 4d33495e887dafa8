"""Governance: who is champion (promote, rollback), the registered versions and their evidence."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from {{ cookiecutter.package_name }}.cli.context import load_settings


def promote(
    version: Annotated[
        str, typer.Option(help="Registered version to make champion, or `staging`.")
    ],
    approver: Annotated[str, typer.Option(help="Who approves (recorded in the registry).")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the registry).")],
    override: Annotated[
        bool,
        typer.Option(
            "--override",
            help="Promote despite a failed gate, missing evidence or uncommitted code; recorded.",
        ),
    ] = False,
) -> None:
    """Approve a version: it becomes the champion that serving and batch inference use.

    Refused for a version that failed the gate, has no release evidence or was trained from
    uncommitted code (unless --override, which is recorded), and for a no-op.
    Example: {{ cookiecutter.project_slug }} promote --version staging --approver alice --reason "evidence ok"
    """
    from {{ cookiecutter.package_name }}.governance import evidence
    from {{ cookiecutter.package_name }}.governance.promotion import approve
    from {{ cookiecutter.package_name }}.model.registry import STAGING, alias_version

    settings = load_settings()
    if version == STAGING:
        staged = alias_version(settings, STAGING)
        if staged is None:
            raise RuntimeError("no version is staged: run `make train` first")
        version = staged
    event = approve(settings, version, approver, reason, settings.governance, override)
    evidence.write(settings, version)
    overridden = f"; overridden: {', '.join(event.overridden)}" if event.overridden else ""
    typer.echo(
        f"version {version} is the champion (was {event.from_version or 'none'}), approved by "
        f"{approver}{overridden}"
    )


def rollback(
    approver: Annotated[str, typer.Option(help="Who rolls back (recorded in the registry).")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the registry).")],
) -> None:
    """Point the champion back at the version its last promotion replaced (history from MLflow).

    Example: {{ cookiecutter.project_slug }} rollback --approver alice --reason "alert on v4"
    """
    from {{ cookiecutter.package_name }}.governance import evidence
    from {{ cookiecutter.package_name }}.governance.promotion import rollback as roll_back

    settings = load_settings()
    version = roll_back(settings, approver, reason)
    evidence.write(settings, version)
    typer.echo(f"version {version} is the champion again")


def audit(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Print every stage move (stage, promote, reject, rollback) from the MLflow registry.

    Example: {{ cookiecutter.project_slug }} audit
    """
    from dataclasses import asdict

    from {{ cookiecutter.package_name }}.governance.promotion import history

    events = history(load_settings())
    if as_json:
        typer.echo(json.dumps([asdict(event) for event in events], indent=2))
        return
    for event in events:
        move = f"{event.from_version or '-'} -> {event.to_version or '-'}"
        overridden = f" [overridden: {', '.join(event.overridden)}]" if event.overridden else ""
        four_eyes = " [four eyes]" if event.four_eyes else ""
        typer.echo(
            f"{event.when}  {event.action:<8} {move:<10} {event.who}: {event.why}{overridden}"
            f"{four_eyes}"
        )


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
            info.metrics.get("recall", float("nan")),
        )
        aliases = ",".join(sorted(info.aliases)) or "-"
        typer.echo(f"{info.version:>7}  {aliases:<20} {roc:8.4f} {recall:8.4f}  {info.gate}")


def register(app: typer.Typer) -> None:
    """Add `promote`, `rollback`, `audit`, `evidence` and `models` to the command line."""
    app.command()(promote)
    app.command()(rollback)
    app.command()(audit)
    app.command()(evidence)
    app.command()(models)
