"""Serving: build the Bento, run the service on loopback, call it, export the Bento."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from {{ cookiecutter.package_name }}.cli.context import load_settings


def bento(
    gpu: Annotated[
        bool, typer.Option(help="Build the CUDA image variant (bentofile-gpu.yaml).")
    ] = False,
) -> None:
    """Import the MLflow champion into BentoML's store and build the Bento around it.

    A staging version goes in too when `serving.staging_mode` is shadow or canary.

    Example: {{ cookiecutter.project_slug }} bento --gpu
    """
    from {{ cookiecutter.package_name }}.serving.bento import build_bento, import_champion, import_staging

    settings = load_settings()
    imported = import_champion(settings)
    typer.echo(f"imported MLflow version {imported.version} as BentoML model {imported.tag}")
    staging = import_staging(settings) if settings.serving.staging_mode != "off" else None
    if staging is not None:
        typer.echo(f"imported staging version {staging.version} as BentoML model {staging.tag}")
    typer.echo(f"built Bento {build_bento(settings, imported, gpu=gpu, staging=staging)}")


def serve(
    port: Annotated[int, typer.Option(envvar="PORT", help="Port on 127.0.0.1.")] = 3000,
) -> None:
    """Serve /predict and /predict_batch with the imported champion on loopback.

    Example: {{ cookiecutter.project_slug }} serve --port 3000
    """
    from {{ cookiecutter.package_name }}.serving.bento import serve_command

    settings = load_settings()
    try:
        settings.serving.key()
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    command = serve_command(settings, port)
    os.chdir(settings.project_root)
    os.execv(command[0], command)  # the server takes this process's place (and its signals)


def send(
    request: Annotated[Path, typer.Argument(help="JSON file with one transaction.")],
    port: Annotated[int, typer.Option(envvar="PORT", help="Port of the service.")] = 3000,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for /readyz first (a service just started).")
    ] = 0,
    explain: Annotated[
        bool, typer.Option("--explain", help="Ask for the reasons: the largest contributions.")
    ] = False,
) -> None:
    """Send a request to the running service (with the API key, if one is set) and print the answer.

    Example: {{ cookiecutter.project_slug }} send examples/predict_request.json --explain
    """
    from {{ cookiecutter.package_name }}.serving.client import request_prediction

    api_key = load_settings().serving.api_key
    answer = request_prediction(
        request.read_bytes(), port=port, api_key=api_key, wait_s=wait, explain=explain
    )
    typer.echo(json.dumps(answer, indent=2))


def bento_export(
    folder: Annotated[Path, typer.Option(help="Where the archive goes.")] = Path("build/bento"),
) -> None:
    """Write the newest Bento, its model included, as a `.bento` archive.

    Example: {{ cookiecutter.project_slug }} bento-export --folder build/bento
    """
    from {{ cookiecutter.package_name }}.serving.bento import export_bento, newest_bento

    settings = load_settings()
    tag = newest_bento(settings)
    path = export_bento(settings, tag, settings.resolve(folder))
    typer.echo(f"exported {tag} to {path}")


def compare(
    labels: Annotated[
        Path | None,
        typer.Option(help="Parquet or CSV with transaction_id and is_fraud of served requests."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Compare the staging model with the champion on the traffic in the prediction log.

    Shadow mode: agreement and score difference on the same requests; canary: each model's
    share and flag rate; with --labels, both models' precision, recall and false-positive rate.
    The result joins the staging version's release evidence.

    Example: {{ cookiecutter.project_slug }} compare --labels data/served_labels.parquet
    """
    import pandas as pd

    from {{ cookiecutter.package_name }}.governance.evidence import record_serving_comparison
    from {{ cookiecutter.package_name }}.serving.compare import compare as compare_served
    from {{ cookiecutter.package_name }}.serving.compare import staging_version

    settings = load_settings()
    known = None
    if labels is not None:
        known = pd.read_csv(labels) if labels.suffix == ".csv" else pd.read_parquet(labels)
    try:
        result = compare_served(settings.resolve(settings.serving.prediction_log), known)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    page = record_serving_comparison(settings, staging_version(result), result)
    typer.echo(json.dumps(result, indent=2) if as_json else _comparison_lines(result))
    if not as_json:
        typer.echo(f"evidence: {page}")


def _comparison_lines(result: dict[str, object]) -> str:
    lines = [f"{result['requests']} logged requests"]
    for mode in ("shadow", "canary"):
        if mode in result:
            lines.append(f"{mode}: {json.dumps(result[mode])}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add `bento`, `serve`, `send`, `compare` and `bento-export` to the command line."""
    app.command()(bento)
    app.command()(serve)
    app.command()(send)
    app.command()(compare)
    app.command("bento-export")(bento_export)
