"""The training pipeline: labels at a DVC version to a gated, registered model with its evidence."""

from __future__ import annotations

from typing import Any

from zenml import pipeline

from {{ cookiecutter.package_name }}.steps.training import (
    build_training_set,
    check_contract,
    check_quality,
    evaluate_champion,
    evaluate_model,
    load_labels,
    promotion_gate,
    register_model,
    split_train_test,
    train_model,
    write_release_evidence,
)


@pipeline(enable_cache=False)
def training(trigger: dict[str, Any] | None = None) -> None:
    """Labels -> quality gate -> contract -> Feast training set -> train -> evaluate -> gate.

    `trigger` records why the run started (the drift that called for it); it goes to the
    release evidence.
    """
    labels = load_labels()
    check_quality(labels)
    checked = check_contract(labels, after="check_quality")
    train_df, test_df = split_train_test(build_training_set(checked))
    model = train_model(train_df)
    metrics = evaluate_model(model, test_df)
    champion = evaluate_champion(test_df)
    version = register_model(
        model, train_df, test_df, metrics, champion, trigger or {"reason": "run by hand"}
    )
    write_release_evidence(promotion_gate(version, metrics, champion))
