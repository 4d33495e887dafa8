"""Bakes for the other offered Pythons set themselves up and train, with nothing at exit.

The default bake (3.11) runs its whole job and suite elsewhere. Here each other version gets its
own `make setup` (uv finds that interpreter and installs the same lock into the bake's .venv),
then data, features and the training pipeline, as a user runs them; its output must hold no
traceback and no warning, at exit included.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.bakery import TROUBLE, bake, make


@pytest.mark.slow
@pytest.mark.parametrize(
    ("version", "answers"),
    [("3.10", {"ci": "gitlab"}), ("3.12", {})],
)
def test_a_bake_for_another_python_trains_with_nothing_at_exit(
    tmp_path_factory: pytest.TempPathFactory, version: str, answers: dict[str, str]
) -> None:
    project = bake(tmp_path_factory.mktemp(f"python{version}"), python_version=version, **answers)
    result = make(project, "setup", "data", "features", "train", own_venv=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    interpreter = subprocess.run(
        [str(project / ".venv" / "bin" / "python"), "--version"], capture_output=True, text=True
    )
    assert interpreter.stdout.startswith(f"Python {version}."), interpreter.stdout
    assert re.search(r"registered version 1 \(roc_auc 0\.\d{4}", output), output[-2000:]
    assert "gate passed" in output, output[-2000:]
    assert not TROUBLE.findall(output), [
        line for line in output.splitlines() if TROUBLE.search(line)
    ]
