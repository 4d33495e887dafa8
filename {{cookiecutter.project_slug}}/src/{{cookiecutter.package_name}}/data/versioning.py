"""DVC remote set-up from the settings, so `dvc push` and `dvc pull` work after `make setup`."""

from __future__ import annotations

import subprocess
import sys

from {{ cookiecutter.package_name }}.settings import Settings

REMOTE_NAME = "storage"


def dvc(settings: Settings, *args: str) -> str:
    """Run a DVC command in the project and return its output; raise with DVC's own message."""
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=settings.project_root,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise RuntimeError(f"dvc {' '.join(args)} failed: {message[-1] if message else ''}")
    return result.stdout


def configure_remote(settings: Settings) -> str:
    """Make `storage` the default remote at the configured URL, verifying every download.

    A local remote is a folder outside the project (a relative path is stored relative to
    .dvc/, so the configuration stays valid wherever the project is cloned).
    """
    url = settings.storage.remote_url
    dvc(settings, "remote", "add", "--default", "--force", REMOTE_NAME, url)
    dvc(settings, "remote", "modify", REMOTE_NAME, "verify", "true")
    return url
