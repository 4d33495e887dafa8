from __future__ import annotations

from pathlib import Path

from {{ cookiecutter.package_name }}.governance.environment import environment_report, pinned_versions


def test_lock_pins_apply_per_interpreter(project_copy: Path) -> None:
    pins = pinned_versions(project_copy / "requirements.lock")
    assert pins["zenml"].startswith("0.98.")
    assert pins["xgboost"].startswith("3.2.")
    assert all(not version.startswith("==") for version in pins.values())


def test_a_drifted_pin_is_reported(project_copy: Path) -> None:
    lock = project_copy / "requirements.lock"
    lock.write_text(lock.read_text().replace("\nxgboost==", "\nxgboost==0.0.1\n# was xgboost=="))
    report = environment_report(project_copy)
    assert any(line.startswith("xgboost: pinned 0.0.1") for line in report.mismatches)


def test_lock_hash_changes_with_the_lock(project_copy: Path) -> None:
    before = environment_report(project_copy).lock_sha256
    lock = project_copy / "requirements.lock"
    lock.write_text(lock.read_text() + "\n")
    assert environment_report(project_copy).lock_sha256 != before
