from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.settings import find_project_root, load_settings
from tests.conftest import ENV_PREFIX


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
