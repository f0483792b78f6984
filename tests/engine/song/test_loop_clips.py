"""Loops are clips, not song takes (issue 26): the model keeps them apart whatever hands it a loop take, song.json
keeps them at their bars (schema 4), and a song.json written by the old code (schema 3, loops among the takes, the
song's style replaced by a loop's prompt) opens with its loops migrated, nothing lost."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from engine.errors import DocumentError, SongBridgeError
from engine.session.purpose import Purpose
from engine.session.regenerate import Regenerate, base_take
from engine.session.regenerate import plan as plan_regenerate
from engine.song.document import SCHEMA_VERSION, load_song, save_song, song_from_dict, take_to_dict
from engine.song.model import Loop, Section, Song, Style, Take
from engine.song.tempo import TempoMap


def song_take(i: int = 1) -> Take:
    return Take(f"take-00{i}", "guide", i, duration_s=32.0, style=Style(prompt="americana, male vocal"))


def loop_take(i: int, prompt: str, at_bar: float | None = 9.0, backend: str = "stable-audio-small") -> Take:
    params = {"prompt": prompt, "bars": 2.0, "bpm": 120.0, **({"at_bar": at_bar} if at_bar is not None else {})}
    return Take(f"take-00{i}", backend, 40 + i, params=params, duration_s=4.0, stems=("loop",),
                style=Style(prompt="americana, male vocal"))


def base_song(**changes) -> Song:
    return Song(tempo=TempoMap.constant(120), sections=(Section("verse", "Verse 1", 0.0, 32.0),),
                style=Style(prompt="americana, male vocal"), **changes)


def test_a_loop_given_as_a_take_becomes_a_clip_and_no_song_take_query_sees_it() -> None:
    s = base_song(takes=(song_take(1), loop_take(2, "warm pad"), loop_take(3, "drums", at_bar=None)))
    assert [t.id for t in s.takes] == ["take-001"]
    assert [(lp.id, lp.bar, lp.prompt) for lp in s.loops] == [("take-002", 9.0, "warm pad"), ("take-003", 1.0, "drums")]
    assert s.base_take().id == "take-001"  # the newest song take, not the newest thing made
    assert s.take("take-002").params["prompt"] == "warm pad"  # a loop's audio is still found by its id
    s2 = s.with_take(loop_take(4, "bass line", at_bar=5))
    assert [t.id for t in s2.takes] == ["take-001"] and s2.loop("take-004").bar == 5.0
    assert s2.style == s.style
    moved = s2.with_loop_at("take-004", 17)
    assert moved.loop("take-004").bar == 17.0 and moved.with_take(loop_take(4, "bass line")).loop("take-004").bar == 17
    with pytest.raises(ValueError, match="accepted take 'take-002'"):
        s.with_accepted("", "take-002")
    with pytest.raises(ValueError, match="bar must be a number >= 1"):
        Loop(loop_take(5, "x"), 0)
    with pytest.raises(ValueError, match="duplicate take or loop id 'take-001'"):
        Song(takes=(song_take(1),), loops=(Loop(Take("take-001", "stable-audio", 1, stems=("loop",))),))


def test_editing_the_song_never_starts_from_a_loop() -> None:
    s = base_song(takes=(song_take(1), loop_take(2, "warm pad"), loop_take(3, "pad bed", backend="stable-audio")))
    assert base_take(s, None).id == "take-001"
    assert plan_regenerate(s, Regenerate(seconds=((2.0, 4.0),)), ("guide",)).base.id == "take-001"
    for loop_id in ("take-002", "take-003"):
        with pytest.raises(SongBridgeError, match=f"take: {loop_id} is a loop"):
            base_take(s, loop_id)
    only_loops = Song(tempo=TempoMap.constant(120), takes=(loop_take(2, "warm pad"),))
    with pytest.raises(SongBridgeError, match="no song take"):
        base_take(only_loops, None)


def test_loops_round_trip_in_song_json_at_their_bars(tmp_path: Path) -> None:
    s = base_song(takes=(song_take(1), loop_take(2, "warm pad", at_bar=3), loop_take(3, "drums"))).with_loop_at(
        "take-003", 12)
    path = save_song(s, tmp_path / "p.songbridge")
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION == 4
    assert [t["id"] for t in data["takes"]] == ["take-001"]
    assert [(lp["bar"], lp["take"]["id"]) for lp in data["loops"]] == [(3.0, "take-002"), (12.0, "take-003")]
    assert load_song(path) == s


def old_song_json() -> dict:
    """song.json as schema 3 wrote it after ``songbridge loop "warm pad" -o SONG`` on an americana song: the loop a
    take of the song (the newest), the song's style prompt replaced by the loop's, the loop accepted for a section."""
    song = song_take(1)
    loop_a, loop_b = loop_take(2, "warm pad", at_bar=9), loop_take(3, "dusty drums", at_bar=None)
    takes = [take_to_dict(t) for t in (song, loop_a, loop_b)]
    takes[2]["stems"] = ["loop"]
    return {
        "schema_version": 3, "title": "Old", "artist": "", "sample_rate": 44100,
        "tempo": {"bar1_s": 0.0, "segments": [{"bar": 1, "bpm": 120.0, "time_signature": "4/4"}]},
        "key": "C major", "sections": [{"id": "verse", "name": "Verse 1", "start_s": 0.0, "end_s": 32.0, "color": ""}],
        "lyrics": [], "style": {"prompt": "warm pad", "preset": None, "reference_audio": None, "negative_prompt": ""},
        "takes": takes, "effects": {}, "daw": {"adapter": "generic"},
        "accepted": {"verse": "take-002", "": "take-001"}, "locked": ["take-003"],
    }


def test_a_schema_3_song_with_loop_takes_opens_with_them_as_clips_nothing_lost(tmp_path: Path) -> None:
    old = old_song_json()
    path = tmp_path / "old.songbridge" / "song.json"
    path.parent.mkdir()
    path.write_text(json.dumps(old, indent=2))
    song = load_song(path)
    assert [t.id for t in song.takes] == ["take-001"]
    assert [(lp.id, lp.bar) for lp in song.loops] == [("take-002", 9.0), ("take-003", 1.0)]
    for lp, before in zip(song.loops, old["takes"][1:], strict=True):  # every field the old take had is kept
        assert take_to_dict(lp.take) == before
    assert song.style.prompt == "americana, male vocal"  # the loop's prompt no longer stands for the song's style
    assert dict(song.accepted) == {"": "take-001"} and song.locked == ("take-003",)
    assert song.base_take().id == "take-001" and song.takes[-1].backend == "guide"
    save_song(song, path.parent)
    again = json.loads(path.read_text())
    assert again["schema_version"] == 4 and len(again["loops"]) == 2 and load_song(path) == song


def test_the_migration_keeps_a_style_the_producer_set_and_bad_loops_are_named(tmp_path: Path) -> None:
    old = old_song_json()
    old["style"]["prompt"] = "gospel choir"  # not a loop's prompt: the producer's own words stay
    assert song_from_dict(copy.deepcopy(old)).style.prompt == "gospel choir"
    new = json.loads(json.dumps(old))
    new["schema_version"] = 4
    new["loops"] = [{"bar": 0, "take": take_to_dict(loop_take(5, "x"))}]
    with pytest.raises(DocumentError, match=r"\$\.loops\[0\]\.bar"):
        song_from_dict(new, "song.json")
    new["loops"] = [{"bar": 2, "take": {"id": "take-005"}}]
    with pytest.raises(DocumentError, match=r"\$\.loops\[0\]\.take\.backend"):
        song_from_dict(new, "song.json")


def test_moving_a_loop_is_an_undoable_session_edit_and_undo_keeps_loops_made_since(tmp_path: Path) -> None:
    from engine.session import Session
    from engine.song.project import Project

    project = Project.create(tmp_path / "u.songbridge", base_song(takes=(song_take(1), loop_take(2, "warm pad"))))
    session = Session.open(project.folder, None, "test")
    try:
        assert session.edit(session.song.with_loop_at("take-002", 17), "Move loop")
        assert session.song.loop("take-002").bar == 17
        session._commit("job", [loop_take(3, "drums", at_bar=5)], Purpose("generate"))  # a loop arrives
        assert [t.id for t in session.song.takes] == ["take-001"]
        assert session.undo() == "Move loop"
        assert [(lp.id, lp.bar) for lp in session.song.loops] == [("take-002", 9.0), ("take-003", 5.0)]
        assert session.redo() == "Move loop" and session.song.loop("take-002").bar == 17
        session.flush()
        assert load_song(project.folder).loop("take-002").bar == 17
    finally:
        session.close()


def test_a_new_take_never_gets_a_loop_clips_id() -> None:
    from engine.generation import next_take_ids

    s = base_song(takes=(song_take(1), loop_take(2, "warm pad")))
    assert next_take_ids(s, 2) == ["take-003", "take-004"]
