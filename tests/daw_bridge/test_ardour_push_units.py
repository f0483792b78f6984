"""The live push's request (``ardour_push_live.timeline_fields``): tempo changes at their bars in Ardour's music time,
sections as spans in samples, names that cannot break the request's lines. The request against the real Ardour GUI:
``test_ardour_live_push.py``."""

from __future__ import annotations

import pytest

from daw_bridge.adapters.ardour_push_live import timeline_fields
from engine.song import Song
from engine.song.model import Section
from engine.song.tempo import TempoMap, TempoSegment, TimeSignature


def song_with(segments: tuple, sections: tuple) -> Song:
    return Song().replace(tempo=TempoMap(segments, 0.0), sections=sections)


def test_tempo_changes_are_placed_at_their_bars_in_ticks_through_the_meters_before_them() -> None:
    song = song_with((TempoSegment(1, 96.0, TimeSignature(4, 4)), TempoSegment(5, 132.0, TimeSignature(6, 8)),
                      TempoSegment(7, 70.5, TimeSignature(7, 16))), (Section("intro", "Intro", 0.0, 2.5),))
    fields = timeline_fields(song, 48000)
    tempos = [f.split("\t")[1:] for f in fields if f.startswith("tempo\t")]
    # bar 5 after four 4/4 bars: 16 quarters; bar 7 after two 6/8 bars (3 quarters each): 22 quarters
    assert tempos == [["0", "96.000000", "4", "4"], [str(16 * 1920), "132.000000", "6", "8"],
                      [str(22 * 1920), "70.500000", "7", "16"]]
    assert "section\t0\t120000\tIntro" in fields and "tag\tsb:" in fields and "kind\ttimeline" in fields


def test_a_section_name_with_tabs_and_line_breaks_stays_one_line_of_the_request() -> None:
    song = song_with((TempoSegment(1, 120.0, TimeSignature(4, 4)),),
                     (Section("v", "Verse\tone\nkind\tland", 1.0, 2.0),))
    sections = [f for f in timeline_fields(song, 44100) if f.startswith("section\t")]
    assert sections == ["section\t44100\t88200\tVerse one kind land"]
    assert all("\n" not in f for f in timeline_fields(song, 44100))



@pytest.mark.integration
@pytest.mark.slow
def test_a_push_into_the_closed_session_sets_every_tempo_change_at_its_bar(tmp_path) -> None:
    """The closed route (``ardour7-lua``) writes the song's tempo changes too, as Ardour loads them."""
    from daw_bridge.adapters.ardour import create_session
    from daw_bridge.adapters.ardour_markers import push, read_timeline
    from tests.daw_bridge.test_ardour import need_ardour

    need_ardour()
    session = create_session(tmp_path / "Closed", 120.0, 4)
    song = song_with((TempoSegment(1, 96.0, TimeSignature(4, 4)), TempoSegment(5, 132.0, TimeSignature(3, 4))),
                     (Section("intro", "Intro", 0.0, 10.0),))
    assert push(session, song) == 1
    timeline = read_timeline(session)
    assert [(bar, round(qpm, 4), beats, note) for bar, qpm, beats, note in timeline.tempos] == [
        (1, 96.0, 4, 4), (5, 132.0, 3, 4)]
    assert [(m.name, m.start, m.end) for m in timeline.markers] == [("sb:Intro", 0, 441000)]
