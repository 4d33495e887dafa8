"""The training pipeline: labels at a DVC version to a gated, registered model with its evidence."""

from __future__ import annotations

from typing import Any

from zenml import pipeline

from {{ cookiecutter.package_name }}.settings import (
    FeatureSettings,
    GateSettings,
    GovernanceSettings,
    ModelSettings,
    QualitySettings,
)
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
def training(
    quality: QualitySettings,
    features: FeatureSettings,
    model: ModelSettings,
    gate: GateSettings,
    governance: GovernanceSettings,
    seed: int,
    trigger: dict[str, Any] | None = None,
    overrides: list[str] | None = None,
) -> None:
    """Labels -> quality gate -> contract -> Feast training set -> train -> evaluate -> gate.

    Each step gets its section of the settings as parameters. `trigger` records why the run
    started (the drift that called for it) and `overrides` the settings changed for this run;
    both go to the release evidence.
    """
    labels = load_labels()
    check_quality(labels, quality)
    checked = check_contract(labels, after="check_quality")
    train_df, test_df = split_train_test(build_training_set(checked, features), model.test_fraction)
    trained = train_model(train_df, model, features, seed)
    metrics, fairness = evaluate_model(trained, test_df, model.target_fpr, gate.fairness)
    champion = evaluate_champion(trained, test_df, model.target_fpr, gate.min_comparison_rows)
    version = register_model(
        trained,
        train_df,
        test_df,
        metrics,
        champion,
        trigger or {"reason": "run by hand"},
        model.validation_fraction,
        overrides or [],
    )
    decision = promotion_gate(version, metrics, fairness, champion, gate, governance)
    write_release_evidence(decision)
