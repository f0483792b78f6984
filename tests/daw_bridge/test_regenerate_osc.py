"""Regenerating over OSC is the session's regenerate: past-the-end bars and a loop take as the base are refused with
an error reply naming the field (and nothing is queued), and ``/job/edit`` with take "" edits the default take."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.daw_bridge.test_osc import Client, bridge  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


def errors(got: list) -> list:
    return [args for address, args in got if address == "/songbridge/error"]


def test_past_the_end_and_loop_takes_are_refused_and_nothing_is_queued(bridge) -> None:  # noqa: F811
    b, osc = bridge
    song = b.session.song
    bars = song.tempo.seconds_to_bars(song.takes[0].duration_s)  # the bar the take ends at (7: six bars)
    loop = replace(song.takes[0], id="take-002", backend="stable-audio-small", params={"bars": 2, "prompt": "x"})
    b.session.edit(song.with_take(loop), "a loop take", "test")
    c = Client(osc.address)
    for address, args, says in (
            ("/songbridge/job/generate_bars", (bars - 1.0, bars + 10.0), "past the end of take-001"),
            ("/songbridge/job/generate_seconds", (100.0, 110.0), "at or after the end of take-001"),
            ("/songbridge/job/edit", ("take-002", json.dumps({"bars": [[1, 2]]})), "take: take-002 is a loop"),
            ("/songbridge/job/edit", ("take-009", json.dumps({"bars": [[1, 2]]})), "take: no take 'take-009'"),
            ("/songbridge/job/edit", ("", json.dumps({"sections": ["Bridge"]})), "section: no section 'Bridge'"),
            ("/songbridge/job/edit", ("", json.dumps({"lines": ["nope"]})), "lines: 'nope' is not a lyric line")):
        c.send(address, *args)
        got = errors(c.recv(want="/songbridge/error"))
        assert got and got[0][0] == address and says in got[0][2], (address, got)
    assert not b.session.jobs and [t.id for t in b.session.song.takes] == ["take-001"]  # take-002: a loop clip
    assert [lp.id for lp in b.session.song.loops] == ["take-002"]


def test_edit_with_no_take_regenerates_the_newest_song_take_past_a_loop(bridge) -> None:  # noqa: F811
    b, osc = bridge
    song = b.session.song
    loop = replace(song.takes[0], id="take-002", backend="stable-audio-small", params={"bars": 2, "prompt": "x"})
    b.session.edit(song.with_take(loop), "a loop take", "test")
    c = Client(osc.address)
    c.send("/songbridge/job/edit", "", json.dumps({"sections": ["Chorus"], "bars": [[2, 3]], "takes": 1}))
    got = c.recv(want="/songbridge/job/done", timeout=60)
    done = next(args for address, args in got if address == "/songbridge/job/done")
    take = b.session.song.take(done[1])
    chorus = next(s for s in song.sections if s.name.startswith("Chorus"))
    assert take.parent == "take-001"
    assert [(r.start_s, r.end_s) for r in take.edited_ranges] == [
        (song.tempo.bars_to_seconds(2), song.tempo.bars_to_seconds(3)), (chorus.start_s, chorus.end_s)]
