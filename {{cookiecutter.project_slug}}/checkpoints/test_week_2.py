"""Week 2: the feature table, the Feast feature service, and a model on a feature you added."""

from __future__ import annotations

from checkpoints.baseline import DEFAULT_MODEL_INPUTS
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


def test_a_feature_you_added_is_in_feast_and_in_a_registered_model(settings: Settings) -> None:
    service = open_store(settings).get_feature_service(settings.feast.feature_service)
    in_feast = {
        feature.name for view in service.feature_view_projections for feature in view.features
    }
    added = {
        feature
        for version in registry.list_versions(settings)
        for feature in registry.load_version(settings, version.version).features
        if feature not in DEFAULT_MODEL_INPUTS and feature in in_feast
    }
    if not added:
        next_step(
            "no registered model uses a feature you added: compute one in features/build.py, list "
            "it in PROFILE_FEATURES and PROFILE_INPUTS there, then `make data features train` "
            "(week 2, exercise 4)"
        )
