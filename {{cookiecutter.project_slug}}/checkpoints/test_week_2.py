"""Week 2: the feature table, the Feast feature service and a first model with its metrics."""

from __future__ import annotations

from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.data.files import DataFiles
from {{ cookiecutter.package_name }}.features.store import open_store
from {{ cookiecutter.package_name }}.model import registry
from {{ cookiecutter.package_name }}.settings import Settings

METRICS = {"roc_auc", "pr_auc", "recall_at_fpr"}


def test_the_feature_table_exists(settings: Settings) -> None:
    if not DataFiles.of(settings).features.is_file():
        next_step("the feature table is missing: run `make data` (stage `features` builds it)")


def test_feast_knows_the_model_s_feature_service(settings: Settings) -> None:
    from feast.errors import FeastObjectNotFoundException

    try:
        open_store(settings).get_feature_service(settings.feast.feature_service)
    except FeastObjectNotFoundException:
        next_step(
            f"Feast has no feature service {settings.feast.feature_service!r}: run `make features`"
        )


def test_a_trained_model_has_its_evaluation_metrics(settings: Settings) -> None:
    versions = registry.list_versions(settings)
    if not versions:
        next_step("no model is registered yet: run `make train`")
    if not any(version.metrics.keys() >= METRICS for version in versions):
        next_step(f"no registered model has the metrics {sorted(METRICS)}: run `make train`")
