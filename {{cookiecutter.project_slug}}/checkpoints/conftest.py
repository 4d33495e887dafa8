"""Shared pieces of the weekly checkpoints (`make checkpoint WEEK=N`).

Checkpoints grade the learner's own project as it is now: its data, runs, models, reports.
They change nothing. Each failure says what to do next.
"""

from __future__ import annotations

from typing import NoReturn

import pytest

from checkpoints.baseline import NoBaseline, first_commit
from {{ cookiecutter.package_name }}.governance.audit import AuditEvent
from {{ cookiecutter.package_name }}.governance.promotion import history
from {{ cookiecutter.package_name }}.model import registry
from {{ cookiecutter.package_name }}.settings import Settings, load_settings


def next_step(message: str) -> NoReturn:
    """Fail the checkpoint with what to do next (no traceback: the message is the lesson)."""
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The project's settings, as the commands see them."""
    return load_settings()


@pytest.fixture(scope="session")
def champion(settings: Settings) -> str:
    """The champion's version; without one, the checkpoint fails with how to get one."""
    version = registry.champion_version(settings)
    if version is None:
        next_step(
            "there is no champion model yet: run `make train` (after `make data features`), then "
            "approve the staged version: `.venv/bin/{{ cookiecutter.project_slug }} promote --version staging "
            "--approver <you> --reason <why>`"
        )
    return version


@pytest.fixture(scope="session")
def bake_commit(settings: Settings) -> str:
    """The commit of the bake: what the learner's changes are measured against."""
    try:
        return first_commit(settings.project_root)
    except NoBaseline as missing:
        next_step(str(missing))


@pytest.fixture(scope="session")
def audit_history(settings: Settings) -> list[AuditEvent]:
    """Every stage move the registry keeps, oldest first: read once for all the checks."""
    return history(settings)
