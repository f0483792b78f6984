"""``songbridge use``: comping from the command line on a project nothing holds."""

from __future__ import annotations

from pathlib import Path

from engine.song import load_song
from tests.conftest import run_cli
from tests.engine.session.test_session import make_project


def test_use_makes_a_take_a_sections_take_and_refuses_bad_names_changing_nothing(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    folder = project.folder
    done = run_cli("use", str(folder), "take-001", "--section", "chorus")
    assert done.returncode == 0, done.stderr
    song = load_song(folder)
    chorus = next(s for s in song.sections if s.kind == "chorus")
    assert song.accepted == {chorus.id: "take-001"} and "now plays take-001" in done.stdout
    before = (folder / "song.json").read_bytes()
    for args, said in ((("take-404", "--section", "chorus"), "take-404"),
                       (("take-001", "--section", "bridge"), "no section 'bridge'")):
        bad = run_cli("use", str(folder), *args)
        assert bad.returncode == 2 and said in bad.stderr and "Traceback" not in bad.stderr
    assert (folder / "song.json").read_bytes() == before
    whole = run_cli("use", str(folder), "take-001")
    assert whole.returncode == 0 and load_song(folder).accepted.get("") == "take-001"
