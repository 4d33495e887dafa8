"""The environment half of release evidence: interpreter, platform and the pinned stack.

A model is only reproducible from the lock file it was trained with, so the evidence records the
lock file's hash and every pin the running interpreter does not match. CPU environments install
requirements.lock (the `xgboost-cpu` wheel), CUDA ones requirements-gpu.lock (`xgboost`): the
installed wheel says which lock applies.
{%- if cookiecutter.offline_store == "spark" %} On CPU this project installs requirements-spark.lock
instead: the same pins plus pyspark and py4j.
{%- endif %}
"""

from __future__ import annotations

import hashlib
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from {{ cookiecutter.package_name }}.model.requirements import XGBOOST_WHEELS, installed_version

{% if cookiecutter.offline_store == "spark" -%}
# requirements.lock plus pyspark and py4j: the Spark bake's environment on CPU.
LOCK_FILE = "requirements-spark.lock"
{% else -%}
LOCK_FILE = "requirements.lock"
{% endif -%}
GPU_LOCK_FILE = "requirements-gpu.lock"
STACK = ("zenml", "kfp", "feast", "dvc", "mlflow", "bentoml", "evidently", "xgboost")


@dataclass(frozen=True)
class EnvironmentReport:
    """What runs this code, compared with what the lock file pins."""

    python: str
    platform: str
    lock_file: str
    lock_sha256: str
    stack: dict[str, str]
    mismatches: list[str] = field(default_factory=list)


def pinned_versions(lock_file: Path) -> dict[str, str]:
    """Exact pins of the lock file that apply to this interpreter, by canonical name."""
    pins: dict[str, str] = {}
    for line in lock_file.read_text().splitlines():
        if not line or line[0] in "# -":
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate():
            version_pin = str(requirement.specifier).removeprefix("==")
            pins[canonicalize_name(requirement.name)] = version_pin
    return pins


def lock_file_of_this_environment(project_root: Path) -> Path:
    """requirements-gpu.lock where the CUDA `xgboost` wheel is installed, else LOCK_FILE."""
    cuda = installed_version("xgboost") is not None and installed_version("xgboost-cpu") is None
    return project_root / (GPU_LOCK_FILE if cuda else LOCK_FILE)


def _stack_version(name: str) -> str:
    wheels = XGBOOST_WHEELS if name == "xgboost" else (name,)
    return next(filter(None, map(installed_version, wheels)), "missing")


def environment_report(project_root: Path) -> EnvironmentReport:
    """Fingerprint the environment and list every installed version that differs from its pin."""
    lock_file = lock_file_of_this_environment(project_root)
    pins = pinned_versions(lock_file)
    mismatches = [
        f"{name}: pinned {pinned}, installed {installed or 'nothing'}"
        for name, pinned in sorted(pins.items())
        if (installed := installed_version(name)) != pinned
    ]
    return EnvironmentReport(
        python=sys.version.split()[0],
        platform=platform.platform(),
        lock_file=lock_file.name,
        lock_sha256=hashlib.sha256(lock_file.read_bytes()).hexdigest(),
        stack={name: _stack_version(name) for name in STACK},
        mismatches=mismatches,
    )
