"""Commands about the project itself: the settings in force and the pinned environment."""

from __future__ import annotations

import json
from typing import Annotated

import typer
import yaml

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.cli.context import load_settings
from {{ cookiecutter.package_name }}.governance.environment import environment_report


def settings(
    schema: Annotated[
        bool, typer.Option("--schema", help="Print the JSON schema of params.yaml instead.")
    ] = False,
) -> None:
    """Print the settings in force (params.yaml plus environment overrides).

    Example: {{ cookiecutter.project_slug }} settings --schema > params.schema.json
    """
    if schema:
        from {{ cookiecutter.package_name }}.settings import Settings

        typer.echo(json.dumps(Settings.model_json_schema(), indent=2))
        return
    resolved = load_settings()
    typer.echo(yaml.safe_dump(resolved.model_dump(mode="json"), sort_keys=False).rstrip())


def info(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the version, interpreter, platform and pinned stack; fail if it drifts from the lock.

    Example: {{ cookiecutter.project_slug }} info --json
    """
    report = environment_report(load_settings().project_root)
    if as_json:
        typer.echo(json.dumps({"version": __version__, **report.__dict__}, indent=2))
    else:
        typer.echo(f"{{ cookiecutter.project_slug }} {__version__}")
        typer.echo(f"python {report.python} on {report.platform}")
        typer.echo(f"{report.lock_file} sha256 {report.lock_sha256}")
        for name, installed in report.stack.items():
            typer.echo(f"  {name:<10} {installed}")
    if report.mismatches:
        raise RuntimeError(
            f"{len(report.mismatches)} packages differ from {report.lock_file} "
            f"(first: {report.mismatches[0]}); run `make setup`"
        )


def register(app: typer.Typer) -> None:
    """Add `settings` and `info` to the top-level command line."""
    app.command()(settings)
    app.command()(info)
