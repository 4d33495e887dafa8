"""The prediction log: bounded by rotation, read back whole across its files, per version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.package_name }}.serving.prediction_log import (
    PredictionLog,
    log_files,
    newest_served_version,
    read_entries,
    read_log,
    worker_log_path,
)
from {{ cookiecutter.package_name }}.settings import ServingSettings


def entry(number: int, version: str) -> dict[str, Any]:
    return {
        "transaction_id": f"t-{number}",
        "model_version": version,
        "fraud_probability": number / 1000,
        "features": {"amount": float(number), "hour": None},
    }


def test_the_log_rotates_by_size_keeps_the_backups_and_loses_nothing_on_close(
    tmp_path: Path,
) -> None:
    settings = ServingSettings(prediction_log_max_bytes=10_000, prediction_log_backups=3)
    path = tmp_path / "prediction_log.jsonl"
    log = PredictionLog(settings, path)
    for number in range(300):
        log.append([entry(number, "1")])
    log.close()
    files = log_files(path)
    assert len(files) == 4  # the live file and three backups
    assert all(file.stat().st_size <= 10_000 + 200 for file in files)
    kept = [e["transaction_id"] for e in read_entries(path)]
    assert kept == [f"t-{n}" for n in range(300 - len(kept), 300)]  # oldest dropped, in order
    assert len(kept) < 300


def test_monitoring_reads_one_version_across_workers_and_the_version_that_answered_last(
    tmp_path: Path,
) -> None:
    path = tmp_path / "prediction_log.jsonl"
    for worker, version in ((1, "1"), (2, "1"), (2, "2")):
        log = PredictionLog(ServingSettings(), path, worker)
        log.append([entry(worker * 10 + n, version) for n in range(3)])
        log.close()
    assert worker_log_path(path, 2).is_file()
    with path.open("a") as torn:
        torn.write('{"served_at": "2026-')  # a line cut by a crash
    assert len(read_log(path, "1")) == 6
    assert read_log(path, "2")["amount"].tolist() == [20.0, 21.0, 22.0]
    assert newest_served_version(path) == "2"
    with pytest.raises(ValueError, match="holds no prediction of model version 3"):
        read_log(path, "3")


def test_the_stdout_sink_writes_json_lines(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = PredictionLog(ServingSettings(prediction_log_sink="stdout"), tmp_path / "unused.jsonl")
    log.append([entry(1, "1"), entry(2, "1")])
    log.close()
    lines = capfd.readouterr().out.splitlines()
    assert [json.loads(line)["transaction_id"] for line in lines] == ["t-1", "t-2"]
    assert not (tmp_path / "unused.jsonl").exists()
