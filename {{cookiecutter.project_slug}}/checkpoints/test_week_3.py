"""Week 3: tracked MLflow runs, among them an experiment with parameters you chose."""

from __future__ import annotations

from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.model import registry
from {{ cookiecutter.package_name }}.settings import ModelSettings, Settings

PARAMS = {"max_depth", "learning_rate", "n_estimators", "seed", "threshold"}
METRICS = {"roc_auc", "pr_auc", "recall_at_fpr"}
# The XGBoost parameters an experiment changes (their defaults: ModelSettings in settings.py).
TUNABLE = ("max_depth", "learning_rate", "n_estimators", "subsample", "colsample_bytree")


def test_a_tracked_run_has_params_metrics_and_parameters_you_chose(
    settings: Settings,
) -> None:
    complete = [
        run
        for run in registry.training_runs(settings)
        if run.data.params.keys() >= PARAMS and run.data.metrics.keys() >= METRICS
    ]
    if not complete:
        next_step(
            f"no MLflow run has the params {sorted(PARAMS)} and metrics "
            f"{sorted(METRICS)}: run `make train`, then compare runs with `make mlflow-ui`"
        )
    defaults = ModelSettings().model_dump()
    experiments = [
        run
        for run in complete
        if any(
            name in run.data.params and run.data.params[name] != str(defaults[name])
            for name in TUNABLE
        )
    ]
    if not experiments:
        next_step(
            f"every tracked run used the default values of {sorted(TUNABLE)}: train once with "
            "other values (week 3, exercise 1: `make train` after changing model.max_depth and "
            "model.learning_rate), then compare the runs in `make mlflow-ui`"
        )
