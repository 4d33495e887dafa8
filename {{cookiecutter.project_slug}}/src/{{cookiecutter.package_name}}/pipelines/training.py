"""The training pipeline: labels at a DVC version to a gated, registered model."""

from __future__ import annotations

from zenml import pipeline

from {{ cookiecutter.package_name }}.steps.training import (
    build_training_set,
    check_contract,
    evaluate_champion,
    evaluate_model,
    load_labels,
    promotion_gate,
    register_model,
    split_train_test,
    train_model,
)


@pipeline(enable_cache=False)
def training() -> None:
    """Labels -> contract -> Feast training set -> time split -> train -> evaluate -> gate."""
    labels = check_contract(load_labels())
    train_df, test_df = split_train_test(build_training_set(labels))
    model = train_model(train_df)
    metrics = evaluate_model(model, test_df)
    champion = evaluate_champion(test_df)
    version = register_model(model, test_df, metrics, champion)
    promotion_gate(version, metrics, champion)
