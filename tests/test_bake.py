"""Every option value bakes into exactly the expected, clean, lint-free project."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.bakery import (
    CHOICES,
    CONTEXT,
    IDENTITY,
    TEMPLATE,
    bake,
    baked_files,
    expected_files,
    make,
    pairwise,
)

COMBINATIONS = pairwise(CHOICES)
RUFF = Path(sys.executable).parent / "ruff"
UV = Path(sys.executable).parent / "uv"
LICENSE_FIRST_LINES = {
    "MIT": "MIT License",
    "Apache-2.0": "Apache License",
    "BSD-3-Clause": "Copyright (c) ",
    "Proprietary": "Copyright ",
}


def combination_id(answers: dict[str, str]) -> str:
    return "-".join(answers.values())


def test_pairwise_covers_every_pair_of_option_values() -> None:
    names = list(CHOICES)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            seen = {(combo[first], combo[second]) for combo in COMBINATIONS}
            assert len(seen) == len(CHOICES[first]) * len(CHOICES[second]), (first, second)
    assert len(COMBINATIONS) < 20, "pairwise must stay far below the full product"


@pytest.fixture(scope="module", params=COMBINATIONS, ids=combination_id)
def baked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    answers = request.param
    with pytest.MonkeyPatch.context() as patch:
        for name, value in IDENTITY.items():
            patch.setenv(name, value)
        project = bake(tmp_path_factory.mktemp("bake"), **answers)
    return answers, project


def test_exact_file_set(baked: tuple) -> None:
    answers, project = baked
    assert baked_files(project) == expected_files(answers)


def test_no_template_tag_survives(baked: tuple) -> None:
    _, project = baked
    for relative in baked_files(project):
        text = (project / relative).read_text(errors="ignore")
        for tag in ("{{", "{%", "{#", "cookiecutter."):
            # GitHub Actions expressions (`${{ ... }}`) and Prometheus alert templates
            # (`{{ $value }}`) are legitimate output, not leftover tags.
            leftovers = re.sub(r"\$\{\{|\{\{ \$", "", text) if tag == "{{" else text
            assert tag not in leftovers, f"{relative} still contains {tag!r}"


def test_answers_reach_the_files(baked: tuple) -> None:
    answers, project = baked
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "fraud-detection"
    assert pyproject["project"]["requires-python"].startswith(f">={answers['python_version']}")
    assert pyproject["project"]["scripts"] == {"fraud-detection": "fraud_detection.cli:app"}
    spdx = {"Proprietary": "LicenseRef-Proprietary"}.get(answers["license"], answers["license"])
    assert pyproject["project"]["license"] == spdx
    params = yaml.safe_load((project / "params.yaml").read_text())
    feast_config = yaml.safe_load((project / "feature_repo" / "feature_store.yaml").read_text())
    assert feast_config["online_store"]["type"] == answers["online_store"]
    assert ("redis_connection_string" in params["feast"]) == (answers["online_store"] == "redis")
    assert params["storage"]["kind"] == answers["remote_storage"]
    scheme = {"local": "../", "s3": "s3://", "gcs": "gs://"}[answers["remote_storage"]]
    assert params["storage"]["remote_url"].startswith(scheme)
    license_text = (project / "LICENSE").read_text()
    assert license_text.startswith(LICENSE_FIRST_LINES[answers["license"]])
    assert CONTEXT["author_name"] in license_text
    env_example = (project / ".env.example").read_text()
    assert ("REDIS_CONNECTION_STRING" in env_example) == (answers["online_store"] == "redis")
    assert ("AWS_ACCESS_KEY_ID" in env_example) == (answers["remote_storage"] == "s3")


def test_ci_runs_make_test_with_the_chosen_python(baked: tuple) -> None:
    answers, project = baked
    ci_file = {"github": ".github/workflows/ci.yml", "gitlab": ".gitlab-ci.yml"}.get(answers["ci"])
    if ci_file is None:
        assert not (project / ".github").exists()
        assert not (project / ".gitlab-ci.yml").exists()
        return
    ci = yaml.safe_load((project / ci_file).read_text())
    text = (project / ci_file).read_text()
    assert "make test" in text
    assert answers["python_version"] in text
    assert "==" not in text, "pins live in requirements.lock only"
    assert ("redis-server" in text) == (answers["online_store"] == "redis")
    assert ci, "the CI file must parse as YAML"


def test_baked_code_passes_ruff(baked: tuple) -> None:
    _, project = baked
    for command in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run([RUFF, *command], cwd=project, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_git_and_dvc_are_initialised_with_a_clean_first_commit(baked: tuple) -> None:
    _, project = baked
    log = subprocess.run(
        ["git", "log", "--format=%an|%s"], cwd=project, capture_output=True, text=True, check=True
    )
    assert log.stdout.strip() == "Template Tests|Initial project from cookiecutter-mlops-stack"
    branch = subprocess.run(
        ["git", "branch", "--show-current"], cwd=project, capture_output=True, text=True
    )
    assert branch.stdout.strip() == "main"
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True
    )
    assert status.stdout == "", "the first commit must hold every generated file"
    assert (project / ".dvc" / "config").is_file()


def test_without_git_identity_no_commit_and_a_notice(
    tmp_path: Path, no_git_identity: None, capfd: pytest.CaptureFixture[str]
) -> None:
    project = bake(tmp_path)
    assert "No git identity" in capfd.readouterr().out
    assert (project / ".git").is_dir()
    log = subprocess.run(["git", "log"], cwd=project, capture_output=True, text=True)
    assert log.returncode != 0, "there must be no commit without an identity"
    assert (project / ".dvc" / "config").is_file()


def test_inside_an_existing_repository_dvc_uses_subdir(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    project = bake(tmp_path)
    assert "no nested repository" in capfd.readouterr().out
    assert not (project / ".git").exists()
    assert (project / ".dvc" / "config").is_file()
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert "fraud-detection/params.yaml" in status.stdout


def test_in_an_ignored_folder_of_a_repository_the_project_gets_its_own(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("build/\n")
    project = bake(tmp_path / "build")
    assert (project / ".git").is_dir()


def test_cookiecutter_without_dvc_leaves_dvc_init_to_make_setup(tmp_path: Path) -> None:
    """The usual install (pipx, a bare virtualenv) has cookiecutter but not DVC beside it."""
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    lock = TEMPLATE / "{{cookiecutter.project_slug}}" / "requirements.lock"
    install = [UV, "pip", "install", "--python", venv / "bin" / "python", "-c", lock]
    subprocess.run([*install, "cookiecutter"], check=True, capture_output=True)
    result = subprocess.run(
        [venv / "bin" / "cookiecutter", "--no-input", TEMPLATE, "--output-dir", tmp_path],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "`make setup` will run `dvc init`" in result.stdout
    project = tmp_path / "fraud-detection"
    assert (project / ".git").is_dir()
    assert not (project / ".dvc").exists()
    setup = make(project, "setup")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert (project / ".dvc" / "config").is_file()
