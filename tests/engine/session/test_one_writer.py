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


def test_a_reference_clip_is_brought_in_once_and_never_through_a_planted_link(tmp_path: Path) -> None:
    import numpy as np
    import pytest
    import soundfile as sf

    from engine.errors import SongBridgeError
    from engine.session.references import bring_reference

    folder, outside = tmp_path / "p.songbridge", tmp_path / "precious.wav"
    (folder / "reference").mkdir(parents=True)
    outside.write_bytes(b"keep me")
    clip = tmp_path / "clip.wav"
    sf.write(clip, 0.1 * np.random.default_rng(1).standard_normal((44100 * 11, 2)), 44100)
    assert bring_reference(folder, clip) == "reference/clip.wav"
    assert (folder / "reference" / "clip.wav").read_bytes() == clip.read_bytes()
    assert bring_reference(folder, "reference/clip.wav") == "reference/clip.wav"  # in the project: left alone
    (folder / "reference" / "clip.wav").unlink()
    (folder / "reference" / ".clip.wav.tmp").symlink_to(outside)  # planted where the copy is staged
    with pytest.raises(SongBridgeError, match="symbolic link"):
        bring_reference(folder, clip)
    assert outside.read_bytes() == b"keep me"
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros((44100, 2)), 44100)
    with pytest.raises(SongBridgeError, match="short.wav"):
        bring_reference(folder, short)
