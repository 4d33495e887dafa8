from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import typer
import yaml
from typer.core import TyperGroup
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app

runner = CliRunner()


def test_settings_prints_the_resolved_values(project_copy: Path) -> None:
    result = runner.invoke(app, ["settings"])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    assert shown["storage"]["kind"] == "{{ cookiecutter.remote_storage }}"
    assert shown["feast"]["feature_service"] == "fraud_model_v1"


def test_settings_schema_is_json_schema_of_every_section(project_copy: Path) -> None:
    result = runner.invoke(app, ["settings", "--schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    assert {"seed", "paths", "storage", "data", "features", "feast", "tracking"} <= set(
        schema["properties"]
    )


def test_invalid_params_fail_with_one_line_naming_the_field(project_copy: Path) -> None:
    params_file = project_copy / "params.yaml"
    params_file.write_text(params_file.read_text().replace("seed: 42", "seed: -3"))
    console_script = Path(sys.executable).parent / "{{ cookiecutter.project_slug }}"
    result = subprocess.run(
        [console_script, "settings"], cwd=project_copy, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: invalid settings: seed: ")
    debug = subprocess.run(
        [console_script, "--debug", "settings"], cwd=project_copy, capture_output=True, text=True
    )
    assert "Traceback" in debug.stderr


def test_info_reports_the_pinned_stack_and_matches_the_lock(project_copy: Path) -> None:
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["mismatches"] == []
    assert len(report["lock_sha256"]) == 64
    for tool in ("zenml", "kfp", "feast", "dvc", "mlflow", "bentoml", "evidently", "xgboost"):
        assert report["stack"][tool] != "missing", tool


# The command line the Makefile, the docs and the checkpoints call: it must not change shape.
COMMANDS = {
    "settings",
    "info",
    "data fetch",
    "data raw",
    "data remote",
    "features build",
    "features apply",
    "features online",
    "features training-set",
    "stack",
    "kfp compile",
    "kfp image",
    "kfp pin",
    "kfp predictions",
    "kfp run",
    "ui",
    "train",
    "infer",
    "monitor",
    "promote",
    "rollback",
    "audit",
    "evidence",
    "models",
    "bento",
    "serve",
    "send",
    "compare",
    "bento-export",
}


def leaf_commands(group: TyperGroup, prefix: str = "") -> set[str]:
    names = set()
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            names |= leaf_commands(command, f"{prefix}{name} ")
        else:
            names.add(f"{prefix}{name}")
    return names


def test_the_command_groups_add_up_to_the_documented_command_line() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    assert leaf_commands(root) == COMMANDS


def test_help_of_every_command_ends_with_an_example() -> None:
    for command in sorted(COMMANDS):
        result = runner.invoke(app, [*command.split(), "--help"])
        assert result.exit_code == 0, result.output
        assert "Example:" in result.output, command


def test_help_imports_none_of_the_heavy_libraries() -> None:
    heavy = ("pandas", "mlflow", "bentoml", "feast", "zenml", "kfp", "xgboost", "evidently")
    probe = (
        "import sys; from {{ cookiecutter.package_name }}.cli import app; "
        f"print(sorted(set({heavy!r}) & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
