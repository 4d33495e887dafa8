"""What loading a logged model needs: the installed XGBoost wheel and the libraries it calls.

The same `xgboost` module comes from either wheel: `xgboost-cpu` (CPU installs) or `xgboost`
(CUDA). The model's requirements name the one installed, pinned, so a consumer of the MLflow model
installs what trained it; MLflow's own inference loads the model in a subprocess (7 s on 2 cores)
and lists both wheels.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

XGBOOST_WHEELS = ("xgboost-cpu", "xgboost")
# What loading a logged booster imports, besides the XGBoost wheel.
MODEL_LIBRARIES = ("mlflow", "numpy", "pandas", "scipy")


def installed_version(name: str) -> str | None:
    """The installed version of a distribution, or None when it is not installed."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def model_requirements() -> list[str]:
    """The logged model's pip requirements, pinned to this environment."""
    wheel = next(name for name in XGBOOST_WHEELS if installed_version(name) is not None)
    return [f"{name}=={version(name)}" for name in (*MODEL_LIBRARIES, wheel)]
