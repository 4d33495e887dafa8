"""DVC for real: stages run in order, re-run only what changed, round-trip through a remote."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

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
