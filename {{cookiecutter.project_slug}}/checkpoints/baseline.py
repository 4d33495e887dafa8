"""What the project was when it was baked, so that a checkpoint grades what the learner changed.

The post-generation hook commits the baked project; that first commit is the baseline. A check
built on it fails on an unchanged bake, whatever commands were run since.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

# The model inputs of an unchanged bake (features/request_time.py model_columns with the default
# windows); the template's tests/test_learning_path.py keeps this list equal to the code's.
DEFAULT_MODEL_INPUTS = frozenset(
    {
        "amount",
        "merchant_category",
        "channel",
        "txn_count_1h",
        "amount_sum_1h",
        "txn_count_24h",
        "amount_sum_24h",
        "txn_count_168h",
        "amount_sum_168h",
        "txn_count_total",
        "avg_amount",
        "night_share",
        "foreign_share",
        "hour",
        "is_night",
        "is_foreign",
        "days_since_previous",
        "amount_to_avg",
    }
)


class NoBaseline(RuntimeError):
    """The project has no first commit to compare with."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def first_commit(root: Path) -> str:
    """The bake's commit: the first of the history."""
    result = _git(root, "rev-list", "--max-parents=0", "HEAD")
    commits = result.stdout.split()
    if result.returncode != 0 or not commits:
        raise NoBaseline(
            "this project has no git history to compare with: commit the baked project first "
            "(`git init && git add -A && git commit -m 'Baked project'`), then do the week again"
        )
    return commits[-1]


def file_at_bake(root: Path, commit: str, path: str) -> str | None:
    """A file's content in the bake's commit; None when the bake did not have it."""
    result = _git(root, "show", f"{commit}:{path}")
    return result.stdout if result.returncode == 0 else None


def changed_since_bake(root: Path, commit: str, *paths: str) -> list[str]:
    """Files under `paths` that differ from the bake's commit: edited, added or untracked."""
    changed = _git(root, "diff", "--name-only", commit, "--", *paths).stdout.split()
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "--", *paths).stdout
    return sorted({*changed, *untracked.split()})
