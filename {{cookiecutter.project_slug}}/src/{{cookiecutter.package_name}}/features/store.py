"""Open the Feast store, apply the definitions and keep the online store filled.

Materialisation works on a fresh checkout and after the online store was wiped: the first run, or
a run that finds the online store empty, backfills the whole table with `materialize(start, end)`;
later runs are incremental. (`materialize_incremental` alone would start at now - TTL and load
nothing from a table whose rows are older.)
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pandas as pd

from {{ cookiecutter.package_name }}.data.files import DataFiles
from {{ cookiecutter.package_name }}.data.versioning import pull_missing
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, Workspace

if TYPE_CHECKING:
    from feast import FeatureStore

REDIS_VARIABLE = f"{ENV_PREFIX}FEAST__REDIS_CONNECTION_STRING"
MARKER_CUSTOMER = 0  # written by every materialisation; see write_marker


def feast_environment(settings: Workspace) -> dict[str, str]:
    """The variables feature_store.yaml reads, taken from the settings (params.yaml, .env, env)."""
    return {REDIS_VARIABLE: settings.feast.redis_connection_string}


def feature_repo(settings: Workspace) -> Path:
    """The Feast repository, with the folder its registry and SQLite store live in created."""
    (settings.resolve(settings.paths.data_dir) / "feast").mkdir(parents=True, exist_ok=True)
    return settings.resolve(settings.feast.repo_path)


def import_feast() -> ModuleType:
    """Feast, imported without typeguard instrumenting its definition classes.

    Feast decorates its classes with typeguard's `@typechecked`, which re-parses and recompiles
    each module as it is imported: 3.5 of the 5 s that `import feast` takes on 2 cores. Those
    checks guard hand-written feature definitions, and `feast apply` (its own process) keeps
    them; the processes that only read the registry (training, scoring, serving) skip them, as
    typeguard itself does in production (`python -O`). Imported once per process; typeguard is
    left as it was.
    """
    if "feast" in sys.modules:
        return sys.modules["feast"]
    import typeguard

    checked = typeguard.typechecked
    typeguard.typechecked = _unchecked
    try:
        return importlib.import_module("feast")
    finally:
        typeguard.typechecked = checked


def _unchecked(target: Any = None, **_options: Any) -> Any:
    """`@typechecked` and `@typechecked(...)` that return what they decorate."""
    return target if target is not None else _identity


def _identity(target: Callable[..., Any]) -> Callable[..., Any]:
    return target


def open_store(settings: Workspace) -> FeatureStore:
    """The project's FeatureStore, configured from feature_repo/feature_store.yaml."""
    feast = import_feast()
    os.environ.update(feast_environment(settings))
    store: FeatureStore = feast.FeatureStore(repo_path=str(feature_repo(settings)))
{%- if cookiecutter.offline_store == "spark" %}
    from {{ cookiecutter.package_name }}.features.spark_engine import configure_store

    configure_store(store, settings.feast.spark)
{%- endif %}
    return store


def open_offline_store(settings: Workspace) -> FeatureStore:
    """The store ready for point-in-time joins, also in a fresh container that has only the code.

    The feature table comes from the DVC remote and the registry from `feast apply` when missing.
    """
    import_feast()
    from feast.errors import FeatureServiceNotFoundException
{%- if cookiecutter.offline_store == "spark" %}

    from {{ cookiecutter.package_name }}.features.spark_engine import check_master

    check_master(settings.feast.spark.master)
{%- endif %}

    pull_missing(settings, DataFiles.of(settings).features)
    store = open_store(settings)
    try:
        store.get_feature_service(settings.feast.feature_service)
    except FeatureServiceNotFoundException:
        apply_definitions(settings)
        store = open_store(settings)
    return store


