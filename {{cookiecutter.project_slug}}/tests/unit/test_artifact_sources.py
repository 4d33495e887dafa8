"""ZenML's source lookup for artifact types, with the distribution scan done once per process."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import {{ cookiecutter.package_name }}.steps  # noqa: F401  (importing the steps installs the cache)

SCAN_COUNT = """
import importlib.metadata
calls = []
scan = importlib.metadata.packages_distributions
importlib.metadata.packages_distributions = lambda: calls.append(1) or scan()
import pandas as pd
import {{ cookiecutter.package_name }}.steps
from zenml.utils import source_utils
sources = {source_utils.resolve(pd.DataFrame).package_name for _ in range(5)}
print(len(calls), *sources)
"""


def test_the_distribution_scan_runs_once_for_many_artifacts() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCAN_COUNT], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["1", "pandas"]


def test_the_cached_lookup_answers_as_the_scan_does() -> None:
    lookup = importlib.metadata.packages_distributions
    assert hasattr(lookup, "cache_info")
    assert lookup()["pandas"] == ["pandas"]
    assert lookup.__wrapped__()["xgboost"] == lookup()["xgboost"]
