"""Reject invalid template answers before any file is written.

Cookiecutter runs this hook after it has created the empty project directory; a non-zero exit
makes it delete that directory again, so a rejected answer leaves nothing behind. Each check
prints one line on stderr: the field, the bad value and what is allowed. Cookiecutter has no way
to check a free-text answer while asking, so the hook then says (on stdout) where cookiecutter
saved every answer and how to bake again from that file without retyping them.
"""

from __future__ import annotations

import json
import keyword
import os
import re
import shlex
import sys
from pathlib import Path

ANSWERS: dict = json.loads(r"""{{ cookiecutter | tojson }}""")
DEFAULT_REPLAY_DIR = "~/.cookiecutter_replay"

SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
VERSION = re.compile(r"^\d+\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")


def shadowed_names(answers: dict) -> set[str]:
    """Names a package must not take: the stack's import names and the standard library's."""
    return set(answers["_reserved_package_names"]) | set(sys.stdlib_module_names)


def template_dir(answers: dict) -> Path | None:
    """The template's folder, absolute; None when the caller does not say (cruft, for one).

    Cookiecutter keeps a local template's path as it was typed (`.` for `cookiecutter .`) and runs
    hooks from inside that folder: on Linux, this hook's parent process is there; elsewhere the
    shell's PWD says where cookiecutter started.
    """
    if "_repo_dir" not in answers:
        return None
    folder = Path(answers["_repo_dir"])
    if folder.is_absolute():
        return folder
    parent = Path(f"/proc/{os.getppid()}/cwd")
    if (parent / "cookiecutter.json").is_file():
        return parent.resolve()
    return (Path(os.environ.get("PWD", ".")) / folder).resolve()


def menus(answers: dict) -> dict[str, list[str]]:
    """The options that are menus in cookiecutter.json, with their values.

    Cookiecutter's menus accept only these, but a replay file someone edited is not checked.
    """
    folder = template_dir(answers)
    if folder is None or not (folder / "cookiecutter.json").is_file():
        return {}
    context_file = folder / "cookiecutter.json"
    context = json.loads(context_file.read_text())
    return {
        name: values
        for name, values in context.items()
        if isinstance(values, list) and not name.startswith("_")
    }


def first_error(answers: dict) -> str | None:
    """Return the first invalid answer as one readable line, or None when all are valid."""
    name = answers["project_name"].strip()
    slug = answers["project_slug"]
    package = answers["package_name"]
    if not name:
        return "project_name is empty: give the project a name, e.g. project_name='Fraud Detection'"
    if not SLUG.fullmatch(slug):
        return (
            f"project_slug {slug!r} (from project_name {name!r}) is invalid: use lowercase letters,"
            " digits and single hyphens, starting with a letter, e.g. 'fraud-detection'"
        )
    if not package.isidentifier() or keyword.iskeyword(package) or package != package.lower():
        return (
            f"package_name {package!r} is not a valid lowercase Python identifier:"
            " use letters, digits and underscores, starting with a letter, e.g. 'fraud_detection'"
        )
    if package in shadowed_names(answers):
        return (
            f"package_name {package!r} would shadow a dependency or standard-library module:"
            " choose another name, e.g. 'fraud_detection'"
        )
    if not EMAIL.fullmatch(answers["author_email"]):
        email = answers["author_email"]
        return f"author_email {email!r} is not an email address, e.g. 'you@example.com'"
    if not VERSION.fullmatch(answers["version"]):
        return f"version {answers['version']!r} is not a release version, e.g. '0.1.0'"
    for option, allowed in menus(answers).items():
        if answers[option] not in allowed:
            return f"{option} {answers[option]!r} is not supported; allowed: {', '.join(allowed)}"
    return None


def replay_file(answers: dict) -> Path | None:
    """Where cookiecutter saved these answers (it writes them before this hook runs)."""
    folder_of_template = template_dir(answers)
    if folder_of_template is None:
        return None
    try:
        from cookiecutter.config import get_user_config

        folder = get_user_config()["replay_dir"]
    except (ImportError, KeyError):
        folder = DEFAULT_REPLAY_DIR
    return Path(folder).expanduser() / f"{folder_of_template.name}.json"


def rerun_hint(answers: dict) -> str:
    """How to bake again with every answer kept: edit the one that was wrong in the replay file."""
    saved = replay_file(answers)
    if saved is None:
        return "Correct that answer and run the same command again."
    replay = shlex.quote(str(saved))
    output_dir = shlex.quote(answers["_output_dir"])
    template = shlex.quote(answers["_template"])
    return (
        f"Every answer is saved in {replay}: correct the one named above there, then bake again"
        f" without retyping the others:\n  cookiecutter --replay-file {replay}"
        f" --output-dir {output_dir} {template}"
    )


if __name__ == "__main__":
    error = first_error(ANSWERS)
    if error:
        print(f"ERROR: {error}", file=sys.stderr)
        print(rerun_hint(ANSWERS))
        sys.exit(1)
