"""A project from someone else is data, never paths outside it: planted symbolic links and hostile stem names
change nothing outside the project folder, and each is refused with a message that names it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.errors import SongBridgeError
from engine.safe_fs import check_inside, fresh_dir, open_write
from engine.song.document import load_song
from engine.song.model import Take
from tests.conftest import run_cli
from tests.engine.session.test_session import make_project


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_a_symlinked_partial_folder_makes_grid_lock_write_nothing_outside(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    take = project.song.takes[-1]
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    (project.folder / "takes" / take.id / ".locked.partial").symlink_to(victim, target_is_directory=True)
    r = run_cli("grid", str(project.folder), "--lock", "--models", str(tmp_path / "no-models"))
    assert r.returncode == 0, r.stderr
    assert _tree(victim) == {"keep.txt": b"mine"}  # nothing written into the link's target, nothing removed
    assert (project.folder / "takes" / take.id / "locked" / "mix.wav").is_file()


def test_a_symlinked_render_file_is_not_written_through(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    victim = tmp_path / "victim.wav"
    victim.write_bytes(b"precious")
    staging = project.folder / "renders"
    staging.mkdir()
    (staging / "x.wav").symlink_to(victim)
    with pytest.raises(SongBridgeError, match="symbolic link"):
        open_write(staging / "x.wav", project.folder).close()
    assert victim.read_bytes() == b"precious"


@pytest.mark.slow
def test_a_linked_folder_inside_the_project_is_refused_for_writing(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    outside = tmp_path / "outside"
    outside.mkdir()
    (project.folder / "renders").symlink_to(outside, target_is_directory=True)
    r = run_cli("render", str(project.folder))
    assert r.returncode != 0
    assert "renders: is a symbolic link inside the project" in r.stderr
    assert "Traceback" not in r.stderr
    assert list(outside.iterdir()) == []
    with pytest.raises(SongBridgeError, match="outside the project"):
        check_inside(project.folder, project.folder / ".." / "elsewhere")
    fresh_dir(project.folder / "takes" / "fresh", project.folder)  # a plain folder is fine


@pytest.mark.parametrize("stem", ["../../victim", "a/b", "..", "", "Vocal", "mix", "x" * 40])
def test_hostile_stem_names_are_refused_where_they_enter(tmp_path: Path, stem: str) -> None:
    with pytest.raises(ValueError, match="stem name"):
        Take("take-001", "guide", 1, stems=("drums", stem))
    project = make_project(tmp_path / "p")
    data = json.loads((project.folder / "song.json").read_text())
    data["takes"][-1]["stems"] = ["drums", stem]
    (project.folder / "song.json").write_text(json.dumps(data))
    with pytest.raises(SongBridgeError, match="stem name") as info:
        load_song(project.folder)
    assert "song.json" in str(info.value)


def test_a_hostile_stem_name_in_song_json_reads_and_writes_nothing_outside(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    (victim_dir / "victim.wav").write_bytes(b"precious")
    data = json.loads((project.folder / "song.json").read_text())
    rel = os.path.relpath(victim_dir / "victim", project.folder / "takes" / "x" / "stems")
    data["takes"][-1]["stems"] = ["drums", rel]
    (project.folder / "song.json").write_text(json.dumps(data))
    before = _tree(project.folder)
    for cmd in (["render", str(project.folder)], ["grid", str(project.folder), "--lock", "--models",
                                                       str(tmp_path / "none")]):
        r = run_cli(*cmd)
        assert r.returncode != 0 and "stem name" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert (victim_dir / "victim.wav").read_bytes() == b"precious"
    assert _tree(project.folder) == before


def test_a_recovered_record_with_a_hostile_stem_is_moved_aside_not_trusted(tmp_path: Path) -> None:
    import shutil

    from engine.service import EngineService
    from engine.session import Session

    project = make_project(tmp_path / "p")
    src = project.folder / "takes" / project.song.takes[-1].id
    planted = project.folder / "takes" / "take-009"
    shutil.copytree(src, planted)  # a finished take the song does not list: what a crash leaves, recovered on open
    record = json.loads((planted / "record.json").read_text())
    record.update(id="take-009", stems=["drums", "../../../victim"])
    (planted / "record.json").write_text(json.dumps(record))
    engine = EngineService("thread").start()
    try:
        session = Session.open(project.folder, engine, "test")
        try:
            assert "take-009" not in {t.id for t in session.song.takes}
            assert any("take-009 aside" in n for n in session.notes), session.notes
        finally:
            session.close()
    finally:
        engine.close()
    assert not planted.exists() and (project.folder / "takes" / ".quarantine" / "take-009").is_dir()


def test_a_pipe_where_a_stem_should_be_is_refused_not_waited_on(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    take = project.song.takes[-1]
    stem = project.folder / "takes" / take.id / "stems" / f"{take.stems[0]}.wav"
    stem.unlink()
    os.mkfifo(stem)  # opening a FIFO for reading blocks until a writer comes: a hostile project hung render
    r = run_cli("render", str(project.folder))
    assert r.returncode != 0 and "not a regular file" in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("body, said", [("a = " + "[" * 50_000 + "]" * 50_000 + "\n", "nested too deeply"),
                                        ("# " + "x" * (2 * 2**20) + "\n", "larger than"),
                                        (None, "not a regular file")])
def test_a_hostile_effect_chain_file_is_one_clear_error(tmp_path: Path, body: str | None, said: str) -> None:
    project = make_project(tmp_path / "p")
    chain = project.folder / "fx" / "bad.toml"
    chain.parent.mkdir()
    if body is None:
        os.mkfifo(chain)
    else:
        chain.write_text(body)
    r = run_cli("render", str(project.folder), "--fx", "vocal=fx/bad.toml", cwd=project.folder)
    assert r.returncode != 0 and "bad.toml" in r.stderr and said in r.stderr, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr


def test_a_song_json_with_a_flood_of_lines_is_refused_quickly(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", take=False)
    data = json.loads((project.folder / "song.json").read_text())
    line = data["lyrics"][0]
    data["lyrics"] = [dict(line, id=f"line-{i:06d}", start_s=i * 0.001) for i in range(10_001)]
    (project.folder / "song.json").write_text(json.dumps(data))
    with pytest.raises(SongBridgeError, match=r"\$\.lyrics: 10,001 entries; a song holds at most 10,000"):
        load_song(project.folder)
