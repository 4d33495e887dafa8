"""The Spark bake trains on local Spark, and its training set is the DuckDB bake's.

The default (DuckDB) bake runs its whole suite elsewhere. The Spark bake runs only what its
engine changes: the tests marked `offline_store` (the feature build, the point-in-time joins,
the Spark session's settings), then data, features and the training pipeline at 100k rows, as
a user runs them. Both bakes then write the training set of the same seeded 100k rows.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.bakery import TROUBLE, bake, make, passed_modules, run_cli

ROWS = 100_000
# 20 transactions per customer over the 60 days: Feast's Spark join pairs each transaction with
# every feature row of its customer within the TTL, so its cost grows with that number squared.
CUSTOMERS = 5_000
# The Spark bake's test modules whose behaviour depends on the offline engine.
ENGINE_MODULES = {
    "tests/unit/test_feature_build.py",
    "tests/integration/test_feature_store.py",
    "tests/integration/test_spark_engine.py",
}


def at_size(project: Path) -> Path:
    """Set the synthetic data's size in params.yaml, as a user would."""
    params = project / "params.yaml"
    text = params.read_text()
    assert "n_transactions: 20000" in text and "n_customers: 500" in text
    text = text.replace("n_transactions: 20000", f"n_transactions: {ROWS}")
    params.write_text(text.replace("n_customers: 500", f"n_customers: {CUSTOMERS}"))
    return project


def training_set(project: Path, *targets: str) -> tuple[str, pd.DataFrame]:
    """Run the make targets, then write the training set; their output and the set, timed."""
    started = time.perf_counter()
    result = make(project, *targets)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    out = project / "training_set.parquet"
    written = run_cli(project, "features", "training-set", "--out", str(out))
    assert written.returncode == 0, written.stdout[-2000:] + written.stderr[-2000:]
    seconds = time.perf_counter() - started
    print(f"{project.parent.name}: make {' '.join(targets)} and the training set: {seconds:.0f} s")
    return output + written.stdout + written.stderr, pd.read_parquet(out)


@pytest.mark.slow
def test_spark_bake_trains_on_local_spark_with_the_training_set_of_the_duckdb_bake(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    spark = bake(tmp_path_factory.mktemp("spark"), offline_store="spark")
    passed = passed_modules(spark, "offline_store")
    assert passed == ENGINE_MODULES, "exactly the engine's tests run"

    output, on_spark = training_set(at_size(spark), "data", "features", "train")
    assert re.search(r"registered version 1 \(roc_auc 0\.\d{4}", output), output[-2000:]
    assert "gate passed" in output, output[-2000:]
    assert not TROUBLE.findall(output), [
        line for line in output.splitlines() if TROUBLE.search(line)
    ]
    _, on_duckdb = training_set(at_size(bake(tmp_path_factory.mktemp("duckdb"))), "data")

    assert len(on_spark) == ROWS, "one training row per labelled transaction"
    assert list(on_spark.columns) == list(on_duckdb.columns)
    assert list(on_spark["transaction_id"]) == list(on_duckdb["transaction_id"])
    for column in on_duckdb.columns:
        ours, theirs = on_spark[column], on_duckdb[column]
        if pd.api.types.is_float_dtype(theirs):
            assert (ours.isna() == theirs.isna()).all(), column
            gap = np.nanmax(np.abs(ours.to_numpy() - theirs.to_numpy()), initial=0.0)
            assert gap <= 1e-9, f"{column}: {gap}"
        else:
            pd.testing.assert_series_equal(ours, theirs, check_dtype=False)
