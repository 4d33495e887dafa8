"""Where the raw tables come from: the synthetic generator or a team's own transactions file.

`fetch_source` keeps DVC's copy of the source current (`dvc import-url` the first time, then
`dvc update`, which compares the source's checksum), so a changed source re-imports and an
unchanged one leaves everything as it is. `write_raw_tables` is the DVC `raw` stage: it reads that
copy through the mapping, or runs the generator, and writes the tables and the import report
together, or nothing at all.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import yaml

from {{ cookiecutter.package_name }}.data.files import DataFiles, write_atomically
from {{ cookiecutter.package_name }}.data.generate import generate
from {{ cookiecutter.package_name }}.data.importer import (
    Imported,
    ImportReport,
    import_transactions,
    summarise,
)
from {{ cookiecutter.package_name }}.data.versioning import dvc
from {{ cookiecutter.package_name }}.settings import DataSettings, Settings, Workspace

COPY_NAME = "transactions"


def source_copy(workspace: Workspace, data: DataSettings) -> Path:
    """Where DVC keeps its copy of the source: data/source/transactions.<the source's suffix>."""
    return DataFiles.of(workspace).source_folder / f"{COPY_NAME}{data.source_suffix}"


def fetch_source(settings: Settings) -> str:
    """Bring DVC's copy of `data.source` up to date; returns one line saying what happened.

    An import of another source (or any import, for `synthetic`) is removed first, so the `raw`
    stage's input folder holds exactly the configured source.
    """
    folder = DataFiles.of(settings).source_folder
    folder.mkdir(parents=True, exist_ok=True)
    copy = None if settings.data.synthetic else source_copy(settings, settings.data)
    location = "" if copy is None else _location(settings, settings.data.source)
    for dvc_file in sorted(folder.glob("*.dvc")):
        if copy is None or dvc_file != _dvc_file(copy) or _recorded(settings, dvc_file) != location:
            dvc(settings, "remove", "--outs", _relative(settings, dvc_file))
    if copy is None:
        return "source: synthetic (the `raw` stage generates the data)"
    wanted = _dvc_file(copy)
    if wanted.exists():
        before = _checksum(wanted)
        dvc(settings, "update", _relative(settings, wanted))
        changed = _checksum(wanted) != before
        return f"source {settings.data.source}: " + (
            "changed, re-imported" if changed else "unchanged"
        )
    dvc(settings, "import-url", location, _relative(settings, copy))
    return f"source {settings.data.source}: imported to {_relative(settings, copy)}"


def write_raw_tables(settings: Settings) -> ImportReport:
    """The DVC `raw` stage: customers, transactions and the import report, all or nothing.

    A source that breaks the contract raises ContractViolation before anything is written, so
    the last good tables stay in place (the stage's outputs are `persist`ed in dvc.yaml).
    """
    files = DataFiles.of(settings)
    if settings.data.synthetic:
        dataset = generate(settings.data, settings.seed)
        imported = Imported(
            customers=dataset.customers,
            transactions=dataset.transactions,
            report=_synthetic_report(dataset.transactions),
        )
    else:
        imported = read_source(settings)
    write_atomically(
        {
            files.customers: imported.customers,
            files.transactions: imported.transactions,
            files.import_report: imported.report.to_json(),
            files.import_report_markdown: imported.report.to_markdown(),
        }
    )
    return imported.report


def read_source(settings: Settings) -> Imported:
    """Read DVC's copy of the source and map it to the project's tables."""
    copy = source_copy(settings, settings.data)
    if not copy.exists():
        raise FileNotFoundError(
            f"{copy} is missing: `make data` imports {settings.data.source} first"
        )
    if settings.data.source_format == "csv":
        # Text as written: ids stay exact and every value reaches the rules as the file has it.
        frame = pd.read_csv(copy, dtype=str, skipinitialspace=True)
        return import_transactions(frame, settings.data.mapping, settings.data.source)
    return import_transactions(
        pd.read_parquet(copy),
        settings.data.mapping,
        settings.data.source,
        row_label=lambda position: f"row {position + 1}",
    )


def _synthetic_report(transactions: pd.DataFrame) -> ImportReport:
    report = ImportReport(
        source="synthetic",
        rows_read=len(transactions),
        transaction_ids="generated",
        customers_derived=False,
    )
    summarise(report, transactions)
    return report


def _dvc_file(copy: Path) -> Path:
    return copy.with_name(f"{copy.name}.dvc")


def _location(workspace: Workspace, source: str) -> str:
    """A URL as it is; a path relative to the project when inside it (so clones agree)."""
    if "://" in source:
        return source
    path = workspace.resolve(Path(source)).resolve()
    root = workspace.project_root.resolve()
    return os.path.relpath(path, root) if path.is_relative_to(root) else str(path)


def _recorded(workspace: Workspace, dvc_file: Path) -> str:
    """The source an import's .dvc file names, in the form `_location` gives."""
    recorded = str(yaml.safe_load(dvc_file.read_text())["deps"][0]["path"])
    return recorded if "://" in recorded else _location(workspace, str(dvc_file.parent / recorded))


def _checksum(dvc_file: Path) -> str:
    """The checksum DVC recorded for its copy of the source."""
    return str(yaml.safe_load(dvc_file.read_text())["outs"][0].get("md5"))


def _relative(workspace: Workspace, path: Path) -> str:
    return os.path.relpath(path, workspace.project_root)
