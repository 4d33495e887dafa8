"""Every served prediction, appended as one JSON line: the monitoring work reads this file.

Each line holds when it was served, the transaction's identifiers and time, the model version,
the score and decision, and the model inputs as the model saw them (missing values as null).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.serving.schemas import Transaction
from {{ cookiecutter.package_name }}.serving.scorer import Scored


class PredictionLog:
    """An append-only JSON-lines file, safe to share between the threads of one worker."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the log for appending, line-buffered so lines land as written."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("a", buffering=1, encoding="utf-8")
        self._lock = threading.Lock()

    def append(self, transactions: list[Transaction], scored: Scored) -> None:
        """One line per prediction."""
        served_at = datetime.now(timezone.utc).isoformat()
        names = list(scored.inputs)
        rows = np.column_stack([scored.inputs[name] for name in names]).tolist()
        lines = [
            json.dumps(
                {
                    "served_at": served_at,
                    "transaction_id": transaction.transaction_id,
                    "customer_id": transaction.customer_id,
                    "event_timestamp": transaction.event_timestamp.isoformat(),
                    "model_version": prediction.model_version,
                    "fraud_probability": prediction.fraud_probability,
                    "is_fraud": prediction.is_fraud,
                    "features_missing": prediction.features_missing,
                    "features": {n: v if v == v else None for n, v in zip(names, row, strict=True)},
                }
            )
            + "\n"
            for transaction, prediction, row in zip(
                transactions, scored.predictions, rows, strict=True
            )
        ]
        with self._lock:
            self._file.write("".join(lines))


def read_log(path: Path, version: str) -> pd.DataFrame:
    """One version's predictions: the model inputs as served and the score, oldest first."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    entries = [
        entry for entry in map(json.loads, filter(None, lines)) if entry["model_version"] == version
    ]
    if not entries:
        raise ValueError(
            f"{path} holds no prediction of model version {version}: serve requests first "
            "(make serve) or monitor a batch (--source batch)"
        )
    frame = pd.DataFrame([entry["features"] for entry in entries], dtype=float)
    return frame.assign(fraud_probability=[entry["fraud_probability"] for entry in entries])
