"""The settings for a command, imported when a command runs: `--help` does not load pydantic."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from {{ cookiecutter.package_name }}.settings import Settings


def load_settings() -> Settings:
    """The project's settings (params.yaml, .env, environment), read on first use."""
    from {{ cookiecutter.package_name }} import settings

    return settings.load_settings()
