"""The project's command line: one entry point for every job, with help that teaches."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.governance.environment import environment_report
from {{ cookiecutter.package_name }}.settings import Settings, load_settings


class App(typer.Typer):
    """A Typer app whose failures are one line saying what went wrong (tracebacks with --debug)."""

    debug = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command; turn an uncaught error into one line and exit status 1."""
        try:
            return super().__call__(*args, **kwargs)
        except Exception as error:
            if App.debug:
                raise
            message = f"error: {describe(error)} (rerun with --debug for details)"
            typer.secho(message, err=True, fg="red")
            sys.exit(1)


def describe(error: Exception) -> str:
    """One line for any error; a validation error names each field that failed."""
    if isinstance(error, ValidationError):
        return "invalid settings: " + "; ".join(
            f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}"
            for issue in error.errors()
        )
    return str(error) or type(error).__name__


app = App(
    name="{{ cookiecutter.project_slug }}",
    help="{{ cookiecutter.project_name }}: data, features, training, serving and monitoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks.")] = False,
) -> None:
    """{{ cookiecutter.project_name }}: data, features, training, serving and monitoring."""
    App.debug = debug


data_app = typer.Typer(help="Synthetic data (DVC stage `generate`) and the DVC remote.")
features_app = typer.Typer(help="The feature table (DVC stage `features`) and the Feast store.")
app.add_typer(data_app, name="data", no_args_is_help=True)
app.add_typer(features_app, name="features", no_args_is_help=True)


@app.command()
def settings(
    schema: Annotated[
        bool, typer.Option("--schema", help="Print the JSON schema of params.yaml instead.")
    ] = False,
) -> None:
    """Print the settings in force (params.yaml plus environment overrides).

    Example: {{ cookiecutter.project_slug }} settings --schema > params.schema.json
    """
    if schema:
        typer.echo(json.dumps(Settings.model_json_schema(), indent=2))
        return
    resolved = load_settings()
    typer.echo(yaml.safe_dump(resolved.model_dump(mode="json"), sort_keys=False).rstrip())


@app.command()
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
        typer.echo(f"requirements.lock sha256 {report.lock_sha256}")
        for name, installed in report.stack.items():
            typer.echo(f"  {name:<10} {installed}")
    if report.mismatches:
        raise RuntimeError(
            f"{len(report.mismatches)} packages differ from requirements.lock "
            f"(first: {report.mismatches[0]}); run `make setup`"
        )


@data_app.command("generate")
def data_generate() -> None:
    """Write the synthetic customers and transactions (the DVC stage `generate`).

    Example: {{ cookiecutter.project_slug }} data generate
    """
    from {{ cookiecutter.package_name }}.data.generate import write_dataset

    files = write_dataset(load_settings())
    typer.echo(f"wrote {files.customers} and {files.transactions}")


@data_app.command("remote")
def data_remote() -> None:
    """Point DVC's default remote at the configured storage, with download verification.

    Example: {{ cookiecutter.project_slug }} data remote && dvc push
    """
    from {{ cookiecutter.package_name }}.data.versioning import configure_remote

    typer.echo(f"DVC remote 'storage' -> {configure_remote(load_settings())} (verify on)")


@features_app.command("build")
def features_build() -> None:
    """Check the raw data against its contract and build the feature table (DVC stage `features`).

    Example: {{ cookiecutter.project_slug }} features build
    """
    from {{ cookiecutter.package_name }}.features.build import write_feature_table

    files = write_feature_table(load_settings())
    typer.echo(f"wrote {files.features}")


@features_app.command("apply")
def features_apply() -> None:
    """Run `feast apply`, then fill the online store (backfill the first time, then incremental).

    Example: {{ cookiecutter.project_slug }} features apply
    """
    import pandas as pd

    from {{ cookiecutter.package_name }}.data.files import DataFiles
    from {{ cookiecutter.package_name }}.features.store import (
        apply_definitions,
        materialize,
        open_store,
    )

    resolved = load_settings()
    apply_definitions(resolved)
    table = pd.read_parquet(DataFiles.of(resolved).features)
    done = materialize(open_store(resolved), table)
    typer.echo(f"feast apply done; materialized ({done.mode}) up to {done.end.isoformat()}")


@features_app.command("online")
def features_online(
    customer_ids: Annotated[list[int], typer.Argument(help="Customer ids to look up.")],
) -> None:
    """Print the online feature values of some customers, and which ones are unknown.

    Example: {{ cookiecutter.project_slug }} features online 5 42 999999
    """
    from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures

    result = CustomerFeatures(load_settings()).online_features(customer_ids)
    typer.echo(result.values.set_index("customer_id").T.to_string())
    typer.echo(f"not found: {result.missing or 'none'}")


@app.command()
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


kfp_app = typer.Typer(help="Kubeflow Pipelines: compile the pipelines to KFP v2 YAML, or submit.")
app.add_typer(kfp_app, name="kfp", no_args_is_help=True)


