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
    """A Markdown table of every public option: name, question, default and allowed values.

    A menu (a list in cookiecutter.json) shows each value with the label the prompt shows.
    """
    prompts = context["__prompts__"]
    rows = ["| option | question | default | allowed values |", "|---|---|---|---|"]
    for name, default in context.items():
        if name.startswith("_"):
            continue
        if isinstance(default, list):
            labels = prompts[name]
            question = labels["__prompt__"]
            allowed = "<br>".join(f"`{value}`: {label_text(labels[value])}" for value in default)
            shown_default = f"`{default[0]}`"
        else:
            question = prompts[name]
            allowed = "free text"
            source = re.search(r"cookiecutter\.(\w+)", default)
            shown_default = f"derived from `{source.group(1)}`" if source else f"`{default}`"
        question = question.replace("|", "\\|")
        rows.append(f"| `{name}` | {question} | {shown_default} | {allowed} |")
    return "\n".join(rows)


def label_text(label: str) -> str:
    """A menu label without its leading `value:`, which the table shows already."""
    return label.split(": ", 1)[-1]


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace the marker with the table on the page that carries it."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, options_table(json.loads(CONTEXT_FILE.read_text())))
