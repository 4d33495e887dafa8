"""The monitoring pipeline: the champion's reference against what it sees now."""

from __future__ import annotations

from zenml import pipeline

from {{ cookiecutter.package_name }}.steps.monitoring import (
    check_champion_drift,
    load_champion_reference,
    load_current,
)


@pipeline(enable_cache=False)
def monitoring(
    source: str = "batch", path: str = "data/raw/transactions.parquet", newest: int = 2000
) -> None:
    """Champion's reference + current rows (prediction log or batch) -> drift -> decision."""
    reference, version = load_champion_reference()
    current = load_current(source, path, newest, version)
    check_champion_drift(reference, current, version, source)