@kfp_app.command("compile")
def kfp_compile() -> None:
    """Compile both pipelines to KFP v2 YAML (kubeflow.build_dir); nothing is submitted.

    Uses the cluster stack from .env; with no cluster variable set, a loopback sandbox.
    Example: {{ cookiecutter.package_name | upper }}_KUBEFLOW__GPU=true {{ cookiecutter.project_slug }} kfp compile
    """
    from {{ cookiecutter.package_name }}.orchestration.kubeflow_runs import run_on_kubeflow

    settings = load_settings()
    result = run_on_kubeflow(settings, settings.resolve(settings.kubeflow.build_dir), submit=False)
    for spec in result.specs:
        typer.echo(f"compiled {spec.relative_to(settings.project_root)}")
    typer.echo(f"stack {result.stack}, GPU for train_model: {settings.kubeflow.gpu}")
    if result.sandbox:
        typer.echo(
            "sandbox: no cluster variable is set, so the artifact store was an S3 API on "
            "127.0.0.1 and the endpoints are placeholders; set .env (see .env.example) for "
            "specs a cluster can run"
        )
    typer.echo("submission skipped: this command only compiles (make kfp-run submits)")


@kfp_app.command("image")
def kfp_image() -> None:
    """Print the pipeline image the Kubeflow tasks use (configs/kubeflow/training.yaml).

    Example: docker build -f deploy/Dockerfile -t "$({{ cookiecutter.project_slug }} kfp image)" .
    """
    from {{ cookiecutter.package_name }}.orchestration.cluster_stack import cluster_variables, load_config

    settings = load_settings()
    config = load_config(settings, "training", cluster_variables(settings))
    typer.echo(config["settings"]["docker"]["parent_image"])


@kfp_app.command("run")
def kfp_run() -> None:
    """Submit both pipelines to the Kubeflow Pipelines cluster configured in .env.

    Example: {{ cookiecutter.project_slug }} kfp run
    """
    from {{ cookiecutter.package_name }}.orchestration.kubeflow_runs import run_on_kubeflow

    settings = load_settings()
    result = run_on_kubeflow(settings, settings.resolve(settings.kubeflow.build_dir), submit=True)
    typer.echo(f"submitted training and batch_inference on stack {result.stack}")


@app.command()
def train() -> None:
    """Run the training pipeline; exit 1 when the new model fails the promotion gate.

    Example: {{ cookiecutter.project_slug }} train
    """
    from {{ cookiecutter.package_name }}.pipelines.run import run_training

    outcome = run_training(load_settings())
    figures = ", ".join(
        f"{name} {outcome.metrics[name]:.4f}" for name in ("roc_auc", "pr_auc", "recall_at_fpr")
    )
    typer.echo(f"registered version {outcome.version} ({figures})")
    if not outcome.passed:
        raise RuntimeError(
            f"gate failed for version {outcome.version}: {'; '.join(outcome.reasons)}; "
            f"champion stays {outcome.champion or 'unset'}"
        )
    typer.echo(f"gate passed: version {outcome.version} is the champion")


@app.command()
def infer(
    path: Annotated[str, typer.Option(help="Parquet file of transactions to score.")] = (
        "data/raw/transactions.parquet"
    ),
    newest: Annotated[int, typer.Option(help="Score only the newest N rows (0: all).")] = 1000,
) -> None:
    """Score a batch of transactions with the champion (the batch-inference pipeline).

    Example: {{ cookiecutter.project_slug }} infer --newest 500
    """
    from {{ cookiecutter.package_name }}.pipelines.run import run_batch_inference

    typer.echo(f"predictions written to {run_batch_inference(load_settings(), path, newest)}")


@app.command()
def promote(
    version: Annotated[str, typer.Option(help="Registered version to make champion.")],
    approver: Annotated[str, typer.Option(help="Who approves (goes to the audit log).")],
    reason: Annotated[str, typer.Option(help="Why (goes to the audit log).")] = "manual approval",
) -> None:
    """Make a version champion by hand, bypassing the gate; the audit log records who and why.

    Example: {{ cookiecutter.project_slug }} promote --version 3 --approver alice --reason "reviewed"
    """
    from {{ cookiecutter.package_name }}.governance import evidence
    from {{ cookiecutter.package_name }}.model.registry import set_champion

    settings = load_settings()
    set_champion(settings, version, "promote", approver, reason)
    evidence.write(settings, version)
    typer.echo(f"version {version} is the champion (approved by {approver})")


@app.command()
def rollback(
    approver: Annotated[str, typer.Option(help="Who rolls back (goes to the audit log).")],
    reason: Annotated[str, typer.Option(help="Why (goes to the audit log).")] = "rollback",
) -> None:
    """Point the champion back at the version it replaced.

    Example: {{ cookiecutter.project_slug }} rollback --approver alice --reason "alert on v4"
    """
    from {{ cookiecutter.package_name }}.governance import evidence
    from {{ cookiecutter.package_name }}.model.registry import rollback as roll_back

    settings = load_settings()
    version = roll_back(settings, approver, reason)
    evidence.write(settings, version)
    typer.echo(f"version {version} is the champion again")


