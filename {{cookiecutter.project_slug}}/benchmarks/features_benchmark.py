"""Benchmark of the feature layer at a fraud team's size, beside the limit of the join it performs.

For each size (transactions), in a scratch copy of the project under its own Feast project name
(a shared Redis keeps its keys apart, and they are deleted at the end), every phase runs in a fresh
process so that its peak memory (max RSS) is its own: the raw data, the feature build, the
point-in-time training set, materialising the online store, training the model on the training
set, and a bare DuckDB `ASOF LEFT JOIN` of the same transactions onto the same feature table,
timed in the same run. The training set's time is printed as a ratio of that join's. Then the
online lookup latency. Prints figures; asserts nothing.

Usage: `make bench-features` (1M rows), or `ARGS="--rows 1000000 10000000" make bench-features`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, find_project_root, load_settings

PROJECT_FILES = ("params.yaml", "feature_repo", "requirements.lock")
TRAINING_SET = "training_set.parquet"
PHASES = ("data", "features", "training_set", "bare_asof_join", "materialize", "train")


def phase_data() -> dict[str, float]:
    """The `raw` stage: synthetic transactions and customers at the configured size."""
    from {{ cookiecutter.package_name }}.data.sources import write_raw_tables

    return {"rows": write_raw_tables(load_settings()).rows_kept}


def phase_features() -> dict[str, float]:
    """The `features` stage: contract check, then the DuckDB build of the feature table."""
    import pyarrow.parquet as pq

    from {{ cookiecutter.package_name }}.features.build import write_feature_table

    files = write_feature_table(load_settings())
    return {"rows": pq.ParquetFile(files.features).metadata.num_rows}


def phase_training_set() -> dict[str, float]:
    """`features training-set`: the pipeline's labels joined point-in-time through Feast."""
    from {{ cookiecutter.package_name }}.features.retrieval import write_training_set
    from {{ cookiecutter.package_name }}.features.store import open_offline_store

    settings = load_settings()
    open_offline_store(settings)  # `feast apply` once, outside the timed join
    started = time.perf_counter()
    rows = write_training_set(settings, Path(TRAINING_SET))
    return {"rows": rows, "seconds": time.perf_counter() - started}


def phase_bare_asof_join() -> dict[str, float]:
    """The limit: DuckDB's ASOF LEFT JOIN of the transactions onto the table, into pandas."""
    from {{ cookiecutter.package_name }}.data.files import DataFiles
    from {{ cookiecutter.package_name }}.features.duckdb_sql import connect

    files = DataFiles.of(load_settings())
    started = time.perf_counter()
    with connect() as connection:
        frame = connection.execute(
            "SELECT t.*, f.* EXCLUDE (customer_id, event_timestamp, created) "
            "FROM read_parquet(?) t ASOF LEFT JOIN read_parquet(?) f "
            "ON t.customer_id = f.customer_id AND t.event_timestamp >= f.event_timestamp",
            [str(files.transactions), str(files.features)],
        ).df()
    return {"rows": len(frame), "seconds": time.perf_counter() - started}


def phase_materialize() -> dict[str, float]:
    """`features apply`: register the definitions and backfill the online store."""
    from {{ cookiecutter.package_name }}.features.store import apply_and_materialize

    apply_and_materialize(load_settings())
    return {}


def phase_train() -> dict[str, float]:
    """XGBoost on the training set (the matrix the pipeline's `train_model` step receives)."""
    import pandas as pd

    from {{ cookiecutter.package_name }}.features.request_time import model_columns
    from {{ cookiecutter.package_name }}.model.train import split_by_time, train

    settings = load_settings()
    frame = pd.read_parquet(TRAINING_SET)
    older, _ = split_by_time(frame, settings.model.test_fraction)
    train(older, settings.model, model_columns(settings.features), seed=settings.seed)
    return {"rows": len(older)}


