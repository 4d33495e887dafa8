"""The environment half of release evidence: interpreter, platform and the pinned stack.

A model is only reproducible from the lock file it was trained with, so the evidence records the
lock file's hash and every pin the running interpreter does not match.
"""

from __future__ import annotations

import hashlib
import platform
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK_FILE = "requirements.lock"
STACK = ("zenml", "kfp", "feast", "dvc", "mlflow", "bentoml", "evidently", "xgboost")


@dataclass(frozen=True)
class EnvironmentReport:
    """What runs this code, compared with what the lock file pins."""

    python: str
    platform: str
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


def installed_version(name: str) -> str | None:
    """The installed version of a distribution, or None when it is not installed."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def environment_report(project_root: Path) -> EnvironmentReport:
    """Fingerprint the environment and list every installed version that differs from its pin."""
    lock_file = project_root / LOCK_FILE
    pins = pinned_versions(lock_file)
    mismatches = [
        f"{name}: pinned {pinned}, installed {installed or 'nothing'}"
        for name, pinned in sorted(pins.items())
        if (installed := installed_version(name)) != pinned
    ]
    return EnvironmentReport(
        python=sys.version.split()[0],
        platform=platform.platform(),
        lock_sha256=hashlib.sha256(lock_file.read_bytes()).hexdigest(),
        stack={name: installed_version(name) or "missing" for name in STACK},
        mismatches=mismatches,
    )
