"""The MLflow and ZenML dashboards of this project, as commands that serve them on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

from {{ cookiecutter.package_name }}.orchestration.local_stack import use_project_zenml
from {{ cookiecutter.package_name }}.settings import Settings


def dashboard_command(settings: Settings, dashboard: str, port: int) -> list[str]:
    """The command that serves `dashboard` (mlflow or zenml) on 127.0.0.1:`port`.

    Both read the project's own stores: MLflow its tracking store and artifact root, ZenML the
    project's configuration, which this points the environment at for the command to inherit.
    """
    binaries = Path(sys.executable).parent
    if dashboard == "mlflow":
        return [
            str(binaries / "mlflow"),
            "ui",
            "--backend-store-uri",
            settings.tracking.resolved_uri(settings.project_root),
            "--default-artifact-root",
            settings.resolve(settings.tracking.artifact_root).as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ]
    if dashboard == "zenml":
        use_project_zenml(settings)
        return [str(binaries / "zenml"), "login", "--local", "--port", str(port), "--blocking"]
    raise ValueError(f"unknown dashboard {dashboard!r}: use mlflow or zenml")
