from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.settings import Workspace, find_project_root, load_settings, load_workspace
from tests.helpers import ENV_PREFIX


def test_params_yaml_is_the_source(project_copy: Path) -> None:
    params = yaml.safe_load((project_copy / "params.yaml").read_text())
    settings = load_settings()
    assert settings.seed == params["seed"]
    assert settings.storage.kind == "{{ cookiecutter.remote_storage }}"
    assert settings.data.n_transactions == params["data"]["n_transactions"]
    assert settings.project_root == project_copy.resolve()


def test_environment_overrides_nested_keys(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}SEED", "7")
    monkeypatch.setenv(f"{ENV_PREFIX}PATHS__REPORTS_DIR", "elsewhere")
    settings = load_settings()
    assert settings.seed == 7
    assert settings.paths.reports_dir == Path("elsewhere")
    assert settings.paths.data_dir == Path("data"), "an override must not reset sibling keys"


def test_dotenv_file_is_read(project_copy: Path) -> None:
    (project_copy / ".env").write_text(f"{ENV_PREFIX}SEED=11\n")
    assert load_settings().seed == 11


def test_dotenv_keys_of_other_tools_are_left_to_them(project_copy: Path) -> None:
    (project_copy / ".env").write_text(f"KFP_HOST=http://kfp.example.com\n{ENV_PREFIX}SEED=3\n")
    assert load_settings(project_copy).seed == 3
    (project_copy / ".env").write_text(f"{ENV_PREFIX}SEEDD=3\n")
    with pytest.raises(ValidationError, match="seedd"):
        load_settings(project_copy)


def test_a_workspace_holds_where_things_live_and_no_decision(project_copy: Path) -> None:
    (project_copy / ".env").write_text(f"{ENV_PREFIX}GATE__MIN_ROC_AUC=0.9\n{ENV_PREFIX}SEED=3\n")
    workspace = load_workspace(project_copy)
    assert type(workspace) is Workspace
    assert not hasattr(workspace, "gate") and not hasattr(workspace, "seed")
    assert workspace.feast == load_settings(project_copy).feast
    (project_copy / ".env").write_text(f"{ENV_PREFIX}FEAST__REPO=elsewhere\n")
    with pytest.raises(ValidationError, match="repo"):
        load_workspace(project_copy)


def test_overrides_change_one_run_and_are_validated(project_copy: Path) -> None:
    params = (project_copy / "params.yaml").read_bytes()
    settings = load_settings(project_copy)
    changed = settings.with_overrides(["gate.min_roc_auc=0.9", "model.max_depth=3"])
    assert (changed.gate.min_roc_auc, changed.model.max_depth) == (0.9, 3)
    assert changed.gate.min_recall == settings.gate.min_recall
    assert changed.project_root == settings.project_root
    assert (project_copy / "params.yaml").read_bytes() == params
    with pytest.raises(ValueError, match=r"unknown setting 'gate\.min_auc'"):
        settings.with_overrides(["gate.min_auc=0.9"])
    with pytest.raises(ValueError, match=r"write section\.key=value"):
        settings.with_overrides(["gate.min_roc_auc"])
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        settings.with_overrides(["gate.min_roc_auc=2"])


def test_relative_paths_resolve_against_the_project_root(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nested = project_copy / "src" / "deep"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    settings = load_settings()
    assert settings.resolve(settings.paths.data_dir) == project_copy.resolve() / "data"
    assert find_project_root() == project_copy.resolve()


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("seed", -1, "seed"),
        ("unknown_key", 1, "unknown_key"),
        ("features", {"windows_hours": [1, 24, 9999], "ttl_days": 7}, "features"),
        ("data", {"fraud_rate": 0.9}, "data.fraud_rate"),
        ("storage", {"kind": "s3", "remote_url": "/tmp/not-a-bucket"}, "storage"),
    ],
)
def test_invalid_params_name_the_field(
    project_copy: Path, key: str, value: object, field: str
) -> None:
    params = yaml.safe_load((project_copy / "params.yaml").read_text())
    params[key] = value
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ValidationError) as error:
        load_settings()
    assert field in {".".join(str(part) for part in issue["loc"]) for issue in error.value.errors()}


def test_missing_params_file_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"params\.yaml"):
        load_settings()
