"""The documentation site builds strictly and its options reference matches cookiecutter.json."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bakery import CHOICES, CONTEXT, QUESTIONS, TEMPLATE, bake
from tests.test_learning_path import LOCAL_WORKFLOW

MKDOCS = Path(sys.executable).parent / "mkdocs"
PROJECT_DOCS = TEMPLATE / "{{cookiecutter.project_slug}}" / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [MKDOCS, "build", "--strict", "--site-dir", str(site_dir)],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return site_dir


def page_text(site: Path, page: str) -> str:
    """The visible text of a built page, tags removed and entities decoded."""
    raw = (site / page / "index.html").read_text()
    return html.unescape(re.sub(r"<[^>]+>", " ", raw))


def question(name: str) -> str:
    """The question cookiecutter asks for an option (a menu's prompt has its own key)."""
    prompt = CONTEXT["__prompts__"][name]
    return str(prompt["__prompt__"] if isinstance(prompt, dict) else prompt)


def test_options_page_shows_every_option_with_its_prompt_and_values(site: Path) -> None:
    text = " ".join(page_text(site, "options").split())
    assert len(QUESTIONS) == 13
    for name in QUESTIONS:
        assert name in text
        assert " ".join(question(name).split()) in text, name
    for name, values in CHOICES.items():
        for value in values:
            label = CONTEXT["__prompts__"][name][value].split(": ", 1)[1]
            assert f"{value} : {label}" in text, label  # `value`: label, tags removed
    assert "<!-- options-table -->" not in (site / "options" / "index.html").read_text()


def test_every_menu_value_has_a_label_that_starts_with_the_value() -> None:
    assert set(CHOICES) == {
        "python_version",
        "license",
        "online_store",
        "offline_store",
        "remote_storage",
        "ci",
    }
    for name, values in CHOICES.items():
        labels = CONTEXT["__prompts__"][name]
        assert list(labels) == ["__prompt__", *values], name
        for value in values:
            assert labels[value].startswith(f"{value}: "), labels[value]


def test_getting_started_shows_the_readme_commands(site: Path) -> None:
    text = page_text(site, "getting-started")
    readme = (TEMPLATE / "README.md").read_text()
    for command in ("make demo", "make test"):
        assert command in text
        assert command in readme


BASH_BLOCK = re.compile(r"```bash\n(.*?)```", re.DOTALL)
# Baking a project: the bake and hook tests run cookiecutter and make bake's script.
BAKING = (".venv/bin/cookiecutter", "make bake", "cd ")
# Run by tests/test_baked_project.py on a default bake.
RUN_BY_BAKED_PROJECT_TESTS = {"lint", "test", "info", "help"}
# Quoted but only checked to exist: each needs something this machine and CI do not have.
EXISTENCE_ONLY = {
    "stack-kubeflow": "a Kubeflow Pipelines cluster",
    "kfp-run": "a Kubeflow Pipelines cluster",
    "pipeline-image": "a Docker engine and a registry",
    "pipeline-image-cuda": "a Docker engine and a registry",
    "data-push": "a shared DVC remote",
    "data-pull": "a shared DVC remote",
    "mlflow-ui": "a person with a browser (the project's e2e test serves it)",
    "zenml-ui": "a person with a browser",
    "bento-export": "nothing: the project's serving test exports a Bento",
    "bench-features": "minutes of benchmarking (speed goals live in benchmark scripts)",
    "bench-serving": "minutes of benchmarking",
    "bench-training": "minutes of benchmarking",
    "serving-image": "a Docker engine (week 6's optional cluster lab)",
}
# Week 6's optional cluster lab: these need a local Kubernetes cluster and a Docker engine.
CLUSTER_LAB = ("kind ", "k3d ", "kubectl ")


def documented_commands() -> list[tuple[str, str]]:
    """Every command line of a ```bash block of the site, with the page it is on."""
    pages = [*sorted((TEMPLATE / "docs").rglob("*.md")), *sorted(PROJECT_DOCS.glob("*.md"))]
    return [
        (page.name, line.split("#")[0].strip())
        for page in pages
        for block in BASH_BLOCK.findall(page.read_text())
        for line in block.splitlines()
        if line.split("#")[0].strip()
    ]


def test_every_documented_command_is_real_and_the_local_ones_are_run_by_a_test(
    tmp_path: Path,
) -> None:
    project = bake(tmp_path)
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", (project / "Makefile").read_text(), re.M))
    commands = documented_commands()
    assert len(commands) > 40
    project_targets = []
    for page, command in commands:
        if command.startswith(BAKING):
            continue
        if command.startswith(CLUSTER_LAB):
            assert page == "week-6.md", f"{page}: {command!r} needs a cluster: keep it in the lab"
            continue
        assert command.startswith("make "), f"{page}: {command!r} is not a make command"
        target = command.split()[1]
        assert target in targets, f"{page}: `make {target}` is not a target of a baked project"
        project_targets.append(target)
    run = set(LOCAL_WORKFLOW) | RUN_BY_BAKED_PROJECT_TESTS
    untested = set(project_targets) - run - EXISTENCE_ONLY.keys()
    assert not untested, f"documented commands no test runs: {sorted(untested)}"
    assert {"checkpoint", "train", "monitor", "evidence"} <= set(project_targets)
