"""Regenerate, the session's one implementation for every front-end: how a request becomes one EditSpec (line end
times honoured, regions merged, the base take chosen) and every refusal, each before anything changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.backends.base import EditSpec
from engine.errors import SongBridgeError
from engine.session import Regenerate, Session, plan_regenerate
from engine.song import Project
from engine.song.model import LyricLine, Section, Song, Take, TimeRange
from engine.song.tempo import TempoMap

BPM = TempoMap.constant(120)  # a 4/4 bar is 2 s


def song(**changes) -> Song:
    """Two 8-bar sections (0-16 s, 16-32 s), three lines (the first with an end time), a song take of 32 s, a
    newer 4-bar loop take."""
    base = Song(tempo=BPM, sections=(Section("verse", "Verse 1", 0.0, 16.0), Section("chorus", "Chorus 1", 16.0, 32.0)),
                lyrics=(LyricLine("a", "first", 2.0, 5.0, section_id="verse"),
                        LyricLine("b", "second", 8.0, section_id="verse"),
                        LyricLine("c", "third", 20.0, section_id="chorus"),
                        LyricLine("u", "untimed")),
                takes=(Take("take-001", "guide", 1, duration_s=32.0), Take("take-002", "guide", 2, duration_s=32.0),
                       Take("take-003", "stable-audio-small", 3, params={"bars": 4, "prompt": "x"},
                            duration_s=8.0)))
    return base.replace(**changes)


def spec(req: Regenerate, s: Song | None = None) -> EditSpec:
    return plan_regenerate(s or song(), req).edit


def test_lines_honour_their_end_time_and_each_line_is_its_own_range() -> None:
    # a ends at 5 s (its end time), b runs to the next line (c at 20 s): two ranges, not one span from 2 to 20
    assert spec(Regenerate(lines=("a", "b"), take="take-001")) == EditSpec(
        "take-001", (TimeRange(2.0, 5.0), TimeRange(8.0, 20.0)))
    assert spec(Regenerate(lines=("c",))).ranges == (TimeRange(20.0, 32.0),)  # the last line: to the take's end


def test_regions_of_every_kind_are_one_spec_merged_in_order() -> None:
    req = Regenerate(sections=("chorus 1",), bars=((3, 5),), seconds=((9.0, 12.0), (30.0, 31.0)), lines=("a",))
    # bars 3-5 are 4-8 s: touching/overlapping spans become one range
    assert spec(req).ranges == (TimeRange(2.0, 8.0), TimeRange(9.0, 12.0), TimeRange(16.0, 32.0))


def test_the_default_take_is_the_sections_accepted_take_then_the_songs_then_the_newest_song_take() -> None:
    s = song()
    assert spec(Regenerate(sections=("Chorus 1",)), s).source_take == "take-002"  # newest, never the loop take-003
    s = s.replace(accepted={"": "take-001"})
    assert spec(Regenerate(seconds=((1.0, 2.0),)), s).source_take == "take-001"
    s = song(takes=(*song().takes, Take("take-004", "guide", 4, duration_s=32.0)),
             accepted={"chorus": "take-002", "": "take-001"})
    assert spec(Regenerate(sections=("chorus",)), s).source_take == "take-002"
    assert spec(Regenerate(lines=("c",)), s).source_take == "take-002"  # the line's section
    assert spec(Regenerate(bars=((9, 10),)), s).source_take == "take-002"  # bar 9 is in the chorus
    assert spec(Regenerate(lines=("a",)), s).source_take == "take-001"
    assert spec(Regenerate(lines=("a",), take="take-004"), s).source_take == "take-004"


@pytest.mark.parametrize(("req", "says"), [
    (Regenerate(), "nothing to regenerate"),
    (Regenerate(seconds=((1, 2),), take="take-009"), "take: no take 'take-009'"),
    (Regenerate(seconds=((1, 2),), take="take-003"), "take: take-003 is a loop"),
    (Regenerate(seconds=((31.956, 40.0),)), "past the end of take-002"),
    (Regenerate(seconds=((33.0, 40.0),)), "at or after the end of take-002"),
    (Regenerate(seconds=((5.0, 5.0),)), "seconds: the end must come after the start"),
    (Regenerate(bars=((16, 30),)), "bars 16-30: past the end of take-002, which ends at bar 17"),
    (Regenerate(bars=((0, 2),)), "bars 0-2: bars count from 1"),
    (Regenerate(sections=("Bridge",)), "section: no section 'Bridge'"),
    (Regenerate(lines=("zz",)), "lines: 'zz' is not a lyric line"),
    (Regenerate(lines=("u",)), "lines: 'u' is not timed yet"),
    (Regenerate(lines=("a",), lyrics=(("zz", "x"),)), "lyrics: 'zz' is not a lyric line"),
    (Regenerate(lines=("a",), lyrics=(("a", "x" * 501),)), "lyrics: the new words for 'a'"),
    (Regenerate(lines=("a",), takes=0), "takes: must be 1..16"),
    (Regenerate(lines=("a",), seed=-1), "seed: must be 0..4294967295"),
    (Regenerate(lines=("a",), backend="nope"), "backend: no backend 'nope'"),
])
def test_refusals_name_the_field(req: Regenerate, says: str) -> None:
    with pytest.raises(SongBridgeError) as err:
        plan_regenerate(song(), req, ("guide", "diffrhythm"))
    assert says in str(err.value)


def test_a_song_of_only_loops_has_nothing_to_regenerate() -> None:
    s = song(takes=(song().loops[0].take,))  # given as a take, it becomes a loop clip all the same
    with pytest.raises(SongBridgeError, match="take: there is no song take"):
        plan_regenerate(s, Regenerate(seconds=((1, 2),)))


class Recorder:
    """An engine that records what it is given and runs nothing."""

    def __init__(self) -> None:
        self.jobs: list = []

    def submit(self, job) -> str:
        self.jobs.append(job)
        return f"job-{len(self.jobs)}"

    def wait(self, timeout: float):
        import time

        time.sleep(timeout)

    def cancel(self, job_id: str) -> bool:
        return False


def test_a_refused_request_changes_nothing_and_a_good_one_sets_the_words_then_queues(tmp_path: Path) -> None:
    s = song(takes=song().takes[:2])
    Project.create(tmp_path / "r.songbridge", s)
    engine = Recorder()
    session = Session.open(tmp_path / "r.songbridge", engine, "test")
    try:
        with pytest.raises(SongBridgeError, match="past the end"):
            session.regenerate(Regenerate(lines=("a",), lyrics=(("a", "new words"),), seconds=((30.0, 40.0),)))
        assert session.song == s and not engine.jobs and session.history.undo_entry() is None
        job = session.regenerate(Regenerate(lines=("a",), lyrics=(("a", "new words"),), take="take-001", seed=7),
                                 origin="cli")
        assert [ln.text for ln in session.song.lyrics if ln.id == "a"] == ["new words"]
        (req,) = engine.jobs[0].requests
        assert req.edit == EditSpec("take-001", (TimeRange(2.0, 5.0),)) and req.seed == 7
        assert [ln.text for ln in req.lyrics if ln.id == "a"] == ["new words"]
        assert session.jobs[job].base_take == "take-001" and session.jobs[job].origin == "cli"
    finally:
        session.close()
