from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ENV_PREFIX = "{{ cookiecutter.package_name | upper }}_"


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch copy of params.yaml and the lock file, with no settings in the environment."""
    for name in ("params.yaml", "requirements.lock"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    for variable in os.environ:
        if variable.startswith(ENV_PREFIX):
            monkeypatch.delenv(variable)
    monkeypatch.chdir(tmp_path)
    return tmp_path
