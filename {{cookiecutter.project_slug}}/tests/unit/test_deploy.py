"""The pipeline image recipe: pinned bases, a non-root user and its lock file (CPU or CUDA).

No Docker engine runs the tests, so the Dockerfile is checked as text against what the cluster
and the rest of the project rely on.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (PROJECT_ROOT / "deploy" / "Dockerfile").read_text()
INSTRUCTIONS = [
    line.strip()
    for line in DOCKERFILE.replace("\\\n", " ").splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]


def instructions(keyword: str) -> list[str]:
    return [line.split(None, 1)[1] for line in INSTRUCTIONS if line.split()[0] == keyword]


def test_every_base_image_is_pinned_to_a_version() -> None:
    bases = [line.split()[0] for line in instructions("FROM") if not line.startswith("base-")]
    assert len(bases) == 3
    for image in bases:
        _, _, tag = image.partition(":")
        assert tag and tag != "latest" and re.search(r"\d+\.\d+", tag), image


def test_cpu_and_cuda_variants_share_one_recipe() -> None:
    stages = {line.split()[-1] for line in instructions("FROM") if " AS " in line}
    assert {"base-cpu", "base-cuda"} <= stages
    assert instructions("FROM")[-1] == "base-${VARIANT}"
    assert any("nvidia/cuda:" in line and "runtime" in line for line in instructions("FROM"))


def test_the_image_runs_as_a_non_root_user_from_app() -> None:
    user = instructions("USER")[-1]
    assert user not in {"root", "0"}
    assert instructions("WORKDIR")[-1] == "/app"  # ZenML's step entrypoint works in /app


def test_packages_come_from_the_lock_file_only() -> None:
    lock = (PROJECT_ROOT / "requirements.lock").read_text()
    uv_pin = re.search(r"^uv==(\S+)", lock, re.MULTILINE)
    assert uv_pin is not None
    assert f"ghcr.io/astral-sh/uv:{uv_pin[1]} AS uv" in instructions("FROM")
    installs = [line for line in instructions("RUN") if "pip install" in line]
    assert len(installs) == 1
    assert not re.search(r"pip install [^-]*==", DOCKERFILE)
    lock_argument = re.search(r'-r (".*\.lock")', installs[0])
    assert lock_argument is not None
    chosen = {
        variant: subprocess.run(
            ["bash", "-c", f"echo {lock_argument[1]}"],
            env={"VARIANT": variant, "PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for variant in ("cpu", "cuda")
    }
    assert chosen == {
        "cpu": "/tmp/locks/requirements.lock",
        "cuda": "/tmp/locks/requirements-gpu.lock",
    }


def test_the_code_zenml_unpacks_in_a_pod_is_importable(tmp_path: Path) -> None:
    """The image's PYTHONPATH and folders, then ZenML's unpacking into ./code, then an import.

    The project is not installed in the image (`python -S`: no site-packages here either).
    """
    pythonpath = next(
        match[1] for line in instructions("ENV") if (match := re.search(r"PYTHONPATH=(\S+)", line))
    )
    app = tmp_path / "app"
    created = [
        word for line in instructions("RUN") for word in line.split() if word.startswith("/app")
    ]
    for folder in created:
        (tmp_path / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)
    package = "{{ cookiecutter.package_name }}"
    pod = (
        "import os, shutil, sys\n"
        f"os.chdir({str(app)!r})\n"
        f"shutil.copytree({str(PROJECT_ROOT / 'src')!r}, 'code/src', dirs_exist_ok=True)\n"
        "sys.path.insert(0, os.path.abspath('code'))\n"
        f"import {package}.model.tags\n"
        f"print({package}.__version__, {package}.__file__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", pod],
        env={"PYTHONPATH": pythonpath.replace("/app", str(app), 1)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [
        "0+unknown",
        str(app / "code" / "src" / package / "__init__.py"),
    ]
