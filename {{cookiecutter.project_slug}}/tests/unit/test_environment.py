from __future__ import annotations

from pathlib import Path

from {{ cookiecutter.package_name }}.governance.environment import (
    LOCK_FILE,
    environment_report,
    lock_file_of_this_environment,
    pinned_versions,
)
from {{ cookiecutter.package_name }}.model.requirements import XGBOOST_WHEELS, model_requirements


def test_lock_pins_apply_per_interpreter(project_copy: Path) -> None:
    pins = pinned_versions(project_copy / "requirements.lock")
    assert pins["zenml"].startswith("0.98.")
    assert pins["xgboost-cpu"].startswith("3.2.")
    assert all(not version.startswith("==") for version in pins.values())


def test_a_drifted_pin_is_reported(project_copy: Path) -> None:
    lock = project_copy / LOCK_FILE
    lock.write_text(lock.read_text().replace("\nzenml==", "\nzenml==0.0.1\n# was zenml=="))
    report = environment_report(project_copy)
    assert report.lock_file == LOCK_FILE
    assert any(line.startswith("zenml: pinned 0.0.1") for line in report.mismatches)
    assert report.stack["xgboost"].startswith("3.2.")


def test_lock_hash_changes_with_the_lock(project_copy: Path) -> None:
    before = environment_report(project_copy).lock_sha256
    lock = project_copy / LOCK_FILE
    lock.write_text(lock.read_text() + "\n")
    assert environment_report(project_copy).lock_sha256 != before


def test_the_cpu_and_gpu_locks_differ_only_in_the_xgboost_wheel(project_copy: Path) -> None:
    cpu = pinned_lines(project_copy / "requirements.lock")
    gpu = pinned_lines(project_copy / "requirements-gpu.lock")
    only_cpu = {line.split("==")[0] for line in cpu - gpu}
    only_gpu = {line.split("==")[0] for line in gpu - cpu}
    assert only_cpu == {"xgboost-cpu"}
    # The CUDA wheel brings NCCL (multi-GPU communication) with it on Linux.
    assert only_gpu == {"xgboost", "nvidia-nccl-cu12"}
    version = next(line for line in cpu if line.startswith("xgboost-cpu==")).split("==")[1]
    assert f"xgboost=={version}" in gpu


{% if cookiecutter.offline_store == "spark" -%}
def test_the_spark_lock_is_the_cpu_lock_plus_pyspark(project_copy: Path) -> None:
    cpu = pinned_lines(project_copy / "requirements.lock")
    spark = pinned_lines(project_copy / "requirements-spark.lock")
    assert cpu <= spark, "every other pin is held equal"
    assert {line.split("==")[0] for line in spark - cpu} == {"pyspark", "py4j"}


{% endif -%}
def pinned_lines(lock: Path) -> set[str]:
    return {line for line in lock.read_text().splitlines() if line and line[0] not in "# -"}


def test_a_logged_model_requires_one_xgboost_wheel_pinned_as_locked(project_copy: Path) -> None:
    requirements = dict(line.split("==") for line in model_requirements())
    assert len(requirements.keys() & set(XGBOOST_WHEELS)) == 1
    assert {"mlflow", "numpy"} <= requirements.keys()
    pins = pinned_versions(lock_file_of_this_environment(project_copy))
    assert {name: pins[name] for name in requirements} == requirements
