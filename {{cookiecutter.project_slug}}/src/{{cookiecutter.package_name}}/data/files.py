"""Where the data files live, and how they are written without ever leaving half a file behind."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from {{ cookiecutter.package_name }}.settings import Settings


@dataclass(frozen=True)
class DataFiles:
    """The DVC-tracked files of the project (outputs of the `generate` and `features` stages)."""

    customers: Path
    transactions: Path
    features: Path

    @classmethod
    def of(cls, settings: Settings) -> DataFiles:
        """The files under the project's data folder."""
        data = settings.resolve(settings.paths.data_dir)
        return cls(
            customers=data / "raw" / "customers.parquet",
            transactions=data / "raw" / "transactions.parquet",
            features=data / "features" / "customer_features.parquet",
        )


def write_parquet_atomically(frames: dict[Path, pd.DataFrame]) -> None:
    """Write every frame to a temporary file first, then rename them all into place.

    A failure while writing leaves every previous output untouched.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for path, frame in frames.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=path.parent, suffix=".parquet.tmp")
            os.close(handle)
            staged.append((Path(name), path))
            frame.to_parquet(name, index=False)
        for staged_file, path in staged:
            staged_file.replace(path)
    finally:
        for staged_file, _ in staged:
            staged_file.unlink(missing_ok=True)
