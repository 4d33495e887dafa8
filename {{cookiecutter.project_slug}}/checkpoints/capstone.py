"""`make capstone`: the final project's score sheet, 0/1/2 per rubric criterion.

Criteria a command can judge are scored here from the weekly checkpoints and the homework
(2: every check passes, 1: some do, 0: none); the others are listed for a reviewer, as in
docs/rubric.md of the template's site.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from checkpoints.homework import QUESTIONS, grade, homework_file
from {{ cookiecutter.package_name }}.settings import load_settings

CHECKPOINTS = Path(__file__).parent
# Rubric criterion -> the week whose checkpoint judges it.
BY_CHECKPOINT = {
    "Data versioning": 1,
    "Features": 2,
    "Experiment tracking": 3,
    "Registry and promotion": 4,
    "Deployment: serving": 5,
    "Kubernetes and Kubeflow Pipelines": 6,
    "Monitoring: quality gate and drift": 7,
    "Governance and drift-triggered retraining": 8,
}
FOR_A_REVIEWER = (
    "Tests and CI: make lint and make test pass on a clean clone; your changes come with tests",
    "The reasons: why each threshold has its value, what the benchmarks showed on your machine",
    "A traced prediction: one served answer followed to its evidence, data and commit",
)


class Outcomes:
    """A pytest plugin that counts passed and failed checks per checkpoint file."""

    def __init__(self) -> None:
        self.by_week: dict[int, list[bool]] = defaultdict(list)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Record each check's result once (its call, or a failed setup); an optional lab that
        was skipped counts neither way."""
        if report.skipped:
            return
        if report.when == "call" or (report.when == "setup" and report.failed):
            week = int(Path(report.nodeid.split("::")[0]).stem.rsplit("_", 1)[1])
            self.by_week[week].append(report.passed)


def score(results: list[bool]) -> int:
    """2 when every check passed, 1 when some did, 0 when none did (or none ran)."""
    if results and all(results):
        return 2
    return 1 if any(results) else 0


def homework_score() -> tuple[int, str]:
    """2 when every week's homework is right, 1 when at least half the weeks are, else 0."""
    settings = load_settings()
    right = 0
    for week in QUESTIONS:
        sheet = homework_file(settings, week)
        answers: dict[str, Any] = (
            (yaml.safe_load(sheet.read_text()) or {}) if sheet.exists() else {}
        )
        right += all(ok for _, ok, _ in grade(settings, week, answers))
    weeks = len(QUESTIONS)
    return (2 if right == weeks else 1 if right * 2 >= weeks else 0), f"{right} of {weeks} weeks"


def main() -> int:
    """Run every checkpoint quietly, then print the sheet; exit 0 when every scored row is 2."""
    outcomes = Outcomes()
    files = [str(path) for path in sorted(CHECKPOINTS.glob("test_week_*.py"))]
    pytest.main(
        [
            *files,
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:warnings",
            "--tb=no",
            "-rN",
            "--no-header",
            "--no-summary",
        ],
        plugins=[outcomes],
    )
    rows = [
        (criterion, score(outcomes.by_week[week]), f"make checkpoint WEEK={week}")
        for criterion, week in BY_CHECKPOINT.items()
    ]
    homework, done = homework_score()
    rows.append(("Homework", homework, f"make homework WEEK=1..8 ({done} right)"))
    print("\ncapstone score sheet")
    for criterion, points, judged_by in rows:
        print(f"  {points}/2  {criterion:<44} {judged_by}")
    total = sum(points for _, points, _ in rows)
    print(f"  total {total}/{2 * len(rows)} by command")
    for criterion in FOR_A_REVIEWER:
        print(f"  -/2  {criterion} (needs a reviewer)")
    return 0 if total == 2 * len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
