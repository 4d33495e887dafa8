"""Bad answers stop the bake in the pre-generation hook with one readable line and leave nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bakery import CHOICES, IDENTITY, QUESTIONS, TEMPLATE, run_cookiecutter_cli

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
]
# Menu values cookiecutter itself refuses, with a traceback: `make bake` says it in one line.
BAD_MENU_VALUES = [
    ("python_version", "3.9"),
    ("python_version", "3.13"),
    ("python_version", "three"),
    ("license", "GPL-3.0"),
    ("online_store", "cassandra"),
    ("offline_store", "pandas"),
    ("remote_storage", "azure"),
    ("ci", "jenkins"),
]
BAKE_SCRIPT = TEMPLATE / "scripts" / "bake.py"


def run_bake_script(output_dir: Path, *answers: str) -> subprocess.CompletedProcess[str]:
    """What `make bake ARGS=...` runs, with no standard input."""
    return subprocess.run(
        [sys.executable, str(BAKE_SCRIPT), str(output_dir), *answers],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **IDENTITY},
    )


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


def test_a_valid_custom_name_bakes(tmp_path: Path) -> None:
    result = run_cookiecutter_cli(tmp_path, "project_name=Card Risk 2", "author_email=a@b.io")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "card-risk-2" / "src" / "card_risk_2" / "cli" / "__init__.py").is_file()


@pytest.mark.parametrize(("option", "value"), BAD_MENU_VALUES)
def test_make_bake_refuses_a_value_off_the_menu_in_one_line_naming_what_is_allowed(
    tmp_path: Path, option: str, value: str
) -> None:
    result = run_bake_script(tmp_path, f"{option}={value}")
    assert result.returncode == 1
    allowed = ", ".join(CHOICES[option])
    expected = f"ERROR: {option} {value!r} is not supported; allowed: {allowed}"
    assert result.stderr.strip().splitlines() == [expected]
    assert list(tmp_path.iterdir()) == []


def test_make_bake_refuses_a_misspelt_option_that_cookiecutter_would_ignore(tmp_path: Path) -> None:
    result = run_bake_script(tmp_path, "licence=MIT")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "ERROR: 'licence' is not an option; options: " + ", ".join(QUESTIONS)
    ]


def test_make_bake_reports_a_bad_free_text_answer_without_a_traceback(tmp_path: Path) -> None:
    result = run_bake_script(tmp_path, "author_email=risk-team")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "ERROR: author_email 'risk-team' is not an email address, e.g. 'you@example.com'"
    ]
    assert "Traceback" not in result.stdout + result.stderr
    assert "--replay-file" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_make_bake_runs_the_script_with_the_answers_and_bakes_them(tmp_path: Path) -> None:
    dry_run = subprocess.run(
        ["make", "-n", "bake", "ARGS=online_store=redis ci=none"],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
    )
    assert "scripts/bake.py build/bake online_store=redis ci=none" in dry_run.stdout
    result = run_bake_script(tmp_path, "online_store=redis", "ci=none")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "type: redis"
        in (tmp_path / "fraud-detection" / "feature_repo" / "feature_store.yaml").read_text()
    )


def test_cookiecutter_s_own_refusal_of_a_menu_value_is_the_one_documented(tmp_path: Path) -> None:
    result = run_cookiecutter_cli(tmp_path, "license=oracle")
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line == (
        "ValueError: oracle provided for choice variable license, but the choices are "
        "['MIT', 'Apache-2.0', 'BSD-3-Clause', 'Proprietary']."
    )
    assert last_line in (TEMPLATE / "docs" / "options.md").read_text()
    assert list(tmp_path.iterdir()) == []