def phase_lookup(repeats: int) -> dict[str, float]:
    """Milliseconds per `online_features` call, for batches of 1 and 100 customers."""
    from {{ cookiecutter.package_name }}.data.contract import CUSTOMERS, read_table
    from {{ cookiecutter.package_name }}.data.files import DataFiles
    from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures

    settings = load_settings()
    customers = read_table(DataFiles.of(settings).customers, CUSTOMERS)["customer_id"].to_numpy()
    features = CustomerFeatures.of(settings)
    rng = np.random.default_rng(0)
    features.online_features([int(customers[0])])  # warm-up: connections, caches
    result: dict[str, float] = {"customers": len(customers)}
    for batch in (1, 100):
        timings = []
        for _ in range(repeats):
            chosen = [int(c) for c in rng.choice(customers, size=batch, replace=False)]
            started = time.perf_counter()
            features.online_features(chosen)
            timings.append((time.perf_counter() - started) * 1000)
        result[f"median_{batch}"] = statistics.median(timings)
        result[f"p99_{batch}"] = float(np.percentile(timings, 99))
    features.store.teardown()  # the benchmark project's online tables or keys
    return result


def run_phase(name: str, scratch: Path, rows: int, repeats: int) -> dict[str, float]:
    """One phase in a fresh process: its figures, wall time and peak memory (GB of max RSS)."""
    environment = {
        **os.environ,
        f"{ENV_PREFIX}DATA__N_TRANSACTIONS": str(rows),
        f"{ENV_PREFIX}DATA__N_CUSTOMERS": str(max(rows // 40, 50)),
    }
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--phase",
        name,
        "--repeats",
        str(repeats),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=scratch, env=environment, stdout=subprocess.PIPE, text=True
    )
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"benchmark phase {name} failed (exit {process.returncode})")
    figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    figures.setdefault("seconds", time.perf_counter() - started)
    figures["peak_gb"] = usage.ru_maxrss / 1024**2  # Linux reports KiB
    return figures


def scratch_copy(scratch: Path) -> None:
    """The files a phase reads, and a Feast project name of the benchmark's own."""
    root = find_project_root()
    for name in PROJECT_FILES:
        source = root / name
        copy: Callable[[Path, Path], object] = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, scratch / name)
    store_file = scratch / "feature_repo" / "feature_store.yaml"
    own_project = f"project: benchmark_{os.getpid()}"
    store_file.write_text(re.sub(r"^project: .*$", own_project, store_file.read_text(), flags=re.M))


def report(rows: int, results: dict[str, dict[str, float]]) -> None:
    """One line per phase, and the training set against the bare join."""
    print(f"{rows:,} transactions")
    for name in PHASES:
        figures = results[name]
        out = f", {int(figures['rows']):,} rows" if "rows" in figures else ""
        print(f"  {name:<15} {figures['seconds']:8.2f} s  peak {figures['peak_gb']:5.2f} GB{out}")
    ratio = results["training_set"]["seconds"] / results["bare_asof_join"]["seconds"]
    print(f"  training set / bare ASOF join: {ratio:.1f}x")
    print(f"  highest peak of any phase: {max(f['peak_gb'] for f in results.values()):.2f} GB")
    lookup = results["lookup"]
    print(f"  online_features ({int(lookup['customers']):,} customers):")
    for batch in (1, 100):
        print(
            f"    {batch:>3} entities: median {lookup[f'median_{batch}']:7.2f} ms, "
            f"p99 {lookup[f'p99_{batch}']:7.2f} ms"
        )


def main() -> None:
    """Run every phase at every size, then print the table and the cost per row across sizes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--phase", choices=[*PHASES, "lookup"], help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.phase:
        started = time.perf_counter()
        if arguments.phase == "lookup":
            figures = phase_lookup(arguments.repeats)
        else:
            figures = globals()[f"phase_{arguments.phase}"]()
        figures.setdefault("seconds", time.perf_counter() - started)
        print(json.dumps(figures))
        return

    totals: dict[int, float] = {}
    for rows in arguments.rows:
        with tempfile.TemporaryDirectory() as folder:
            scratch = Path(folder)
            scratch_copy(scratch)
            results = {
                name: run_phase(name, scratch, rows, arguments.repeats)
                for name in (*PHASES, "lookup")
            }
        report(rows, results)
        totals[rows] = sum(results[name]["seconds"] for name in ("features", "training_set"))
    smallest = min(totals)
    for rows, seconds in totals.items():
        if rows != smallest:
            print(
                f"features + training set, {rows:,} / {smallest:,} rows: "
                f"{seconds / totals[smallest]:.1f}x the time for {rows / smallest:.0f}x the rows"
            )


if __name__ == "__main__":
    main()
