"""Week 3: a tracked MLflow run with the training params, metrics and figures."""

from __future__ import annotations

from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.model import registry
from {{ cookiecutter.package_name }}.settings import Settings

PARAMS = {"max_depth", "learning_rate", "n_estimators", "seed", "threshold"}
METRICS = {"roc_auc", "pr_auc", "recall_at_fpr"}


def test_a_training_run_is_tracked_with_params_metrics_and_figures(
    settings: Settings,
) -> None:
    client = registry.mlflow_client(settings)
    experiment = client.get_experiment_by_name(settings.tracking.experiment_name)
    if experiment is None:
        next_step(
            f"MLflow has no experiment {settings.tracking.experiment_name!r}: run `make train`"
        )
    runs = client.search_runs([experiment.experiment_id], "attributes.status = 'FINISHED'")
    complete = [
        run
        for run in runs
        if run.data.params.keys() >= PARAMS and run.data.metrics.keys() >= METRICS
    ]
    if not complete:
        next_step(
            f"no finished MLflow run has the params {sorted(PARAMS)} and metrics "
            f"{sorted(METRICS)}: run `make train`, then compare runs with `make mlflow-ui`"
        )
    figures = {
        artifact.path
        for run in complete
        for artifact in client.list_artifacts(run.info.run_id, "plots")
    }
    if "plots/roc_curve.png" not in figures:
        next_step("the tracked runs have no ROC curve (plots/roc_curve.png): run `make train`")
