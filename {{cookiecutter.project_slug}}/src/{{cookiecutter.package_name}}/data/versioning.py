"""DVC remote set-up from the settings, so `dvc push` and `dvc pull` work after `make setup`."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

from {{ cookiecutter.package_name }}.settings import Workspace

REMOTE_NAME = "storage"


def dvc(settings: Workspace, *args: str) -> str:
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


def configure_remote(settings: Workspace) -> str:
    """Make `storage` the default remote at the configured URL, verifying every download.

    A local remote is a folder outside the project (a relative path is stored relative to
    .dvc/, so the configuration stays valid wherever the project is cloned).
    """
    url = settings.storage.remote_url
    # `make serve` and `make predict-example`, started together, both run this: one at a time,
    # or one process reads the remote between the other's two writes (no url yet) and fails.
    scratch = settings.project_root / ".dvc" / "tmp"  # DVC's own git-ignored scratch folder
    scratch.mkdir(parents=True, exist_ok=True)
    with (scratch / "remote.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        dvc(settings, "remote", "add", "--default", "--force", REMOTE_NAME, url)
        dvc(settings, "remote", "modify", REMOTE_NAME, "verify", "true")
    return url


def pull_missing(settings: Workspace, *paths: Path) -> list[Path]:
    """Fetch the DVC-tracked files that are not in the workspace; returns those it fetched.

    A pipeline step on a cluster starts with the code only (no git, no data): it gets the data
    version recorded in dvc.lock from the default remote, checksums verified.
    """
    missing = [path for path in paths if not path.exists()]
    if missing:
        from dvc.repo import Repo

        with Repo(str(settings.project_root), config={"core": {"no_scm": True}}) as repo:
            repo.pull(targets=[str(path) for path in missing])
    return missing
