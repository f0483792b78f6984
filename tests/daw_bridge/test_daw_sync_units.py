"""Pieces of the DAW sync that need no DAW: markers pulled into a song with lyrics and accepted takes (sections of
the same name keep their ids; lines and accepted takes of a section that is gone move to the section at their time),
Ardour's tempo map read from its session file for following, and the OSC host check."""

from __future__ import annotations

from pathlib import Path

import pytest

from daw_bridge.adapters.ardour_follow import SampleBeats, session_tempo_map
from daw_bridge.adapters.ardour_markers import Marker, SessionTimeline, song_from_timeline
from daw_bridge.daw_sync import check_host
from engine.errors import SongBridgeError
from engine.generation import SongChoices, prepare_song
from engine.lyrics import parse
from engine.song import Song


def lyric_song() -> Song:
    song = prepare_song(Song(), parse("[verse]\none two\nthree four\n[chorus]\nfive six\n"),
                        SongChoices(title="T", style="pop", bpm=120, sections="verse:2,chorus:2"), first_time=True)
    return song


def test_pulled_markers_keep_lines_on_their_sections() -> None:
    song = lyric_song()
    verse, chorus = song.sections
    rate = 48000
    tl = SessionTimeline(rate, ((1, 100.0, 4, 4),), (
        Marker("Intro", 0, 0, "mark"), Marker("verse", 2 * rate, 2 * rate, "mark"),
        Marker("Solo", 6 * rate, 9 * rate, "range")), 9 * rate)
    got = song_from_timeline(song, tl)
    assert [s.name for s in got.sections] == ["Intro", "verse", "Solo"]
    assert got.sections[1].id == verse.id  # the same name: the same section, its lines stay
    assert {ln.section_id for ln in got.lyrics if ln.section_id} <= {s.id for s in got.sections}
    moved = [ln for ln in got.lyrics if ln.id in {x.id for x in song.lyrics if x.section_id == chorus.id}]
    assert moved and all(ln.section_id == verse.id for ln in moved)  # the chorus (4-8 s) is inside the new verse
    for ln in got.lyrics:  # a timed line belongs to the section it is sung in
        sec = next(x for x in got.sections if x.id == ln.section_id)
        assert ln.start_s is not None and sec.start_s <= ln.start_s < sec.end_s, (ln, sec)
    assert got.tempo.bpm == 100.0


def test_the_follow_map_reads_ardours_tempo_positions(tmp_path: Path) -> None:
    folder = tmp_path / "S"
    folder.mkdir()
    (folder / "S.ardour").write_text(
        '<Session><TempoMap superclocks-per-second="282240000"><Tempos>'
        '<Tempo npm="120" note-type="4" sclock="0" quarters="0:0" active="1"/>'
        '<Tempo npm="90" note-type="4" sclock="2257920000" quarters="16:0" active="1"/>'
        '<Tempo npm="60" note-type="8" sclock="4515840000" quarters="19:0" active="0"/>'
        "</Tempos></TempoMap></Session>")
    m = session_tempo_map(folder, 44100)
    assert m.beats(44100 * 4) == 8.0 and m.beats(44100 * 8) == 16.0 and m.beats(44100 * 10) == 19.0
    m.anchor(44100 * 12, 30.0, 60.0)  # the running Ardour's tempo changed: anchored again from there
    assert m.beats(44100 * 13) == 31.0 and m.beats(44100 * 10) == 19.0
    assert session_tempo_map(tmp_path / "none", 44100).beats(44100) == 2.0  # no file: 120 bpm from 0
    assert SampleBeats(48000, [(0.0, 0.0, 100.0)]).beats(48000 * 3) == 5.0


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "studio.local", "ardour-box"])
def test_good_hosts(host: str) -> None:
    assert check_host(host) == host


@pytest.mark.parametrize("host", ["", "bad host", "a" * 300, "x;rm -rf", "-lead.example"])
def test_bad_hosts_are_refused_by_name(host: str) -> None:
    with pytest.raises(SongBridgeError, match="host:"):
        check_host(host)


def test_every_osc_address_a_message_names_exists() -> None:
    """A refusal or a hint that names ``/songbridge/...`` names an address the bridge takes (or documents as a
    reply): the scan of the code, the MIDI maps and the Lua scripts (a folder like ``<session>/songbridge/`` is
    not an address)."""
    import re

    from daw_bridge.osc.addresses import translate
    from tests.conftest import REPO

    doc = (REPO / "docs" / "osc.md").read_text()
    seen, missing = 0, []
    for root in ("daw_bridge", "songbridge", "gui", "engine", "presets"):
        for f in (REPO / root).rglob("*"):
            if f.suffix not in (".py", ".toml", ".map", ".lua") or not f.is_file():
                continue
            for m in re.finditer(r"(?<![>\w.])/songbridge(?:/[a-z_]+)+", f.read_text(errors="ignore")):
                seen += 1
                cmd = translate(m.group(0), [])
                if getattr(cmd, "code", "") == "unknown_address" and m.group(0) not in doc:
                    missing.append(f"{f.relative_to(REPO)}: {m.group(0)}")
    assert seen > 30 and missing == []


def test_a_push_then_a_pull_gives_the_same_sections() -> None:
    """Pushed ranges (``sb:<name>``) beside the producer's markers of the same name and start: one section each."""
    song = lyric_song()
    rate = 44100
    tl = SessionTimeline(rate, ((1, 120.0, 4, 4),), (
        Marker("Verse", 0, 0, "mark"), Marker("sb:Verse", 0, 4 * rate, "range"),
        Marker("sb:Chorus", 4 * rate, 8 * rate, "range"), Marker("Chorus", 4 * rate, 4 * rate, "mark"),
        Marker("Outro", 8 * rate, 8 * rate, "mark")), 10 * rate)
    got = song_from_timeline(song, tl)
    assert [(s.name, s.start_s, s.end_s) for s in got.sections] == [
        ("Verse", 0.0, 4.0), ("Chorus", 4.0, 8.0), ("Outro", 8.0, 10.0)]
    assert [s.id for s in got.sections[:2]] == [s.id for s in song.sections]


def test_a_tempo_heard_while_rolling_is_refined_over_a_longer_span() -> None:
    m = SampleBeats(48000, [(0.0, 0.0, 120.0)])
    m.anchor(48000 * 8, 16.0, None)  # on the map: nothing changes
    assert m.pieces == [(0.0, 0.0, 120.0)]
    m.anchor(48000 * 10, 19.0, 90.4)  # off the map: Ardour's tempo changed (90, measured roughly 90.4)
    assert m.pieces[-1] == (10.0, 19.0, 90.4)
    m.anchor(48000 * 14, 25.0, 90.3)  # four seconds on at 90: the same tempo, known better now
    assert m.pieces[-1][:2] == (10.0, 19.0) and abs(m.pieces[-1][2] - 90.0) < 1e-9
    assert abs(m.beats(48000 * 20) - 34.0) < 1e-9
    m.anchor(48000 * 24, 41.0, 60.0)  # another change (to 60): anchored again there
    assert m.pieces[-1] == (24.0, 41.0, 60.0) and len(m.pieces) == 3