def apply_definitions(settings: Workspace) -> None:
    """Run `feast apply` on the feature repository, exactly as a user would."""
    feast = Path(sys.executable).parent / "feast"
    result = subprocess.run(
        [str(feast), "apply"],
        cwd=feature_repo(settings),
        env={**os.environ, **feast_environment(settings)},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"feast apply failed: {result.stderr.strip().splitlines()[-1]}")


@dataclass(frozen=True)
class Materialization:
    """What one materialisation did."""

    mode: str
    start: datetime | None
    end: datetime


def materialize(store: FeatureStore, feature_table: pd.DataFrame) -> Materialization:
    """Bring the online store up to the newest row of the feature table.

    The online tables are (re)created first, so a deleted SQLite file or a flushed Redis is
    rebuilt; an online store that misses a known customer is backfilled from the start.
    """
    _ensure_online_tables(store)
    end = feature_table["event_timestamp"].max().to_pydatetime()
    views = store.list_feature_views()
    materialized = all(view.materialization_intervals for view in views)
    if materialized and not _online_store_is_empty(store, feature_table):
        store.materialize_incremental(end_date=end)
        write_marker(store, feature_table, end)
        return Materialization(mode="incremental", start=None, end=end)
    start = feature_table["event_timestamp"].min().to_pydatetime()
    store.materialize(start_date=start, end_date=end)
    write_marker(store, feature_table, end)
    return Materialization(mode="backfill", start=start, end=end)


def write_marker(store: FeatureStore, feature_table: pd.DataFrame, end: datetime) -> None:
    """Store the reserved customer MARKER_CUSTOMER, stamped with the materialisation's end.

    The service's readiness check looks it up: a store that lost its data (a Redis restarted
    empty) answers without it and the service goes unready instead of scoring every customer
    as unknown. Real customer ids start at 1, so no request can ask for it.
    """
    newest = feature_table.sort_values("event_timestamp").tail(1)
    stamp = pd.Timestamp(end)
    marker = newest.assign(customer_id=MARKER_CUSTOMER, event_timestamp=stamp, created=stamp)
    for view in store.list_feature_views():
        columns = ["customer_id", "event_timestamp", "created", *(f.name for f in view.features)]
        store.write_to_online_store(view.name, marker[columns].reset_index(drop=True))


def apply_and_materialize(settings: Workspace) -> Materialization:
    """Register the definitions, then fill the online store from the feature table on disk.

    This is the whole `features apply` job, so a test or a script can run it without the CLI.
    """
{%- if cookiecutter.offline_store == "spark" %}
    from {{ cookiecutter.package_name }}.features.spark_engine import check_master

    check_master(settings.feast.spark.master)
{%- endif %}
    apply_definitions(settings)
    table = pd.read_parquet(DataFiles.of(settings).features)
    return materialize(open_store(settings), table)


def _ensure_online_tables(store: FeatureStore) -> None:
    """Create the online tables of every view; a no-op when they exist."""
    store._get_provider().update_infra(
        project=store.project,
        tables_to_delete=[],
        tables_to_keep=store.list_feature_views(),
        entities_to_delete=[],
        entities_to_keep=store.list_entities(),
        partial=False,
    )


def _online_store_is_empty(store: FeatureStore, feature_table: pd.DataFrame) -> bool:
    """True when the customer of the oldest row, materialised first, has no online value."""
    oldest = feature_table.loc[feature_table["event_timestamp"].idxmin(), "customer_id"]
    view = store.list_feature_views()[0]
    feature = f"{view.name}:{view.features[0].name}"
    response = store.get_online_features(
        features=[feature], entity_rows=[{"customer_id": int(oldest)}]
    )
    return bool(response.to_dict()[view.features[0].name][0] is None)


def feature_service_definition(settings: Workspace) -> dict[str, list[str]]:
    """The model's feature service as registered: feature names per feature view."""
    service = open_offline_store(settings).get_feature_service(settings.feast.feature_service)
    return {
        projection.name: [feature.name for feature in projection.features]
        for projection in service.feature_view_projections
    }
