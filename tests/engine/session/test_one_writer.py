"""Only the session writes an open project's song.json: the front-ends (the app, the DAW bridge, the command line)
ask it. A new project's first song.json is written by ``Project.create`` (or ``Session.create``); nothing else in the
front-ends may call the document writer or the fixture helper that records takes."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FRONT_ENDS = ("gui", "daw_bridge", "songbridge")
WRITERS = {"save_song", "write_song", "run_take", "_save", "save"}


def calls(path: Path) -> list[tuple[int, str]]:
    """(line, name) of each call of a song writer in ``path``: ``save_song(...)``, ``run_take(...)``,
    ``<project>.save()``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        if name not in WRITERS:
            continue
        owner = f.value if isinstance(f, ast.Attribute) else None
        owner_name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) \
            else ""
        if name == "save" and "project" not in owner_name.lower():
            continue  # a preset, a picture, the document model's "wait until saved": not a project write
        out.append((node.lineno, f"{owner_name + '.' if owner_name else ''}{name}"))
    return out


def test_no_front_end_writes_song_json_itself() -> None:
    found = {f"{p.relative_to(ROOT)}:{line}": name for folder in FRONT_ENDS
             for p in sorted((ROOT / folder).rglob("*.py")) for line, name in calls(p)}
    assert not found, f"front-ends writing the song themselves (ask the session instead): {found}"


def test_the_check_finds_a_write_where_there_is_one(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f(project, song, folder):\n    project.save()\n    save_song(song, folder)\n"
                   "    preset.save()\n")
    assert calls(bad) == [(2, "project.save"), (3, "save_song")]
