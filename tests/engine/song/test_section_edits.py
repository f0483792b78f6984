"""Section edits (engine.song.section_edits): lines follow a move or a resize (or stay), sections never overlap,
split/merge/delete keep the document valid (lines and accepted takes refer only to sections that exist), kinds are
numbered again."""

from __future__ import annotations

import pytest

from engine.song import LyricLine, Song, TempoMap, WordTime
from engine.song import section_edits as se
from engine.song.sections import parse_sections


def song() -> Song:
    tempo = TempoMap.constant(120)  # a bar is 2 s
    lines = (LyricLine("a", "one two", 1.0, 2.0, (WordTime(1.0, "one"), WordTime(1.5, "two")), "verse-1"),
             LyricLine("b", "three", 4.0, section_id="verse-1"),
             LyricLine("c", "chorus line", 9.0),  # in no section, but it starts inside the chorus
             LyricLine("d", "late", 30.0))
    return Song(tempo=tempo, sections=parse_sections("verse:4,chorus:4,verse:4", tempo), lyrics=lines)


def starts(s: Song) -> dict[str, float | None]:
    return {ln.id: ln.start_s for ln in s.lyrics}


def test_move_carries_its_lines_or_leaves_them() -> None:
    s = se.delete_section(song(), "verse-2")  # room after the chorus
    moved = se.move_section(s, "chorus", 12.0)
    assert (moved.section("chorus").start_s, moved.section("chorus").end_s) == (12.0, 20.0)
    assert starts(moved)["c"] == 13.0 and starts(moved)["a"] == 1.0
    stay = se.move_section(s, "chorus", 12.0, follow=False)
    assert starts(stay)["c"] == 9.0
    blocked = se.move_section(song(), "chorus", 12.0)  # verse 2 is in the way: nowhere to go
    assert blocked.section("chorus").start_s == 8.0


def test_resize_maps_the_lines_onto_the_new_span_and_stops_at_neighbours() -> None:
    s = se.delete_section(song(), "chorus")
    wide = se.resize_section(s, "verse-1", 0.0, 16.0)
    a = next(ln for ln in wide.lyrics if ln.id == "a")
    assert (a.start_s, a.end_s, [w.start_s for w in a.words]) == (2.0, 4.0, [2.0, 3.0])
    assert starts(wide)["b"] == 8.0
    assert se.resize_section(song(), "verse-1", 0.0, 12.0).section("verse-1").end_s == 8.0  # the chorus is there
    with pytest.raises(ValueError, match="too short"):
        se.resize_section(song(), "verse-1", 3.0, 3.05)


def test_split_merge_delete_kind_and_numbering() -> None:
    s = se.split_section(song(), "verse-1", 4.0)
    names = [x.name for x in s.sections]
    assert names == ["Verse 1", "Verse 2", "Chorus", "Verse 3"]
    second = s.sections[1]
    assert {ln.id: ln.section_id for ln in s.lyrics}["b"] == second.id
    merged = se.merge_sections(s, "verse-1")
    assert [x.name for x in merged.sections] == ["Verse 1", "Chorus", "Verse 2"]
    assert {ln.id: ln.section_id for ln in merged.lyrics}["b"] == "verse-1"
    kinds = se.set_kind(song(), "verse-2", "bridge")
    assert [x.name for x in kinds.sections] == ["Verse", "Chorus", "Bridge"]
    assert kinds.section("verse-2").color == "#7a5b8c"
    added = se.add_section(song(), "bridge", 24.0)
    assert [(x.name, x.start_s, x.end_s) for x in added.sections][-1] == ("Bridge", 24.0, 32.0)
    with pytest.raises(ValueError, match="last section"):
        se.merge_sections(song(), "verse-2")


def test_deleting_a_section_drops_what_referred_to_it() -> None:
    from engine.song import Take

    s = song().replace(takes=(Take("take-001", "guide", 1),), accepted={"chorus": "take-001"})
    s = s.replace(lyrics=tuple(ln if ln.id != "c" else LyricLine("c", "x", 9.0, section_id="chorus")
                               for ln in s.lyrics))
    gone = se.delete_section(s, "chorus")
    assert "chorus" not in gone.accepted and all(ln.section_id != "chorus" for ln in gone.lyrics)
    merged = se.merge_sections(s, "verse-1")
    assert "chorus" not in merged.accepted
