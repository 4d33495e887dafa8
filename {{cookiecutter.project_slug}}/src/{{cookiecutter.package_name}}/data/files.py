"""Where the data files live, and how they are written without ever leaving half a file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from {{ cookiecutter.package_name }}.settings import PathSettings, Workspace

if TYPE_CHECKING:
    # Only annotations use pandas: the CLI can read the paths without importing it.
    import pandas as pd

# The files inside the data folder (`paths.data_dir`); dvc.yaml names the same outputs.
CUSTOMERS_FILE = Path("raw", "customers.parquet")
TRANSACTIONS_FILE = Path("raw", "transactions.parquet")
FEATURES_FILE = Path("features", "customer_features.parquet")
# What the `raw` stage read and dropped, beside the tables it wrote (data/sources.py).
IMPORT_REPORT_JSON = Path("raw", "import_report.json")
IMPORT_REPORT_MARKDOWN = Path("raw", "import_report.md")
# DVC's copy of a team's own transactions file (`dvc import-url`), the `raw` stage's input.
SOURCE_FOLDER = Path("source")
# The raw transactions relative to the project root, with the default data folder: the batch
# that batch inference and monitoring score unless given another file.
RAW_TRANSACTIONS = (PathSettings().data_dir / TRANSACTIONS_FILE).as_posix()


@dataclass(frozen=True)
class DataFiles:
    """The DVC-tracked files of the project (outputs of the `raw` and `features` stages)."""

    customers: Path
    transactions: Path
    features: Path
    import_report: Path
    import_report_markdown: Path
    source_folder: Path

    @classmethod
    def of(cls, settings: Workspace) -> DataFiles:
        """The files under the project's data folder."""
        data = settings.resolve(settings.paths.data_dir)
        return cls(
            customers=data / CUSTOMERS_FILE,
            transactions=data / TRANSACTIONS_FILE,
            features=data / FEATURES_FILE,
            import_report=data / IMPORT_REPORT_JSON,
            import_report_markdown=data / IMPORT_REPORT_MARKDOWN,
            source_folder=data / SOURCE_FOLDER,
        )


def read_transactions_to_score(workspace: Workspace, path: str, newest: int) -> pd.DataFrame:
    """The newest `newest` transactions of a project file (0: all), at its DVC version, checked.

    Batch inference and monitoring read their batch this way.
    """
    from {{ cookiecutter.package_name }}.data.contract import TIME, TRANSACTIONS_TO_SCORE, read_table
    from {{ cookiecutter.package_name }}.data.versioning import pull_missing

    source = workspace.resolve(workspace.project_root / path)
    pull_missing(workspace, source)
    batch = read_table(source, TRANSACTIONS_TO_SCORE)
    return batch.sort_values(TIME).tail(newest) if newest else batch


def save_predictions(workspace: Workspace, predictions: pd.DataFrame) -> Path:
    """Write scored transactions under artifacts/predictions/, named by model version and time.

    A copy for the people on this machine: the pipeline's `predictions` artifact is the record.
    """
    version = predictions["model_version"].iloc[0] if len(predictions) else "none"
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = workspace.resolve(workspace.paths.artifacts_dir) / "predictions"
    path = folder / f"predictions_v{version}_{stamp}.parquet"
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically({path: predictions})
    return path


def write_atomically(contents: dict[Path, pd.DataFrame | str]) -> None:
    """Write every table (Parquet) or text to a temporary file first, then rename them into place.

    A failure while writing leaves every previous output untouched.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for path, content in contents.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=path.parent, suffix=f"{path.suffix}.tmp")
            os.close(handle)
            staged.append((Path(name), path))
            if isinstance(content, str):
                Path(name).write_text(content, encoding="utf-8")
            else:
                content.to_parquet(name, index=False)
        for staged_file, path in staged:
            staged_file.replace(path)
    finally:
        for staged_file, _ in staged:
            staged_file.unlink(missing_ok=True)


@contextmanager
def staged(path: Path) -> Iterator[Path]:
    """A temporary file beside `path` for a writer of its own (DuckDB) to fill.

    It replaces `path` only when the block finishes without an error: a failed write leaves the
    previous file as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, suffix=f"{path.suffix}.tmp")
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
