"""Week 5: a Bento of the champion, and its answers for a known and an unknown customer."""

from __future__ import annotations

from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.model import registry
from {{ cookiecutter.package_name }}.serving.bento import use_project_bentoml
from {{ cookiecutter.package_name }}.serving.prediction_log import read_entries
from {{ cookiecutter.package_name }}.settings import Settings


def test_a_bento_carries_the_champion_and_its_lineage(settings: Settings, champion: str) -> None:
    use_project_bentoml(settings)
    import bentoml

    lineage = (
        registry.mlflow_client(settings)
        .get_model_version(registry.model_name(settings), champion)
        .run_id
    )
    wanted = {"mlflow_version": champion, "lineage_id": lineage}
    bentos = bentoml.list(settings.serving.model_name)
    if not any(wanted.items() <= bento.info.labels.items() for bento in bentos):
        next_step(f"no Bento carries the champion (version {champion}): run `make bento`")


def test_the_service_answered_with_the_champion(settings: Settings, champion: str) -> None:
    log = settings.resolve(settings.serving.prediction_log)
    if not any(entry["model_version"] == champion for entry in read_entries(log)):
        next_step(
            f"the prediction log has no answer of version {champion}: run `make serve`, and in a "
            "second terminal `make predict-example`"
        )


def test_the_champion_answered_a_customer_the_store_does_not_know(
    settings: Settings, champion: str
) -> None:
    log = settings.resolve(settings.serving.prediction_log)
    unknown = [
        entry
        for entry in read_entries(log)
        if entry["model_version"] == champion and entry.get("features_missing")
    ]
    if not unknown:
        next_step(
            f"version {champion} has not answered for a customer without stored features: send "
            "the example with customer_id 999999 while `make serve` runs (week 5, exercise 2)"
        )
