"""The pipeline runs: training, batch inference and drift monitoring on the active stack."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from {{ cookiecutter.package_name }}.cli.context import load_settings

if TYPE_CHECKING:
    from {{ cookiecutter.package_name }}.orchestration.local_runs import TrainingOutcome


def train(
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="SECTION.KEY=VALUE",
            help="Change a setting for this run only (repeatable); recorded in the run.",
        ),
    ] = None,
) -> None:
    """Run the training pipeline; exit 1 when the new model fails the promotion gate.

    Example: {{ cookiecutter.project_slug }} train --set gate.min_roc_auc=0.9
    """
    from {{ cookiecutter.package_name }}.orchestration.local_runs import run_training

    report_gate(run_training(load_settings(), overrides=overrides or []))


def report_gate(outcome: TrainingOutcome) -> None:
    """Print the registered version and its figures; raise when the gate rejected it."""
    figures = ", ".join(
        f"{name} {outcome.metrics[name]:.4f}"
        for name in ("roc_auc", "pr_auc", "precision", "recall")
    )
    typer.echo(f"registered version {outcome.version} ({figures})")
    if not outcome.passed:
        raise RuntimeError(
            f"gate failed for version {outcome.version}: {'; '.join(outcome.reasons)}; "
            f"champion stays {outcome.champion or 'unset'}"
        )
    if outcome.staged:
        typer.echo(
            f"gate passed: version {outcome.version} is staged for approval (champion stays "
            f"{outcome.champion or 'unset'}); to approve: {{ cookiecutter.project_slug }} promote --version "
            f"{outcome.version} --approver NAME --reason TEXT"
        )
        return
    typer.echo(f"gate passed: version {outcome.version} is the champion")


def infer(
    path: Annotated[
        str | None,
        typer.Option(help="Parquet file of transactions to score [default: the raw transactions]."),
    ] = None,
    newest: Annotated[int, typer.Option(help="Score only the newest N rows (0: all).")] = 1000,
) -> None:
    """Score a batch of transactions with the champion (the batch-inference pipeline).

    Example: {{ cookiecutter.project_slug }} infer --newest 500
    """
    from {{ cookiecutter.package_name }}.data.files import RAW_TRANSACTIONS
    from {{ cookiecutter.package_name }}.orchestration.local_runs import run_batch_inference

    written = run_batch_inference(load_settings(), path or RAW_TRANSACTIONS, newest)
    typer.echo(f"predictions written to {written}")


def monitor(
    source: Annotated[
        str, typer.Option(help="log: the serving prediction log; batch: score a batch file.")
    ] = "batch",
    path: Annotated[
        str | None,
        typer.Option(help="Parquet file of transactions (--source batch) [default: the raw ones]."),
    ] = None,
    newest: Annotated[int, typer.Option(help="Use only the newest N rows (0: all).")] = 2000,
) -> None:
    """Check the champion for drift; on drift, retrain, or exit 3 with a retraining request.

    A request instead of a run: auto_retrain is off, or no labelled data is newer than the
    champion's (retraining on the same labels would learn the same model).

    Example: {{ cookiecutter.project_slug }} monitor --source log
    """
    from {{ cookiecutter.package_name }}.data.files import RAW_TRANSACTIONS
    from {{ cookiecutter.package_name }}.orchestration.local_runs import run_monitoring

    settings = load_settings()
    outcome = run_monitoring(settings, source, path or RAW_TRANSACTIONS, newest)
    summary = outcome.summary
    typer.echo(
        f"model version {summary['model_version']}: drift share {summary['drift_share']:.2f}, "
        f"score drift {summary['score_drift']:.3f}; "
        f"drifted: {', '.join(summary['drifted_features']) or 'none'}"
    )
    typer.echo(f"report: {summary['report']}")
    if not summary["retrain"]:
        typer.echo("no retraining needed")
        return
    typer.echo("retraining needed: " + "; ".join(summary["reasons"]))
    retrained = outcome.retraining
    if retrained is None:
        typer.secho(f"retraining not started: request written to {outcome.request}", err=True)
        sys.exit(3)
    if not retrained.passed:
        verdict = "failed the gate: " + "; ".join(retrained.reasons)
    elif retrained.staged:
        verdict = "is staged for approval (promote --version staging)"
    else:
        verdict = "is the champion"
    typer.echo(f"retrained: version {retrained.version} {verdict}")


def register(app: typer.Typer) -> None:
    """Add `train`, `infer` and `monitor` to the top-level command line."""
    app.command()(train)
    app.command()(infer)
    app.command()(monitor)
