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


def test_readme_renders_with_every_fence_closed_and_both_commands_as_code_blocks() -> None:
    from markdown_it import MarkdownIt

    text = (REPO / "README.md").read_text()
    tokens = MarkdownIt("commonmark").parse(text)
    fences = [t for t in tokens if t.type == "fence"]
    # A fence left open swallows the rest of the file: the last fence would then end at the end of the text.
    lines = text.splitlines()
    for f in fences:
        start, end = f.map
        assert end <= len(lines) and lines[end - 1].strip().startswith("```"), f"fence at line {start + 1} never closes"
    assert text.count("```") == 2 * len(fences)
    code = [f.content.strip() for f in fences]
    for command in readme_commands():
        assert command in code, command
    # Prose stays prose: no paragraph of the README ends up inside a code block.
    for f in fences:
        assert not any(len(line) > 60 and line.endswith(".") and " the " in line for line in f.content.splitlines())


def test_readme_names_no_path_outside_the_repository() -> None:
    text = (REPO / "README.md").read_text()
    machine_root = "/" + "work" + "/"  # spelled apart so this file names no path of a machine itself
    assert "../shared" not in text and machine_root not in text
