"""The documentation site builds strictly and its options reference matches cookiecutter.json."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bakery import CHOICES, CONTEXT, TEMPLATE

MKDOCS = Path(sys.executable).parent / "mkdocs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [MKDOCS, "build", "--strict", "--site-dir", str(site_dir)],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return site_dir


def page_text(site: Path, page: str) -> str:
    """The visible text of a built page, tags removed and entities decoded."""
    raw = (site / page / "index.html").read_text()
    return html.unescape(re.sub(r"<[^>]+>", " ", raw))


def test_options_page_shows_every_option_with_its_prompt_and_values(site: Path) -> None:
    text = " ".join(page_text(site, "options").split())
    public = [name for name in CONTEXT if not name.startswith("_")]
    assert len(public) == 12
    for name in public:
        assert name in text
        assert " ".join(CONTEXT["__prompts__"][name].split()) in text, name
    for values in CHOICES.values():
        for value in values:
            assert value in text
    assert "<!-- options-table -->" not in (site / "options" / "index.html").read_text()


def test_prompts_list_exactly_the_allowed_choices() -> None:
    for name, values in CHOICES.items():
        listed = re.search(r"\(([^()]*)\)$", CONTEXT["__prompts__"][name])
        assert listed, f"the prompt of {name} must end with its allowed values"
        assert listed.group(1).split(", ") == values
        assert CONTEXT[name] == values[0], f"the default of {name} is its first choice"


def test_getting_started_shows_the_readme_commands(site: Path) -> None:
    text = page_text(site, "getting-started")
    readme = (TEMPLATE / "README.md").read_text()
    for command in ("make demo", "make test"):
        assert command in text
        assert command in readme
