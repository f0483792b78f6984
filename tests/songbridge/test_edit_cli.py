"""``songbridge edit`` with nothing holding the project: a headless session on its own engine makes the take (the
section's accepted take edited, never a loop), and a refused request changes nothing and starts no engine. (Sent to
the app that holds the project: tests/gui/test_regenerate_everywhere.py.)"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from engine.song import load_song
from engine.song.document import save_song
from engine.song.model import TimeRange
from tests.conftest import run_cli
from tests.engine.session.test_session import make_project


def test_edit_regenerates_a_section_and_a_line_with_new_words_in_one_take(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    loop = replace(project.song.takes[0], id="take-002", backend="stable-audio-small", params={"bars": 2})
    project.song = project.song.with_take(loop)  # a newer loop take: never the default
    save_song(project.song, project.folder)
    out = run_cli("edit", str(project.folder), "--section", "Chorus", "--lines", "l001", "--lyrics", "new words",
                  "--seconds", "0.5-1", "--seed", "3", "--engine", "thread")
    assert out.returncode == 0, out.stderr
    song = load_song(project.folder)
    take = song.takes[-1]
    assert take.parent == "take-001" and take.seed == 3
    # l001 (0 s, no end time) runs to l002 at 4 s and swallows 0.5-1 s; the chorus is 4-8 s: one range
    assert take.edited_ranges == (TimeRange(0.0, 8.0),)
    assert [ln.text for ln in song.lyrics if ln.id == "l001"] == ["new words"]
    assert f"{take.id}: edit of take-001" in out.stdout


def test_a_refused_edit_names_the_field_and_changes_nothing(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    before = (project.folder / "song.json").read_bytes()
    for options, says in ((["--take", "take-009", "--section", "Chorus"], "take: no take 'take-009'"),
                          (["--bars", "3-9"], "bars 3-9: past the end of take-001"),
                          (["--lines", "l001,l009"], "lines: 'l009' is not a lyric line"),
                          (["--lyrics", "x"], "--lyrics: give exactly one line"),
                          (["--bars", "3"], "--bars 3: give START-END"),
                          ([], "nothing to regenerate")):
        out = run_cli("edit", str(project.folder), *options, "--engine", "thread")
        assert out.returncode == 2 and says in out.stderr, (options, out.stderr)
    assert (project.folder / "song.json").read_bytes() == before
    assert sorted(p.name for p in (project.folder / "takes").iterdir()) == ["take-001"]
