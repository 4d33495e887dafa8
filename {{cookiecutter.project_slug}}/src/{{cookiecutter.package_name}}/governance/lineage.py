"""Lineage: which code, data, features and environment produced a model."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import yaml

from {{ cookiecutter.package_name }}.data.files import RAW_TRANSACTIONS
from {{ cookiecutter.package_name }}.governance.environment import lock_file_of_this_environment
from {{ cookiecutter.package_name }}.model import tags
from {{ cookiecutter.package_name }}.settings import Workspace

# A pipeline pod gets the code without .git; the submitting machine records its state here.
SUBMITTED_COMMIT = "SUBMITTED_GIT_COMMIT"
SUBMITTED_DIRTY = "SUBMITTED_GIT_DIRTY"
# The tag (and dvc.lock entry) naming the labelled transactions a model trained on.
LABELLED_DATA = f"{tags.DVC_PREFIX}{RAW_TRANSACTIONS}"


def git_state(root: Path) -> dict[str, str]:
    """The commit checked out and whether the work tree has uncommitted changes."""

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {
            tags.GIT_COMMIT: os.environ.get(SUBMITTED_COMMIT, "unknown"),
            tags.GIT_DIRTY: os.environ.get(SUBMITTED_DIRTY, "unknown"),
        }
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {tags.GIT_COMMIT: commit, tags.GIT_DIRTY: str(bool(dirty)).lower()}


def dvc_data_hashes(root: Path) -> dict[str, str]:
    """The md5 of every DVC stage output recorded in dvc.lock (empty before the first repro)."""
    lock = root / "dvc.lock"
    if not lock.is_file():
        return {}
    stages = yaml.safe_load(lock.read_text()).get("stages", {})
    return {
        f"{tags.DVC_PREFIX}{out['path']}": out["md5"]
        for stage in stages.values()
        for out in stage.get("outs", [])
    }


def file_md5(path: Path) -> str:
    """The md5 DVC records for a file."""
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def lineage_tags(settings: Workspace) -> dict[str, str]:
    """Everything a model version carries about its origins, as MLflow tags."""
    root = settings.project_root
    lock_hash = hashlib.sha256(lock_file_of_this_environment(root).read_bytes()).hexdigest()
    return {
        **git_state(root),
        **dvc_data_hashes(root),
        tags.FEATURE_SERVICE: settings.feast.feature_service,
        tags.LOCK_SHA256: lock_hash,
    }
