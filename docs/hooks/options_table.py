"""MkDocs hook: render the options reference from cookiecutter.json, the prompts' own source.

The page holds a marker; this hook replaces it with a table built from the same prompts, defaults
and allowed values that cookiecutter shows, so the docs and the prompts cannot disagree.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

MARKER = "<!-- options-table -->"
CONTEXT_FILE = Path(__file__).resolve().parents[2] / "cookiecutter.json"


def options_table(context: dict[str, Any]) -> str:
    """A Markdown table of every public option: name, question, default and allowed values."""
    prompts = context["__prompts__"]
    choices = context["_choices"]
    rows = ["| option | question | default | allowed values |", "|---|---|---|---|"]
    for name, default in context.items():
        if name.startswith("_"):
            continue
        allowed = ", ".join(f"`{value}`" for value in choices[name]) if name in choices else "free"
        source = re.search(r"cookiecutter\.(\w+)", default)
        shown_default = f"derived from `{source.group(1)}`" if source else f"`{default}`"
        question = prompts[name].replace("|", "\\|")
        rows.append(f"| `{name}` | {question} | {shown_default} | {allowed} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace the marker with the table on the page that carries it."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, options_table(json.loads(CONTEXT_FILE.read_text())))
