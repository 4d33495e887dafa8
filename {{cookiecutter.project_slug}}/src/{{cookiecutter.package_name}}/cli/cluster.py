"""Where pipelines run: the ZenML stacks, Kubeflow Pipelines and the dashboards."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from {{ cookiecutter.package_name }}.cli.context import load_settings

kfp_app = typer.Typer(help="Kubeflow Pipelines: compile the pipelines to KFP v2 YAML, or submit.")


def stack(
    kind: Annotated[
        str,
        typer.Argument(help="local (embedded, active) or kubeflow (configs/kubeflow/stack.yaml)"),
    ] = "local",
) -> None:
    """Create (or update) a ZenML stack in the project's store (.zenml/); idempotent.

    Example: {{ cookiecutter.project_slug }} stack kubeflow
    """
    settings = load_settings()
    if kind == "local":
        from {{ cookiecutter.package_name }}.orchestration.local_stack import ensure_local_stack

        typer.echo(f"active ZenML stack: {ensure_local_stack(settings)} (config in .zenml/)")
    elif kind == "kubeflow":
        from {{ cookiecutter.package_name }}.orchestration.cluster_stack import (
            cluster_variables,
            ensure_kubeflow_stack,
        )

        name = ensure_kubeflow_stack(settings, cluster_variables(settings))
        typer.echo(f"registered ZenML stack {name}; `make kfp-run` submits to it")
    else:
        raise typer.BadParameter(f"unknown stack {kind!r}: use local or kubeflow")


@kfp_app.command("compile")
def kfp_compile() -> None:
    """Compile the three pipelines to KFP v2 YAML (kubeflow.build_dir); nothing is submitted.

    Uses the cluster stack from .env; with no cluster variable set, a loopback sandbox.
    Example: {{ cookiecutter.package_name | upper }}_KUBEFLOW__GPU=true {{ cookiecutter.project_slug }} kfp compile
    """
    from {{ cookiecutter.package_name }}.orchestration.kubeflow_runs import run_on_kubeflow

    settings = load_settings()
    result = run_on_kubeflow(settings, settings.resolve(settings.kubeflow.build_dir), submit=False)
    for spec in result.specs:
        typer.echo(f"compiled {spec.relative_to(settings.project_root)}")
    typer.echo(
        f"monitoring: a recurring run on cron {settings.monitoring.schedule!r} (UTC), "
        "as monitoring.schedule.json beside the spec"
    )
    typer.echo(f"stack {result.stack}, GPU for train_model: {settings.kubeflow.gpu}")
    if result.sandbox:
        typer.echo(
            "sandbox: no cluster variable is set, so the artifact store was an S3 API on "
            "127.0.0.1 and the endpoints are placeholders; set .env (see .env.example) for "
            "specs a cluster can run"
        )
    typer.echo("submission skipped: this command only compiles (make kfp-run submits)")


@kfp_app.command("image")
def kfp_image(
    cuda: Annotated[
        bool, typer.Option("--cuda", help="The GPU step's CUDA image (configs/kubeflow/gpu.yaml).")
    ] = False,
) -> None:
    """Print the pipeline image the Kubeflow tasks use (configs/kubeflow/training.yaml).

    Example: docker build -f deploy/Dockerfile -t "$({{ cookiecutter.project_slug }} kfp image)" .
    """
    from {{ cookiecutter.package_name }}.orchestration.cluster_stack import cluster_variables, load_config

    settings = load_settings()
    variables = cluster_variables(settings)
    if cuda:
        config = load_config(settings, "gpu", variables)["steps"]["train_model"]
    else:
        config = load_config(settings, "training", variables)
    typer.echo(config["settings"]["docker"]["parent_image"])


@kfp_app.command("pin")
def kfp_pin(
    image: Annotated[str, typer.Argument(help="The image as `kfp image` names it (a tag).")],
    digest: Annotated[str, typer.Argument(help="The digest the registry gave it: sha256:...")],
) -> None:
    """Record the digest a pushed pipeline image got; run configurations then pin it.

    make pipeline-image runs this after `docker push`.
    Example: {{ cookiecutter.project_slug }} kfp pin "$({{ cookiecutter.project_slug }} kfp image)" sha256:4f5e...
    """
    from {{ cookiecutter.package_name }}.orchestration.cluster_stack import record_image_digest

    settings = load_settings()
    path = record_image_digest(settings, image, digest)
    typer.echo(f"{image} pinned to {digest} in {path.relative_to(settings.project_root)}")


@kfp_app.command("run")
def kfp_run(
    score_only: Annotated[
        bool,
        typer.Option(
            "--score-only",
            help="Skip training: score the batch and schedule monitoring with the champion.",
        ),
    ] = False,
) -> None:
    """Train on the cluster, wait for the gate, then score the batch and schedule monitoring.

    Exit 1 when the gate rejects the model: then nothing else is submitted. A staged model
    waits for `promote`; then `kfp run --score-only` submits the rest.

    Example: {{ cookiecutter.project_slug }} kfp run
    """
    from {{ cookiecutter.package_name }}.cli.train import report_gate
    from {{ cookiecutter.package_name }}.orchestration.kubeflow_runs import run_on_kubeflow

    settings = load_settings()
    folder = settings.resolve(settings.kubeflow.build_dir)
    result = run_on_kubeflow(settings, folder, submit=True, train=not score_only)
    if result.training is not None:
        report_gate(result.training)
        if result.training.staged:
            typer.echo(
                "batch_inference and monitoring wait: after `promote`, `kfp run --score-only`"
            )
            return
    typer.echo(
        f"submitted batch_inference on stack {result.stack} (`{{ cookiecutter.project_slug }} kfp predictions` "
        f"fetches its output); monitoring runs on cron {settings.monitoring.schedule!r} (UTC)"
    )


@kfp_app.command("predictions")
def kfp_predictions(
    run: Annotated[
        str | None, typer.Option(help="A batch_inference run name or id (default: the newest).")
    ] = None,
) -> None:
    """Copy a batch-inference run's predictions from the artifact store to artifacts/predictions/.

    Example: {{ cookiecutter.project_slug }} kfp predictions
    """
    from {{ cookiecutter.package_name }}.orchestration.kubeflow_runs import fetch_predictions

    settings = load_settings()
    name, path = fetch_predictions(settings, run)
    typer.echo(f"predictions of run {name} written to {path.relative_to(settings.project_root)}")


def ui(
    dashboard: Annotated[str, typer.Argument(help="mlflow or zenml.")],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
) -> None:
    """Open the MLflow or ZenML dashboard of this project on loopback.

    Example: {{ cookiecutter.project_slug }} ui mlflow --port 5000
    """
    from {{ cookiecutter.package_name }}.orchestration.dashboards import dashboard_command

    command = dashboard_command(load_settings(), dashboard, port)
    os.execv(command[0], command)  # the dashboard takes this process's place (and its signals)


def register(app: typer.Typer) -> None:
    """Add `stack`, the `kfp` group and `ui` to the top-level command line."""
    app.command()(stack)
    app.add_typer(kfp_app, name="kfp", no_args_is_help=True)
    app.command()(ui)
