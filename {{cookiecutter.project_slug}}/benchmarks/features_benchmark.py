"""Benchmark of the feature layer: feature-table build throughput and online lookup latency.

Prints figures; asserts nothing. Runs in a scratch copy of the project under its own Feast project
name (a shared Redis keeps its keys apart, and they are deleted at the end), so the project's own
data and online store are untouched. Usage: `make bench-features` (or add `--rows 100000 1000000`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from {{ cookiecutter.package_name }}.data.files import DataFiles, write_atomically
from {{ cookiecutter.package_name }}.data.generate import generate
from {{ cookiecutter.package_name }}.features.build import build_feature_table
from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures
from {{ cookiecutter.package_name }}.features.store import apply_definitions, materialize, open_store
from {{ cookiecutter.package_name }}.settings import find_project_root, load_settings

PROJECT_FILES = ("params.yaml", "feature_repo", "requirements.lock")


def build_throughput(rows: int) -> tuple[float, int]:
    """Seconds to build the feature table from `rows` transactions, and the table's row count."""
    settings = load_settings()
    data = settings.data.model_copy(update={"n_transactions": rows, "n_customers": rows // 40})
    dataset = generate(data, settings.seed)
    started = time.perf_counter()
    table = build_feature_table(dataset.transactions, dataset.customers, settings.features)
    return time.perf_counter() - started, len(table)


def lookup_latencies(customer_ids: np.ndarray, batch: int, repeats: int) -> list[float]:
    """Milliseconds per `online_features` call for batches of `batch` customers."""
    features = CustomerFeatures.of(load_settings())
    rng = np.random.default_rng(0)
    features.online_features([int(customer_ids[0])])  # warm-up: connections, caches
    timings = []
    for _ in range(repeats):
        chosen = [int(c) for c in rng.choice(customer_ids, size=batch, replace=False)]
        started = time.perf_counter()
        features.online_features(chosen)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    """Run both benchmarks in a scratch copy of the project and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--online-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=300)
    arguments = parser.parse_args()

    root = find_project_root()
    with tempfile.TemporaryDirectory() as scratch:
        for name in PROJECT_FILES:
            source = root / name
            copy = shutil.copytree if source.is_dir() else shutil.copy
            copy(source, Path(scratch) / name)
        os.chdir(scratch)
        store_file = Path(scratch) / "feature_repo" / "feature_store.yaml"
        own_project = f"project: benchmark_{os.getpid()}"
        store_file.write_text(
            re.sub(r"^project: .*$", own_project, store_file.read_text(), flags=re.M)
        )

        print("feature table build (rows of transactions -> rows/s)")
        for rows in arguments.rows:
            seconds, table_rows = build_throughput(rows)
            print(
                f"  {rows:>9,} transactions: {seconds:6.2f} s, {rows / seconds:12,.0f} rows/s"
                f" ({table_rows:,} feature rows)"
            )

        settings = load_settings()
        data = settings.data.model_copy(
            update={
                "n_transactions": arguments.online_rows,
                "n_customers": arguments.online_rows // 40,
            }
        )
        dataset = generate(data, settings.seed)
        table = build_feature_table(dataset.transactions, dataset.customers, settings.features)
        write_atomically({DataFiles.of(settings).features: table})
        apply_definitions(settings)
        try:
            materialize(open_store(settings), table)
            customers = dataset.customers["customer_id"].to_numpy()
            online = open_store(settings).config.online_store.type
            print(f"online_features ({online} online store, {len(customers):,} customers)")
            for batch in (1, 100):
                timings = lookup_latencies(customers, batch, arguments.repeats)
                p99 = float(np.percentile(timings, 99))
                print(
                    f"  {batch:>3} entities: median {statistics.median(timings):7.2f} ms, "
                    f"p99 {p99:7.2f} ms ({arguments.repeats} calls)"
                )
        finally:
            open_store(settings).teardown()  # the benchmark project's online tables or keys


if __name__ == "__main__":
    main()
