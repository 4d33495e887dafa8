"""Serving: build the Bento, run the service on loopback, call it, export the Bento."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from {{ cookiecutter.package_name }}.settings import load_settings


def bento(
    gpu: Annotated[
        bool, typer.Option(help="Build the CUDA image variant (bentofile-gpu.yaml).")
    ] = False,
) -> None:
    """Import the MLflow champion into BentoML's store and build the Bento around it.

    Example: {{ cookiecutter.project_slug }} bento --gpu
    """
    from {{ cookiecutter.package_name }}.serving.bento import build_bento, import_champion

    settings = load_settings()
    imported = import_champion(settings)
    typer.echo(f"imported MLflow version {imported.version} as BentoML model {imported.tag}")
    typer.echo(f"built Bento {build_bento(settings, imported, gpu=gpu)}")


def serve(
    port: Annotated[int, typer.Option(envvar="PORT", help="Port on 127.0.0.1.")] = 3000,
) -> None:
    """Serve /predict and /predict_batch with the imported champion on loopback.

    Example: {{ cookiecutter.project_slug }} serve --port 3000
    """
    from {{ cookiecutter.package_name }}.serving.bento import serve_command

    settings = load_settings()
    command = serve_command(settings, port)
    os.chdir(settings.project_root)
    os.execv(command[0], command)  # the server takes this process's place (and its signals)


def send(
    request: Annotated[Path, typer.Argument(help="JSON file with one transaction.")],
    port: Annotated[int, typer.Option(envvar="PORT", help="Port of the service.")] = 3000,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for /readyz first (a service just started).")
    ] = 0,
) -> None:
    """Send a request to the running service (with the API key, if one is set) and print the answer.

    Example: {{ cookiecutter.project_slug }} send examples/predict_request.json --wait 60
    """
    from {{ cookiecutter.package_name }}.serving.client import request_prediction

    api_key = load_settings().serving.api_key
    answer = request_prediction(request.read_bytes(), port=port, api_key=api_key, wait_s=wait)
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


def register(app: typer.Typer) -> None:
    """Add `bento`, `serve`, `send` and `bento-export` to the top-level command line."""
    app.command()(bento)
    app.command()(serve)
    app.command()(send)
    app.command("bento-export")(bento_export)