@app.command()
def monitor(
    source: Annotated[
        str, typer.Option(help="log: the serving prediction log; batch: score a batch file.")
    ] = "batch",
    path: Annotated[str, typer.Option(help="Parquet file of transactions (--source batch).")] = (
        "data/raw/transactions.parquet"
    ),
    newest: Annotated[int, typer.Option(help="Use only the newest N rows (0: all).")] = 2000,
) -> None:
    """Check the champion for drift; on drift, retrain (or, with auto_retrain off, exit 3).

    Example: {{ cookiecutter.project_slug }} monitor --source log
    """
    from {{ cookiecutter.package_name }}.pipelines.run import run_monitoring

    settings = load_settings()
    outcome = run_monitoring(settings, source, path, newest)
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
        typer.secho(
            f"auto_retrain is off: retraining request written to {outcome.request}", err=True
        )
        sys.exit(3)
    verdict = (
        "is the champion"
        if retrained.passed
        else "failed the gate: " + "; ".join(retrained.reasons)
    )
    typer.echo(f"retrained: version {retrained.version} {verdict}")


@app.command()
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
    from {{ cookiecutter.package_name }}.model.registry import champion_version

    settings = load_settings()
    if version is None and lineage is None:
        version = champion_version(settings)
        if version is None:
            raise RuntimeError("no champion model yet: run `make train` first")
    page = locate(settings, version=version, lineage_id=lineage)
    typer.echo(f"page: {page}")
    typer.echo(f"json: {page.with_suffix('.json')}")


@app.command()
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


@app.command()
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


@app.command()
def serve(
    port: Annotated[int, typer.Option(envvar="PORT", help="Port on 127.0.0.1.")] = 3000,
) -> None:
    """Serve /predict and /predict_batch with the imported champion on loopback.

    Example: {{ cookiecutter.project_slug }} serve --port 3000
    """
    from {{ cookiecutter.package_name }}.serving.bento import use_project_bentoml

    settings = load_settings()
    use_project_bentoml(settings)
    service = "{{ cookiecutter.package_name }}.serving.service:FraudDetector"
    bentoml = str(Path(sys.executable).parent / "bentoml")
    command = [bentoml, "serve", service, "--host", "127.0.0.1", "--port", str(port)]
    os.chdir(settings.project_root)
    os.execv(command[0], command)  # the server takes this process's place (and its signals)


@app.command()
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
    import urllib.error
    import urllib.request

    from {{ cookiecutter.package_name }}.serving.readiness import wait_until_ready

    settings = load_settings()
    if wait:
        wait_until_ready(f"http://127.0.0.1:{port}/readyz", wait)
    call = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict",
        data=request.read_bytes(),
        headers={"Content-Type": "application/json"},
    )
    if settings.serving.api_key is not None:
        call.add_header("X-API-Key", settings.serving.api_key.get_secret_value())
    try:
        with urllib.request.urlopen(call, timeout=30) as response:
            typer.echo(json.dumps(json.load(response), indent=2))
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"the service answered {error.code}: {error.read().decode()}") from None
    except urllib.error.URLError as error:
        raise RuntimeError(
            f"no service on port {port} ({error.reason}): run `make serve`"
        ) from None


@app.command("bento-export")
def bento_export(
    folder: Annotated[Path, typer.Option(help="Where the archive goes.")] = Path("build/bento"),
) -> None:
    """Write the newest Bento, its model included, as a `.bento` archive.

    Example: {{ cookiecutter.project_slug }} bento-export --folder build/bento
    """
    from {{ cookiecutter.package_name }}.serving.bento import export_bento, use_project_bentoml

    settings = load_settings()
    use_project_bentoml(settings)
    import bentoml

    bentos = sorted(bentoml.list(settings.serving.model_name), key=lambda b: b.info.creation_time)
    if not bentos:
        raise RuntimeError("no Bento yet: run `make bento` first")
    path = export_bento(settings, str(bentos[-1].tag), settings.resolve(folder))
    typer.echo(f"exported {bentos[-1].tag} to {path}")


@app.command()
def ui(
    dashboard: Annotated[str, typer.Argument(help="mlflow or zenml.")],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
) -> None:
    """Open the MLflow or ZenML dashboard of this project on loopback.

    Example: {{ cookiecutter.project_slug }} ui mlflow --port 5000
    """
    from {{ cookiecutter.package_name }}.orchestration.local_stack import use_project_zenml

    resolved = load_settings()
    binaries = Path(sys.executable).parent
    if dashboard == "mlflow":
        command = [
            str(binaries / "mlflow"),
            "ui",
            "--backend-store-uri",
            resolved.tracking.resolved_uri(resolved.project_root),
            "--default-artifact-root",
            resolved.resolve(resolved.tracking.artifact_root).as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ]
    elif dashboard == "zenml":
        use_project_zenml(resolved)
        command = [str(binaries / "zenml"), "login", "--local", "--port", str(port), "--blocking"]
    else:
        raise ValueError(f"unknown dashboard {dashboard!r}: use mlflow or zenml")
    os.execv(command[0], command)  # the dashboard takes this process's place (and its signals)
