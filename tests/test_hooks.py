"""Bad answers stop the bake in the pre-generation hook with one readable line and leave nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bakery import run_cookiecutter_cli

BAD_ANSWERS = [
    (["project_name=1 Bad"], "project_slug '1-bad'"),
    (["project_name="], "project_name is empty"),
    (["project_name=   "], "project_name is empty"),
    (["project_slug=Fraud_Detection"], "project_slug 'Fraud_Detection'"),
    (["project_slug=9lives"], "project_slug '9lives'"),
    (["project_slug=fraud--detection"], "project_slug 'fraud--detection'"),
    (["package_name=class"], "package_name 'class'"),
    (["package_name=fraud-detection"], "package_name 'fraud-detection'"),
    (["package_name=FraudDetection"], "package_name 'FraudDetection'"),
    *[
        ([f"package_name={name}"], f"package_name {name!r} would shadow")
        for name in (
            "zenml",
            "feast",
            "mlflow",
            "bentoml",
            "evidently",
            "xgboost",
            "dvc",
            "kfp",
            "test",
            "tests",
            "sklearn",
            "json",
        )
    ],
    (["author_email=not-an-email"], "author_email 'not-an-email'"),
    (["author_email=a@b"], "author_email 'a@b'"),
    (["version=one"], "version 'one'"),
    (["python_version=3.9"], "python_version '3.9'"),
    (["python_version=3.13"], "python_version '3.13'"),
    (["python_version=three"], "python_version 'three'"),
]


@pytest.mark.parametrize(("answers", "reason"), BAD_ANSWERS, ids=lambda value: str(value))
def test_bad_answer_fails_with_one_line_and_leaves_nothing(
    tmp_path: Path, answers: list[str], reason: str
) -> None:
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    result = run_cookiecutter_cli(output_dir, *answers)
    assert result.returncode != 0, result.stdout + result.stderr
    # The hook's line is all of stderr; cookiecutter's own report of the stop goes to stdout.
    error_lines = result.stderr.strip().splitlines()
    assert len(error_lines) == 1, result.stderr
    assert error_lines[0].startswith(f"ERROR: {reason}"), result.stderr
    assert list(output_dir.iterdir()) == [], "a rejected answer must leave no directory"


def test_every_error_names_what_is_allowed(tmp_path: Path) -> None:
    result = run_cookiecutter_cli(tmp_path, "python_version=3.9")
    assert "allowed: 3.11, 3.10, 3.12" in result.stderr


def test_a_valid_custom_name_bakes(tmp_path: Path) -> None:
    result = run_cookiecutter_cli(tmp_path, "project_name=Card Risk 2", "author_email=a@b.io")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "card-risk-2" / "src" / "card_risk_2" / "cli" / "__init__.py").is_file()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("license", "GPL-3.0"),
        ("online_store", "cassandra"),
        ("remote_storage", "azure"),
        ("ci", "jenkins"),
    ],
)
def test_an_unknown_choice_is_rejected_by_the_hook(tmp_path: Path, option: str, value: str) -> None:
    result = run_cookiecutter_cli(tmp_path, f"{option}={value}")
    assert result.returncode != 0
    assert f"ERROR: {option} {value!r} is not supported; allowed: " in result.stderr
    assert list(tmp_path.iterdir()) == []
