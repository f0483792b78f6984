"""Following a DAW at another tempo than the song: a section (or bars) regenerated from the DAW is generated at the
song's tempo and locked to the DAW's, so N bars come back exactly N bars long at the DAW's tempo (the guide backend,
the real lock job, over OSC)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import soundfile as sf

from daw_bridge import protocol as p
from tests.daw_bridge.test_osc import Client, bridge  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


@pytest.mark.slow
def test_a_section_regenerated_while_following_a_slower_daw_comes_back_n_bars_at_its_tempo(bridge) -> None:  # noqa: F811
    b, osc = bridge
    song = b.session.song
    assert song.tempo.bpm == 120
    daw_bpm = 100.0
    # the DAW's transport as the bridge hears it (MIDI clock or Ardour's OSC): following, at 100 bpm
    b.commands.put(p.Envelope(p.TransportUpdate(bpm=daw_bpm, playing=False, position_beats=0.0, source="test"),
                              "midi:clock", None, "midi"))
    b.session.set_transport(follow=True)
    deadline = time.monotonic() + 5
    while b.session.transport.bpm != daw_bpm:
        assert time.monotonic() < deadline, b.session.transport
        time.sleep(0.02)
    chorus = next(s for s in song.sections if s.name.startswith("Chorus"))
    bars = song.tempo.seconds_to_bars(chorus.end_s) - song.tempo.seconds_to_bars(chorus.start_s)
    assert round(bars) == bars == 2
    c = Client(osc.address)
    c.send("/songbridge/job/generate_section", chorus.name)
    got = c.recv(want="/songbridge/job/done", timeout=120)
    done = next(args for address, args in got if address == "/songbridge/job/done")
    take_id = done[1]
    assert not [a for a, _ in got if a == "/songbridge/error"], got
    deadline = time.monotonic() + 120  # the lock job follows the generation by itself
    while take_id not in b.session.song.locked:
        assert time.monotonic() < deadline, "the new take was not locked to the DAW's tempo"
        time.sleep(0.1)
    take = b.session.song.take(take_id)
    lock = take.analysis["lock"]
    assert lock["bpm"] == daw_bpm
    folder = b.project.folder / "takes" / take_id
    mix, sr = sf.read(folder / "mix.wav")
    locked, sr2 = sf.read(folder / "locked" / "mix.wav")
    assert sr2 == sr and len(locked) == round(len(mix) * 120 / daw_bpm)  # the whole take at the DAW's tempo
    for stem in take.stems:  # every stem the same exact length
        assert sf.info(str(folder / "locked" / "stems" / f"{stem}.wav")).frames == len(locked)
    # the chorus's bar lines, taken through the lock's map, are the DAW's: 2 bars of 4 beats at 100 bpm = 4.8 s
    rows = np.asarray(lock["map"], dtype=np.float64)
    src, dst = rows[:, 0], rows[:, 1]
    a, e = (float(np.interp(t, src, dst)) for t in (chorus.start_s, chorus.end_s))
    want = bars * 4 * 60.0 / daw_bpm
    print(f"\nchorus: {chorus.end_s - chorus.start_s:.3f} s at 120 bpm -> {e - a:.4f} s locked (want {want:.3f} s, "
          f"{lock['mode']}, drift {lock['drift_pct']} %)")
    assert abs((e - a) - want) < 0.010
    assert abs(a - chorus.start_s * 120 / daw_bpm) < 0.010  # on the DAW's bar line, not just the right length
    # at the song's own tempo nothing is locked: the DAW at 120.2 bpm is the song's tempo
    b.commands.put(p.Envelope(p.TransportUpdate(bpm=120.2, source="test"), "midi:clock", None, "midi"))
    deadline = time.monotonic() + 5
    while b.session.transport.bpm != 120.2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    before = {t.id for t in b.session.song.takes}
    c.send("/songbridge/job/edit", "", json.dumps({"bars": [[2, 3]]}))
    deadline = time.monotonic() + 120
    while not {t.id for t in b.session.song.takes} - before:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(1.0)
    (second,) = {t.id for t in b.session.song.takes} - before
    assert second not in b.session.song.locked and not b.session.in_flight()
