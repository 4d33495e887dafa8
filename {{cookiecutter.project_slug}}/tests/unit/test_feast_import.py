"""Feast imported for reading the registry: no typeguard instrumentation, typeguard untouched.

Each check runs in a fresh interpreter: a test process may have imported Feast already.
"""

from __future__ import annotations

import subprocess
import sys

IMPORT_THEN_REPORT = """
import typeguard
checked = typeguard.typechecked
from {{ cookiecutter.package_name }}.features.store import import_feast
import_feast()
from feast.feature_view import FeatureView
print("instrumented" if "typeguard" in FeatureView.__init__.__code__.co_names else "plain")
print("restored" if typeguard.typechecked is checked else "patched")
"""


def test_feast_is_imported_without_typeguard_instrumentation_and_typeguard_is_restored() -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_THEN_REPORT], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["plain", "restored"]


def test_a_plain_feast_import_keeps_typeguard_checks() -> None:
    """The control: the check above would see instrumentation where typeguard applies it."""
    report = "from feast.feature_view import FeatureView as V; print(V.__init__.__code__.co_names)"
    result = subprocess.run(
        [sys.executable, "-c", report], capture_output=True, text=True, check=True
    )
    assert "typeguard" in result.stdout
