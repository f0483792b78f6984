"""The README's two commands are what CI runs."""

from __future__ import annotations

import re

from tests.conftest import REPO


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return [c.strip() for c in re.findall(r"```sh\n(.+?)\n\s*```", section)]


def test_ci_runs_readme_command_two_exactly() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert commands[1].strip() in [line.strip() for line in ci]
    assert ci[-1].strip() == commands[1].strip()


def test_command_one_installs_and_runs_songbridge() -> None:
    first = readme_commands()[0]
    assert "pip install ." in first and "songbridge " in first
