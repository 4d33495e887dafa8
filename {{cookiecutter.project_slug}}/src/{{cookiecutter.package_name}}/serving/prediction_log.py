"""Every served prediction as one JSON line: the record that monitoring and `compare` read.

Each line holds when it was served, the transaction's identifiers and time, which model answered
(and, in shadow mode, what the staging model said), the score and decision, the reasons when
asked for, and the model inputs as the model saw them (missing values as null).

Writing is off the request path: the scoring thread writes a batch's lines after it has handed
the answers back (serving/batching.py). The file rotates by size (the standard library's
`RotatingFileHandler`) and keeps `serving.prediction_log_backups` old files; each worker process
writes its own file. With `prediction_log_sink: stdout` the lines go to standard output for a
cluster's log shipper.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.settings import ServingSettings

LOGGER_NAME = "{{ cookiecutter.package_name }}.predictions"


def worker_log_path(path: Path, worker: int) -> Path:
    """Worker 1 writes `path`; worker N writes `<stem>-wN<suffix>` beside it."""
    return path if worker <= 1 else path.with_name(f"{path.stem}-w{worker}{path.suffix}")


class PredictionLog:
    """A size-rotated file (or stdout), safe to share between a worker's threads."""

    def __init__(self, settings: ServingSettings, path: Path, worker: int = 1) -> None:
        """Open the worker's file (or stdout); `close()` flushes it before the process ends."""
        target: logging.Handler
        if settings.prediction_log_sink == "stdout":
            target = logging.StreamHandler(sys.stdout)
        else:
            path = worker_log_path(path, worker)
            path.parent.mkdir(parents=True, exist_ok=True)
            target = logging.handlers.RotatingFileHandler(
                path,
                maxBytes=settings.prediction_log_max_bytes,
                backupCount=settings.prediction_log_backups,
                encoding="utf-8",
            )
        target.setFormatter(logging.Formatter("%(message)s"))
        self.path = path
        self._target = target
        self._logger = logging.Logger(LOGGER_NAME)  # not in the logging tree: never propagates
        self._logger.addHandler(target)

    def append(self, entries: list[dict[str, Any]]) -> None:
        """Queue one line per entry; `served_at` is added here."""
        served_at = datetime.now(timezone.utc).isoformat()
        self._logger.info(
            "\n".join(json.dumps({"served_at": served_at, **entry}) for entry in entries)
        )

    def close(self) -> None:
        """Flush and close the file."""
        self._target.flush()
        self._target.close()


def features_entry(inputs: dict[str, np.ndarray], row: int) -> dict[str, float | None]:
    """One row of the model inputs, with NaN as null (JSON has no NaN)."""
    values = {name: float(column[row]) for name, column in inputs.items()}
    return {name: value if value == value else None for name, value in values.items()}


def log_files(path: Path) -> list[Path]:
    """Every file of the log, rotated ones and other workers' included, oldest first."""
    pattern = f"{path.stem}*{path.suffix}*"
    return sorted(path.parent.glob(pattern), key=lambda file: file.stat().st_mtime)


def read_entries(path: Path) -> Iterator[dict[str, Any]]:
    """The log's lines as dictionaries, streaming; a line cut by a crash is skipped."""
    for file in log_files(path):
        with file.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue


def newest_served_version(path: Path) -> str | None:
    """The model version that answered the newest logged request (None for an empty log)."""
    newest: tuple[str, str] | None = None
    for entry in read_entries(path):
        if newest is None or entry["served_at"] >= newest[0]:
            newest = (entry["served_at"], entry["model_version"])
    return newest[1] if newest else None


def read_log(path: Path, version: str) -> pd.DataFrame:
    """One version's predictions: the model inputs as served and the score, oldest first."""
    rows = [
        (entry["served_at"], entry["features"], entry["fraud_probability"])
        for entry in read_entries(path)
        if entry["model_version"] == version
    ]
    if not rows:
        raise ValueError(
            f"{path} holds no prediction of model version {version}: serve requests first "
            "(make serve) or monitor a batch (--source batch)"
        )
    rows.sort(key=lambda row: row[0])
    frame = pd.DataFrame([features for _, features, _ in rows], dtype=float)
    return frame.assign(fraud_probability=[score for _, _, score in rows])
