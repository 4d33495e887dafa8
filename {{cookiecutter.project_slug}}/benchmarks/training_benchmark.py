"""Benchmark of the pipelines: each step's time, and training against plain functions.

Prints figures; asserts nothing. Each size runs in a scratch copy of the project (its own data,
DVC cache, Feast store, ZenML config and MLflow store), so the project itself is untouched.
Every command is a fresh process, as a user runs it: training, approval, batch inference and
monitoring (on a scored batch), then each step's own time as ZenML recorded it. The training
pipeline also logs plots and registers and gates the model; the plain path stops after
evaluation, so the ratio is an upper bound on ZenML's own overhead.
Usage: `make bench-training` (or add `--rows 20000 1000000`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from {{ cookiecutter.package_name }}.data.contract import TRANSACTIONS, validate
from {{ cookiecutter.package_name }}.data.files import DataFiles
from {{ cookiecutter.package_name }}.features.request_time import model_columns
from {{ cookiecutter.package_name }}.features.retrieval import CustomerFeatures
from {{ cookiecutter.package_name }}.model.evaluate import evaluate
from {{ cookiecutter.package_name }}.model.train import split_by_time, train
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, find_project_root, load_settings

PROJECT_FILES = ("params.yaml", "requirements.lock", "dvc.yaml", "feature_repo", "src")
PIPELINES = ("training", "batch_inference", "monitoring")


def scratch_project(root: Path, scratch: Path, rows: int) -> None:
    """Copy the project and size its data; DVC builds data and features there."""
    for name in PROJECT_FILES:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, scratch / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, scratch / name)
    params = yaml.safe_load((scratch / "params.yaml").read_text())
    params["data"].update(n_transactions=rows, n_customers=max(rows // 40, 50))
    (scratch / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def timed(label: str, command: list[str]) -> float:
    """Run a command in a fresh process (imports included, as a user waits) and time it."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    started = time.perf_counter()
    result = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "PATH": path}
    )
    seconds = time.perf_counter() - started
    note = (
        ""
        if result.returncode == 0
        else f" (exit {result.returncode}: {result.stderr.strip()[-200:]})"
    )
    print(f"    {label:<34} {seconds:8.1f} s{note}")
    return seconds


def plain_functions() -> None:
    """The pipeline's work up to evaluation, called directly."""
    settings = load_settings()
    labels = validate(pd.read_parquet(DataFiles.of(settings).transactions), TRANSACTIONS)
    frame = CustomerFeatures.of(settings).training_set(labels)
    older, newest = split_by_time(frame, settings.model.test_fraction)
    model = train(older, settings.model, model_columns(settings.features), seed=settings.seed)
    evaluate(model, newest, settings.model.target_fpr)


def print_step_times() -> None:
    """Each step's time in the newest run of each pipeline, as ZenML recorded it."""
    from {{ cookiecutter.package_name }}.orchestration.local_stack import use_project_zenml

    use_project_zenml(load_settings())
    from zenml.client import Client

    for name in PIPELINES:
        runs = Client().list_pipeline_runs(
            pipeline_name=name, sort_by="desc:created", size=1, hydrate=True
        )
        for step_name, step in runs.items[0].steps.items():
            seconds = (step.end_time - step.start_time).total_seconds()
            print(f"      {name + ' / ' + step_name:<44} {seconds:8.2f} s")


def main() -> None:
    """Run both paths at each size and print the wall times, their ratio and the step times."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 1_000_000])
    parser.add_argument("--plain", action="store_true", help="(internal) run the plain path here")
    parser.add_argument("--steps", action="store_true", help="(internal) print the step times")
    arguments = parser.parse_args()
    if arguments.plain:
        plain_functions()
        return
    if arguments.steps:
        print_step_times()
        return
    os.environ[f"{ENV_PREFIX}MONITORING__AUTO_RETRAIN"] = "false"
    this_script = str(Path(__file__).resolve())
    root = find_project_root()
    cli = str(Path(sys.executable).parent / "{{ cookiecutter.project_slug }}")
    for rows in arguments.rows:
        with tempfile.TemporaryDirectory() as folder:
            scratch = Path(folder)
            scratch_project(root, scratch, rows)
            os.chdir(scratch)
            print(f"{rows:,} transactions")
            subprocess.run([sys.executable, "-m", "dvc", "init", "-q", "--no-scm"], check=True)
            subprocess.run([cli, "data", "fetch"], check=True)  # as `make data` does first
            timed("dvc repro (raw + features)", [sys.executable, "-m", "dvc", "repro", "-q"])
            timed("feast apply + materialize", [cli, "features", "apply"])
            plain = timed("plain functions", [sys.executable, this_script, "--plain"])
            zenml = timed("ZenML pipeline (local stack)", [cli, "train"])
            print(f"    {'ratio pipeline / plain':<34} {zenml / plain:8.2f}")
            approval = ["--approver", "benchmark", "--reason", "benchmark run"]
            timed("promote (approval)", [cli, "promote", "--version", "staging", *approval])
            timed("infer (newest 1000)", [cli, "infer"])
            timed("monitor (batch, newest 2000)", [cli, "monitor", "--source", "batch"])
            print("    step times (ZenML's record)")
            subprocess.run([sys.executable, this_script, "--steps"], check=True)
            os.chdir(root)


if __name__ == "__main__":
    main()
