"""Finish a rendered project: drop unselected options, start git and DVC, print next steps."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

SLUG = "{{ cookiecutter.project_slug }}"
PROJECT = Path.cwd()

# Files that belong to one value of an option; the files of the other values are removed.
OPTION_FILES = {
    "ci": {"github": [".github"], "gitlab": [".gitlab-ci.yml"], "none": []},
    "online_store": {
        "sqlite": [],
        "redis": [
            "src/{{ cookiecutter.package_name }}/features/local_redis.py",
            "tests/integration/test_local_redis.py",
        ],
    },
    "offline_store": {
        "duckdb": [
            "src/{{ cookiecutter.package_name }}/features/offline_store.py",
        ],
        "spark": [
            "requirements-spark.lock",
            "src/{{ cookiecutter.package_name }}/features/spark_engine.py",
            "tests/integration/test_spark_engine.py",
        ],
    },
}
SELECTED = {
    "ci": "{{ cookiecutter.ci }}",
    "online_store": "{{ cookiecutter.online_store }}",
    "offline_store": "{{ cookiecutter.offline_store }}",
}


def remove_unselected_files() -> None:
    """Delete every file or folder that belongs to an option value the user did not pick."""
    for option, files_by_value in OPTION_FILES.items():
        for value, paths in files_by_value.items():
            if value == SELECTED[option]:
                continue
            for relative in paths:
                target = PROJECT / relative
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()


def git(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=PROJECT, check=check, capture_output=True, text=True)


def enclosing_repository() -> Path | None:
    """The git work tree that will track this project, if the output folder is inside one.

    A project generated into an ignored folder of another repository (``build/``, say) is
    not part of it, so it gets a repository of its own.
    """
    top = git("-C", str(PROJECT.parent), "rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0:
        return None
    root = top.stdout.strip()
    ignored = git("-C", root, "check-ignore", "-q", str(PROJECT), check=False)
    return None if ignored.returncode == 0 else Path(root)


def has_git_identity() -> bool:
    """A name and an email set for commits, in git's config or the environment; never guessed."""

    def configured(key: str, variable: str) -> bool:
        from_config = git("config", "--get", key, check=False).stdout.strip()
        return bool(os.environ.get(variable) or from_config)

    name = configured("user.name", "GIT_COMMITTER_NAME")
    return name and configured("user.email", "GIT_COMMITTER_EMAIL")


def dvc_init(subdir: bool) -> None:
    """Initialise DVC with the interpreter running cookiecutter, or leave it to `make setup`."""
    if importlib.util.find_spec("dvc") is None:
        print("DVC is not installed beside cookiecutter: `make setup` will run `dvc init`.")
        return
    command = [sys.executable, "-m", "dvc", "init", "--quiet", *(["--subdir"] if subdir else [])]
    subprocess.run(command, cwd=PROJECT, check=True, capture_output=True, text=True)


def start_version_control() -> None:
    parent_repo = enclosing_repository()
    if parent_repo is not None:
        print(f"Inside the git repository {parent_repo}: no nested repository, DVC with --subdir.")
        dvc_init(subdir=True)
        return
    git("init", "-b", "main")
    dvc_init(subdir=False)
    if not has_git_identity():
        print("No git identity: skipped the initial commit (set user.name and user.email first).")
        return
    git("add", "--all")
    git("commit", "--quiet", "--no-verify", "-m", "Initial project from cookiecutter-mlops-stack")


def print_next_steps() -> None:
    print(
        f"\nCreated {PROJECT}\n\nNext steps:\n"
        f"  cd {SLUG}\n"
        "  make setup   # .venv with the pinned stack\n"
        "  make test    # the project's own tests\n"
        "  make help    # every command, grouped\n"
        "\nTemplate updates: `cruft update`, with .cruft.json committed (from `cruft create` or"
        " `cruft link`); see README.md.\n"
    )


if __name__ == "__main__":
    remove_unselected_files()
    start_version_control()
    print_next_steps()
