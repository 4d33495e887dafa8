"""DVC for real: stages run in order, re-run only what changed, round-trip through a remote."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.data.generate import generate
from {{ cookiecutter.package_name }}.settings import DataSettings
from tests.helpers import (
    BIN,
    CLI,
    clean_environment,
    copy_project,
    edit_params,
    free_port,
    ok,
    run,
    serving,
)

OUTPUTS = (
    "data/raw/customers.parquet",
    "data/raw/transactions.parquet",
    "data/raw/import_report.json",
    "data/raw/import_report.md",
    "data/features/customer_features.parquet",
)


def dvc(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run DVC in the project; its stages call the project's CLI, found through PATH."""
    result = run(project, sys.executable, "-m", "dvc", *args)
    if check:
        ok(result)
    return result


def digests(project: Path) -> dict[str, str]:
    return {name: hashlib.sha256((project / name).read_bytes()).hexdigest() for name in OUTPUTS}


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git + DVC repository holding a copy of the project, with small data in params.yaml."""
    project = copy_project(tmp_path / "project")
    clean_environment(monkeypatch)
    edit_params(project, "data", n_customers=100, n_transactions=2000, days=10)
    edit_params(project, "storage", remote_url="../remote")
    ok(run(project, "git", "init", "-q", "-b", "main"))
    dvc(project, "init", "--quiet")
    return project


def test_repro_runs_both_stages_then_nothing_then_only_what_a_param_touches(
    repository: Path,
) -> None:
    first = dvc(repository, "repro")
    assert "Running stage 'raw'" in first.stdout
    assert "Running stage 'features'" in first.stdout
    assert dvc(repository, "repro").stdout.strip().endswith("Data and pipelines are up to date.")
    edit_params(repository, "features", night_hours=[1, 5])
    third = dvc(repository, "repro")
    assert "Stage 'raw' didn't change, skipping" in third.stdout
    assert "Running stage 'features'" in third.stdout
    assert set(ok(run(repository, "git", "check-ignore", *OUTPUTS)).split()) == set(OUTPUTS)


def test_a_parquet_source_round_trips_and_going_back_to_synthetic_removes_its_import(
    repository: Path, tmp_path: Path
) -> None:
    settings = DataSettings(n_customers=50, n_transactions=600, days=5)
    exported = generate(settings, seed=3).transactions
    export = tmp_path / "export.parquet"
    exported.to_parquet(export)
    edit_params(
        repository, "data", source=str(export), mapping={"transaction_id": "transaction_id"}
    )
    assert "imported to data/source/transactions.parquet" in ok(
        run(repository, CLI, "data", "fetch")
    )
    assert "Running stage 'raw'" in dvc(repository, "repro").stdout
    imported = pd.read_parquet(repository / "data" / "raw" / "transactions.parquet")
    pd.testing.assert_frame_equal(imported, exported, check_dtype=False)
    report = json.loads((repository / "data" / "raw" / "import_report.json").read_text())
    assert (report["rows_kept"], report["dropped"]) == (600, {})
    assert report["transaction_ids"] == "from column 'transaction_id'"

    edit_params(repository, "data", source="synthetic")
    assert "synthetic" in ok(run(repository, CLI, "data", "fetch"))
    assert [path.name for path in (repository / "data" / "source").iterdir()] == ["README.md"]
    assert "Running stage 'raw'" in dvc(repository, "repro").stdout
    report = json.loads((repository / "data" / "raw" / "import_report.json").read_text())
    assert report["source"] == "synthetic"


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real S3 API (moto's server) on a free loopback port, with throwaway credentials."""
    port = free_port()
    moto = str(BIN / "moto_server")
    with serving([moto, "-H", "127.0.0.1", "-p", str(port)], "Running on"):
        endpoint = f"http://127.0.0.1:{port}"
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }.items():
            monkeypatch.setenv(name, value)
        yield endpoint


def test_an_s3_source_is_imported_once_and_again_only_when_it_changes(
    repository: Path, s3_endpoint: str
) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bank-exports")
    exported = generate(DataSettings(n_customers=40, n_transactions=400, days=4), seed=5)
    csv = exported.transactions.to_csv(index=False)
    s3.put_object(Bucket="bank-exports", Key="2026/transactions.csv", Body=csv.encode())
    edit_params(repository, "data", source="s3://bank-exports/2026/transactions.csv")
    assert "imported to data/source/transactions.csv" in ok(run(repository, CLI, "data", "fetch"))
    recorded = (repository / "data" / "source" / "transactions.csv.dvc").read_text()
    assert "s3://bank-exports/2026/transactions.csv" in recorded
    assert "unchanged" in ok(run(repository, CLI, "data", "fetch"))
    fewer = exported.transactions.head(300).to_csv(index=False)
    s3.put_object(Bucket="bank-exports", Key="2026/transactions.csv", Body=fewer.encode())
    assert "changed, re-imported" in ok(run(repository, CLI, "data", "fetch"))
    dvc(repository, "repro")
    report = json.loads((repository / "data" / "raw" / "import_report.json").read_text())
    assert report["rows_kept"] == 300


def forget_local_data(repository: Path) -> None:
    """Lose the outputs and the DVC cache, as a fresh clone would."""
    shutil.rmtree(repository / ".dvc" / "cache")
    for name in OUTPUTS:
        (repository / name).unlink()


def test_push_and_pull_through_an_s3_remote(repository: Path, s3_endpoint: str) -> None:
    boto3.client("s3").create_bucket(Bucket="dvc-remote")
    edit_params(repository, "storage", kind="s3", remote_url="s3://dvc-remote/project")
    dvc(repository, "repro")
    ok(run(repository, CLI, "data", "remote"))
    before = digests(repository)
    dvc(repository, "push")
    stored = boto3.client("s3").list_objects_v2(Bucket="dvc-remote")["Contents"]
    assert len(stored) == len(OUTPUTS)
    forget_local_data(repository)
    dvc(repository, "pull")
    assert digests(repository) == before


def test_push_and_pull_round_trip_byte_identical_files(repository: Path) -> None:
    dvc(repository, "repro")
    configure = ok(run(repository, CLI, "data", "remote"))
    assert "verify on" in configure
    assert "verify = true" in (repository / ".dvc" / "config").read_text()
    before = digests(repository)
    dvc(repository, "push")
    forget_local_data(repository)
    dvc(repository, "pull")
    assert digests(repository) == before


def test_a_corrupted_download_is_detected(repository: Path) -> None:
    dvc(repository, "repro")
    ok(run(repository, CLI, "data", "remote"))
    dvc(repository, "push")
    remote = repository.parent / "remote"
    stored = [path for path in remote.rglob("*") if path.is_file()]
    assert len(stored) == len(OUTPUTS)
    for path in stored:
        path.chmod(0o644)
        path.write_bytes(b"corrupted" + path.read_bytes()[9:])
    forget_local_data(repository)
    pulled = dvc(repository, "pull", check=False)
    assert pulled.returncode != 0
    assert not any((repository / name).exists() for name in OUTPUTS)
