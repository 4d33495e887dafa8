"""A project baked with cruft records the template's commit and takes template changes later."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.bakery import TEMPLATE

CRUFT = Path(sys.executable).parent / "cruft"
NEW_LINE = "A line added to the template after the project was baked."


def git(repo: Path, *args: str) -> str:
    """Run git in a repository (identity from the conftest fixture) and return its output."""
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def cruft(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the cruft command line as a user would, with no standard input."""
    return subprocess.run(
        [CRUFT, *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


def commit_all(repo: Path, message: str) -> str:
    """Commit every change in a repository and return the new commit's hash."""
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--no-verify", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def template_repository(destination: Path) -> tuple[Path, str]:
    """The template as it is in the working tree (uncommitted changes too), in a fresh repository.

    Returns the copy and the hash of its one commit.
    """
    listed = git(TEMPLATE, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for relative in filter(None, listed.split("\0")):
        source = TEMPLATE / relative
        if source.is_file():  # a tracked file deleted in the working tree is left out
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git(destination, "init", "--quiet", "-b", "main")
    return destination, commit_all(destination, "Template")


def test_cruft_create_then_update_brings_a_template_change(tmp_path: Path) -> None:
    """Bake with `cruft create`, change the template, and `cruft update` brings the change."""
    template, first = template_repository(tmp_path / "template")
    output = tmp_path / "projects"
    created = cruft(tmp_path, "create", "--no-input", str(template), "--output-dir", str(output))
    assert created.returncode == 0, created.stdout + created.stderr
    project = output / "fraud-detection"

    state = json.loads((project / ".cruft.json").read_text())
    assert state["template"] == str(template)
    assert state["commit"] == first
    assert state["context"]["cookiecutter"]["project_slug"] == "fraud-detection"
    # The post-generation hook's first commit comes before cruft writes .cruft.json.
    assert git(project, "status", "--porcelain") == "?? .cruft.json"
    commit_all(project, "Link to the template with cruft")
    assert cruft(project, "check").returncode == 0

    readme = template / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text(readme.read_text() + f"\n{NEW_LINE}\n")
    second = commit_all(template, "Change the template")
    check = cruft(project, "check")
    assert check.returncode != 0, check.stdout + check.stderr
    assert "out of date" in check.stdout

    updated = cruft(project, "update", "--skip-apply-ask", "--allow-untracked-files")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert NEW_LINE in (project / "README.md").read_text()
    assert json.loads((project / ".cruft.json").read_text())["commit"] == second
    git(project, "add", "--all")
    changed = git(project, "diff", "--cached", "--name-only").splitlines()
    assert changed == [".cruft.json", "README.md"], "only the template's change may arrive"
    assert cruft(project, "check").returncode == 0
