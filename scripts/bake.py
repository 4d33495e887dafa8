"""`make bake`: bake a project from this template, where every bad answer is one line.

Cookiecutter refuses a menu value given on the command line (`license=oracle`) with a Python
traceback ending in `ValueError: oracle provided for choice variable license, but the choices are
[...]`, ignores a misspelt option name (`licence=MIT`) without a word, and logs a traceback after
the pre-generation hook rejects an answer. This entry point checks names and menu values first,
in the hook's words, and keeps the hook's own lines as the whole report.

Usage: bake.py OUTPUT_DIR [option=value ...]   (no answers: cookiecutter asks, with menus)
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]


def parse_answers(arguments: list[str], context: dict) -> dict[str, str]:
    """`option=value` pairs, checked against the template's options and menus."""
    answers: dict[str, str] = {}
    options = [name for name in context if not name.startswith("_")]
    for argument in arguments:
        name, separator, value = argument.partition("=")
        if not separator:
            raise ValueError(f"{argument!r} is not option=value, e.g. license=MIT")
        if name not in options:
            raise ValueError(f"{name!r} is not an option; options: {', '.join(options)}")
        allowed = context[name]
        if isinstance(allowed, list) and value not in allowed:
            raise ValueError(f"{name} {value!r} is not supported; allowed: {', '.join(allowed)}")
        answers[name] = value
    return answers


def main(arguments: list[str]) -> int:
    """Bake into the output folder; 1 with one line on stderr for a bad answer."""
    if not arguments:
        print("usage: bake.py OUTPUT_DIR [option=value ...]", file=sys.stderr)
        return 2
    output_dir, *pairs = arguments
    context = json.loads((TEMPLATE / "cookiecutter.json").read_text())
    try:
        answers = parse_answers(pairs, context)
    except ValueError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    # Cookiecutter logs the hook's failure with a traceback; the hook has said what was wrong.
    logging.getLogger("cookiecutter").addHandler(logging.NullHandler())
    logging.getLogger("cookiecutter").propagate = False
    try:
        project = cookiecutter(
            str(TEMPLATE), no_input=bool(answers), extra_context=answers, output_dir=output_dir
        )
    except FailedHookException:
        return 1
    print(f"baked {project}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
