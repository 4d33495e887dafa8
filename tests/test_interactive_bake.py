"""An interactive bake, answered through a pseudo-terminal as a person types.

Menus are picked by number and refuse a number that is not on them; a bad free-text answer,
which cookiecutter cannot check while asking, is refused by the pre-generation hook, and the
rerun it prints bakes from the saved answers without asking again.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.bakery import CHOICES, CONTEXT, IDENTITY, QUESTIONS, TEMPLATE

COOKIECUTTER = Path(sys.executable).parent / "cookiecutter"
MENU = re.compile(r"Choose from \[[\d/]+\] \(\d\): ")
FREE_TEXT = re.compile(r"\): ")
REFUSED_NUMBER = "Please select one of the available options"


def start_bake(home: Path, output_dir: Path) -> pexpect.spawn:
    """`cookiecutter TEMPLATE` in a terminal, with a home of its own for the replay file."""
    env = {**os.environ, **IDENTITY, "HOME": str(home), "TERM": "dumb"}
    env.pop("COOKIECUTTER_CONFIG", None)
    return pexpect.spawn(
        str(COOKIECUTTER),
        ["--output-dir", str(output_dir), str(TEMPLATE)],
        env=env,
        encoding="utf-8",
        timeout=60,
    )


def answer_every_question(
    child: pexpect.spawn, typed: dict[str, str], picked: dict[str, list[int]]
) -> None:
    """Answer in order: text for free-text questions (Enter keeps the default), numbers for
    menus (several numbers: each but the last must be refused first)."""
    for position, name in enumerate(QUESTIONS, start=1):
        child.expect(re.escape(f"[{position}/{len(QUESTIONS)}]"))
        if name in CHOICES:
            *refused, chosen = picked.get(name, [1])
            for number in refused:
                child.expect(MENU)
                child.sendline(str(number))
                child.expect(REFUSED_NUMBER)
            child.expect(MENU)
            child.sendline(str(chosen))
        else:
            child.expect(FREE_TEXT)
            child.sendline(typed.get(name, ""))


def finish(child: pexpect.spawn) -> tuple[int, str]:
    """Wait for the bake to end; its exit status and everything after the last question."""
    child.expect(pexpect.EOF, timeout=180)
    child.close()
    return int(child.exitstatus), str(child.before)


def test_menus_are_picked_by_number_and_a_number_off_the_menu_is_asked_again(
    tmp_path: Path,
) -> None:
    output_dir = tmp_path / "out"
    child = start_bake(tmp_path / "home", output_dir)
    answer_every_question(
        child,
        typed={"project_name": "Card Risk"},
        picked={"license": [7, 2], "online_store": [2], "remote_storage": [3], "ci": [0, 3]},
    )
    status, output = finish(child)
    assert status == 0, output
    project = output_dir / "card-risk"
    assert "Apache License" in (project / "LICENSE").read_text()
    assert "type: redis" in (project / "feature_repo" / "feature_store.yaml").read_text()
    assert "kind: gcs" in (project / "params.yaml").read_text()
    assert not (project / ".github").exists() and not (project / ".gitlab-ci.yml").exists()
    assert (project / "src" / "card_risk" / "cli" / "__init__.py").is_file()


def test_a_bad_free_text_answer_is_named_and_the_printed_rerun_keeps_the_others(
    tmp_path: Path,
) -> None:
    home, output_dir = tmp_path / "home", tmp_path / "out"
    child = start_bake(home, output_dir)
    answer_every_question(
        child,
        typed={"project_name": "Card Risk", "author_email": "risk-team"},
        picked={"online_store": [2]},
    )
    status, output = finish(child)
    assert status != 0
    assert "ERROR: author_email 'risk-team' is not an email address" in output
    assert not output_dir.exists() or list(output_dir.iterdir()) == []
    rerun = re.search(r"^\s*(cookiecutter --replay-file .+?)\s*$", output, re.MULTILINE)
    assert rerun, output
    command = shlex.split(rerun.group(1))
    replay = Path(command[command.index("--replay-file") + 1])
    assert replay.parent == home / ".cookiecutter_replay"
    saved = json.loads(replay.read_text())
    assert saved["cookiecutter"]["project_name"] == "Card Risk"
    saved["cookiecutter"]["author_email"] = "risk@bank.example"
    replay.write_text(json.dumps(saved))

    result = subprocess.run(
        [str(COOKIECUTTER), *command[1:]],
        env={**os.environ, **IDENTITY, "HOME": str(home)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    project = output_dir / "card-risk"
    assert 'email = "risk@bank.example"' in (project / "pyproject.toml").read_text()
    assert "type: redis" in (project / "feature_repo" / "feature_store.yaml").read_text()


@pytest.mark.parametrize("choice", ["ci", "license"])
def test_a_menu_value_edited_in_a_replay_file_is_still_checked(tmp_path: Path, choice: str) -> None:
    home, output_dir = tmp_path / "home", tmp_path / "out"
    env = {**os.environ, **IDENTITY, "HOME": str(home)}
    replay = home / "answers.json"
    defaults = {name: CHOICES[name][0] if name in CHOICES else CONTEXT[name] for name in QUESTIONS}
    derived = {"project_slug": "fraud-detection", "package_name": "fraud_detection"}
    context = defaults | derived | {choice: "jenkins"}
    replay.parent.mkdir()
    replay.write_text(json.dumps({"cookiecutter": context}))
    result = subprocess.run(
        [str(COOKIECUTTER), "--replay-file", str(replay), "-o", str(output_dir), str(TEMPLATE)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    allowed = ", ".join(CHOICES[choice])
    assert f"ERROR: {choice} 'jenkins' is not supported; allowed: {allowed}" in result.stderr
    assert not output_dir.exists() or list(output_dir.iterdir()) == []
