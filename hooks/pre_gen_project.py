"""Reject invalid template answers before any file is written.

Cookiecutter runs this hook after it has created the empty project directory; a non-zero exit
makes it delete that directory again, so a rejected answer leaves nothing behind. Each check
prints one line: the field, the bad value and what is allowed.
"""

from __future__ import annotations

import json
import keyword
import re
import sys

ANSWERS: dict = json.loads(r"""{{ cookiecutter | tojson }}""")

SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
VERSION = re.compile(r"^\d+\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")


def shadowed_names(answers: dict) -> set[str]:
    """Names a package must not take: the stack's import names and the standard library's."""
    return set(answers["_reserved_package_names"]) | set(sys.stdlib_module_names)


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
    for option, allowed in answers["_choices"].items():
        if answers[option] not in allowed:
            return f"{option} {answers[option]!r} is not supported; allowed: {', '.join(allowed)}"
    return None


if __name__ == "__main__":
    error = first_error(ANSWERS)
    if error:
        print(f"ERROR: {error}", file=sys.stderr)
        sys.exit(1)
