"""Week 1: the raw data exists, meets its contract, and DVC records its version."""

from __future__ import annotations

from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.data.contract import (
    CUSTOMERS,
    TRANSACTIONS,
    ContractViolation,
    read_table,
)
from {{ cookiecutter.package_name }}.data.files import DataFiles
from {{ cookiecutter.package_name }}.governance.lineage import dvc_data_hashes, file_md5
from {{ cookiecutter.package_name }}.settings import Settings


def test_the_raw_data_exists_and_meets_its_contract(settings: Settings) -> None:
    files = DataFiles.of(settings)
    for path, schema in (
        (files.transactions, TRANSACTIONS),
        (files.customers, CUSTOMERS),
    ):
        if not path.is_file():
            next_step(f"{path.name} is missing: run `make data` to generate the raw data")
        try:
            read_table(path, schema)
        except ContractViolation as broken:
            next_step(f"{path.name} breaks its contract ({broken}): regenerate it with `make data`")


def test_dvc_lock_records_the_data_in_the_folder(settings: Settings) -> None:
    recorded = dvc_data_hashes(settings.project_root)
    for path in (DataFiles.of(settings).transactions, DataFiles.of(settings).customers):
        key = f"dvc:{path.relative_to(settings.project_root).as_posix()}"
        if key not in recorded:
            next_step(f"dvc.lock does not record {key[4:]}: run `make data` (it runs `dvc repro`)")
        if path.is_file() and file_md5(path) != recorded[key]:
            next_step(
                f"{key[4:]} is not the version dvc.lock records: run `make data` to rebuild it, "
                "or `dvc checkout` to restore the recorded one"
            )
