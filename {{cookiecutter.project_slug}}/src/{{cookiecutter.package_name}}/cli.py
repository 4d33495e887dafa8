"""The project's command line: one entry point for every job, with help that teaches."""

from __future__ import annotations

import json
import sys
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
