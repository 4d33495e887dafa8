"""The `data` and `features` commands: the DVC stages, the DVC remote and the Feast store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from {{ cookiecutter.package_name }}.cli.context import load_settings

data_app = typer.Typer(
    help="The raw data (DVC stage `raw`: synthetic or your own file) and the DVC remote."
)
features_app = typer.Typer(help="The feature table (DVC stage `features`) and the Feast store.")


@data_app.command("fetch")
def data_fetch() -> None:
    """Bring DVC's copy of `data.source` up to date (`dvc import-url`, then `dvc update`).

    A no-op for `synthetic` and for a source whose checksum is unchanged; `make data` runs it
    before `dvc repro`.

    Example: {{ cookiecutter.project_slug }} data fetch
    """
    from {{ cookiecutter.package_name }}.data.sources import fetch_source

    typer.echo(fetch_source(load_settings()))


@data_app.command("raw")
def data_raw() -> None:
    """Write the customers, transactions and import report (the DVC stage `raw`).

    From the generator (`data.source: synthetic`) or DVC's copy of your file, read through
    `data.mapping`; a source that breaks the contract writes nothing.

    Example: {{ cookiecutter.project_slug }} data raw
    """
    from {{ cookiecutter.package_name }}.data.sources import write_raw_tables

    report = write_raw_tables(load_settings())
    dropped = ", ".join(f"{rule}: {rows:,}" for rule, rows in report.dropped.items()) or "none"
    typer.echo(
        f"wrote {report.customers:,} customers and {report.rows_kept:,} transactions from "
        f"{report.source} (dropped: {dropped})"
    )


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
    typer.echo(f"wrote {_rows(files.features):,} feature rows to {files.features}")


@features_app.command("apply")
def features_apply() -> None:
    """Run `feast apply`, then fill the online store (backfill the first time, then incremental).

    Example: {{ cookiecutter.project_slug }} features apply
    """
    from {{ cookiecutter.package_name }}.features.store import apply_and_materialize

    done = apply_and_materialize(load_settings())
    typer.echo(f"feast apply done; materialized ({done.mode}) up to {done.end.isoformat()}")


@features_app.command("training-set")
def features_training_set(
    out: Annotated[Path, typer.Option(help="Parquet file to write.")] = Path(
        "artifacts/training_set.parquet"
    ),
) -> None:
    """Write the point-in-time training set the training pipeline uses, as Parquet.

    Example: {{ cookiecutter.project_slug }} features training-set --out artifacts/training_set.parquet
    """
    from {{ cookiecutter.package_name }}.features.retrieval import write_training_set

    rows = write_training_set(load_settings(), out)
    typer.echo(f"wrote {rows:,} training rows (one per labelled transaction) to {out}")


@features_app.command("online")
def features_online(
    customer_ids: Annotated[list[int], typer.Argument(help="Customer ids to look up.")],
) -> None:
    """Print the online feature values of some customers, and which ones are unknown.

    Example: {{ cookiecutter.project_slug }} features online 5 42 999999
    """
    from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures

    result = CustomerFeatures.of(load_settings()).online_features(customer_ids)
    typer.echo(result.values.set_index("customer_id").T.to_string())
    typer.echo(f"not found: {result.missing or 'none'}")


{%- if cookiecutter.online_store == "redis" %}


@features_app.command("redis")
def features_redis(
    action: Annotated[str, typer.Argument(help="start or stop")],
) -> None:
    """Use the configured Redis, or start (and later stop) a redis-server on loopback.

    `make demo` runs `start` first and `stop` last.

    Example: {{ cookiecutter.project_slug }} features redis start
    """
    from {{ cookiecutter.package_name }}.features import local_redis

    if action not in ("start", "stop"):
        raise typer.BadParameter("use start or stop", param_hint="ACTION")
    settings = load_settings()
    said = local_redis.start(settings) if action == "start" else local_redis.stop(settings)
    if said:
        typer.echo(said)
{%- endif %}


def _rows(parquet_file: Path) -> int:
    """Rows of a Parquet file, from its footer (nothing else is read)."""
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(parquet_file).metadata.num_rows)


def register(app: typer.Typer) -> None:
    """Add the `data` and `features` groups to the top-level command line."""
    app.add_typer(data_app, name="data", no_args_is_help=True)
    app.add_typer(features_app, name="features", no_args_is_help=True)
