"""The embedded local ZenML stack, kept inside the project instead of the user's global config.

`ZENML_CONFIG_PATH` points at `.zenml/` in the project, so the stack, its SQLite store and the
run history never mix with another project's. The stack has the local orchestrator, a local
artifact store under `artifacts/zenml` and an MLflow experiment tracker on the project's SQLite
tracking store, whose experiment has an explicit artifact root under `artifacts/mlflow`.
"""

from __future__ import annotations

import os

from {{ cookiecutter.package_name }}.model.registry import ensure_experiment, monitoring_experiment
from {{ cookiecutter.package_name }}.settings import Settings

STACK = "local_mlflow"
ARTIFACT_STORE = "local_artifacts"
EXPERIMENT_TRACKER = "mlflow_tracker"


def use_project_zenml(settings: Settings) -> None:
    """Point ZenML at the project's own configuration; call before zenml is imported."""
    root = settings.project_root
    os.environ["ZENML_CONFIG_PATH"] = str(root / ".zenml")
    os.environ["ZENML_REPOSITORY_PATH"] = str(root)
    os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
    os.environ.setdefault("AUTO_OPEN_DASHBOARD", "false")


def ensure_local_stack(settings: Settings) -> str:
    """Create (or update) and activate the local stack; idempotent. Returns the stack name."""
    use_project_zenml(settings)
    from zenml.client import Client
    from zenml.enums import StackComponentType

    root = settings.project_root
    if not (root / ".zen").is_dir():
        Client.initialize(root)
    client = Client()
    components = {
        (StackComponentType.ARTIFACT_STORE, ARTIFACT_STORE, "local"): {
            "path": str(settings.resolve(settings.paths.artifacts_dir) / "zenml")
        },
        (StackComponentType.EXPERIMENT_TRACKER, EXPERIMENT_TRACKER, "mlflow"): {
            "tracking_uri": settings.tracking.resolved_uri(root)
        },
    }
    for (kind, name, flavor), configuration in components.items():
        try:
            client.get_stack_component(kind, name, allow_name_prefix_match=False)
        except KeyError:
            client.create_stack_component(name, flavor, kind, configuration)
        else:
            client.update_stack_component(name, kind, configuration=configuration)
    try:
        client.get_stack(STACK, allow_name_prefix_match=False)
    except KeyError:
        client.create_stack(
            STACK,
            components={
                StackComponentType.ORCHESTRATOR: "default",
                StackComponentType.ARTIFACT_STORE: ARTIFACT_STORE,
                StackComponentType.EXPERIMENT_TRACKER: EXPERIMENT_TRACKER,
            },
        )
    client.activate_stack(STACK)
    ensure_experiment(settings)
    ensure_experiment(settings, monitoring_experiment(settings))
    return STACK
