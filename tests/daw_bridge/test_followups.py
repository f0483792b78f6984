"""Follow-ups are the session's: a regeneration that is locked to the DAW's tempo and then landed queues the same
jobs whether the DAW asked for it over OSC (the bridge only translates) or a plain session call did; landing the
whole song lands its loop clips too. Real peers: the guide backend, the real lock and render jobs, the generic
landing into a folder, a python-osc client."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from daw_bridge import protocol as p
from engine.errors import SongBridgeError
from engine.session import FollowUp, JobEnded, JobQueued, Purpose, Regenerate
from engine.session import followups as fu
from tests.daw_bridge.test_osc import Client, bridge  # noqa: F401 - the fixture
from tests.waiting import wait_until

pytestmark = pytest.mark.integration
DAW_BPM = 100.0


def follow_daw(b: Any) -> None:
    b.commands.put(p.Envelope(p.TransportUpdate(bpm=DAW_BPM, playing=False, position_beats=0.0, source="test"),
                              "midi:clock", None, "midi"))
    b.session.set_transport(follow=True)
    wait_until(lambda: b.session.transport.bpm == DAW_BPM, 5, "the DAW's tempo")


def shape(purpose: Purpose) -> tuple[Any, ...]:
    """What a job is, with the takes it made (their ids differ between two runs) and who asked left out."""
    def anon(x: Any) -> Any:
        return re.sub(r"take-\d+", "T", x) if isinstance(x, str) else x

    where = purpose.landing
    return (purpose.kind, anon(purpose.label), purpose.section, purpose.ranges, where and where.bar,
            where and where.start_s, where and where.end_s, "T" if purpose.take else None, purpose.base_take,
            purpose.follow_ups)


class Recorder:
    def __init__(self, session: Any):
        self.queued: list[Purpose] = []
        self.ended: list[JobEnded] = []
        self.stop = session.subscribe(self.on)

    def on(self, ev: Any) -> None:
        if isinstance(ev, JobQueued):
            self.queued.append(ev.purpose)
        elif isinstance(ev, JobEnded):
            self.ended.append(ev)

    def kinds(self) -> list[str]:
        return [q.kind for q in self.queued]


@pytest.mark.slow
def test_lock_then_land_from_the_daw_and_from_a_session_call_queue_the_same_jobs(bridge) -> None:  # noqa: F811
    b, osc = bridge
    session = b.session
    follow_daw(b)
    session.auto_land = True  # serve --auto-land: the session lands a job's takes when they are made
    chorus = next(s for s in session.song.sections if s.name.startswith("Chorus"))
    base = session.song.takes[-1].id

    rec = Recorder(session)
    c = Client(osc.address)
    c.send("/songbridge/job/generate_section", chorus.name)
    got = c.recv(want="/songbridge/stems/landed", timeout=180)
    assert not [a for a, _ in got if a == "/songbridge/error"], got
    landed = next(args for address, args in got if address == "/songbridge/stems/landed")
    assert landed[2] == 1, landed  # delivered
    from_daw = list(rec.queued)
    rec.stop()
    assert [q.kind for q in from_daw] == ["generate", "lock", "land"]
    made = from_daw[1].take  # the lock's take: the one the generation made
    assert made != base
    assert made in session.song.locked and session.song.take(made).analysis["lock"]["bpm"] == DAW_BPM
    assert from_daw[2].take == made and from_daw[2].landing.section in (chorus.name, chorus.id)

    rec = Recorder(session)
    session.auto_land = False  # the session call names its follow-ups itself
    session.regenerate(Regenerate(sections=(chorus.name,), take=base), origin="daw",
                       follow_ups=(fu.lock(DAW_BPM), fu.land()))
    wait_until(lambda: any(e.purpose.kind == "land" for e in rec.ended), 180, "the landing's render")
    wait_until(lambda: len(b.landings) >= 2, 30, "the second landing")
    from_call = list(rec.queued)
    rec.stop()
    assert [shape(q) for q in from_call] == [shape(q) for q in from_daw]
    assert all(entry["ok"] for entry in b.landings), list(b.landings)


def test_bad_follow_ups_are_refused_whole_and_nothing_is_queued(bridge) -> None:  # noqa: F811
    b, _osc = bridge
    session = b.session
    before, version = session.song, session.version
    with pytest.raises(SongBridgeError, match="bpm must be 20..400"):
        fu.lock(5000.0)
    with pytest.raises(SongBridgeError, match="no action 'dance'"):
        FollowUp("dance")  # type: ignore[arg-type]
    with pytest.raises(SongBridgeError, match="only for a landing"):
        FollowUp("split", section="Chorus 1")
    with pytest.raises(SongBridgeError, match=r"follow_ups\[1\]: expected a FollowUp, got str"):
        session.regenerate(Regenerate(sections=("Chorus 1",)), follow_ups=(fu.land(), "land"))  # type: ignore[arg-type]
    assert session.song is before and session.version == version and not session.in_flight()


def test_landing_needs_a_lander_and_a_failed_follow_up_says_why(bridge, tmp_path: Path) -> None:  # noqa: F811
    b, osc = bridge
    session = b.session
    b._unlander()  # as when the bridge closes: the session alone cannot land
    with pytest.raises(SongBridgeError, match="no DAW link in this program"):
        session.land()
    events: list[Any] = []
    stop = session.subscribe(events.append)
    job = session.regenerate(Regenerate(bars=((2, 3),)), follow_ups=(fu.land(),))
    wait_until(lambda: any(isinstance(e, fu.FollowUpFailed) for e in events), 120, "the follow-up's refusal")
    stop()
    failed = next(e for e in events if isinstance(e, fu.FollowUpFailed))
    assert failed.job_id == job and failed.action == "land" and "no DAW link" in failed.error


@pytest.mark.slow
def test_landing_the_whole_song_lands_its_loop_clips_at_their_bars(bridge, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    from engine.audio.bwf import read_bext
    from engine.backends.stable_audio.tiny import create_tiny_stable_audio

    models = tmp_path / "sa"
    create_tiny_stable_audio(models)
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(models))
    b, osc = bridge
    c = Client(osc.address)
    c.send("/songbridge/loop/generate", "tech house drum loop", 2.0, 120.0, 5.0)
    got = c.recv(timeout=180, want="/songbridge/stems/landed")
    assert got[-1][0] == "/songbridge/stems/landed" and got[-1][1][2] == 1, got
    loop = b.project.song.loops[-1]
    out = b.project.folder / "renders" / "daw"
    for f in out.glob("*"):
        f.unlink()  # what the loop's own landing wrote: the whole song's landing must write it again
    c.send("/songbridge/stems/land")
    first = c.recv(timeout=120, want="/songbridge/stems/landed")
    second = c.recv(timeout=120, want="/songbridge/stems/landed")
    landed = [args for address, args in first + second if address == "/songbridge/stems/landed"]
    assert len(landed) == 2 and loop.id in [args[0] for args in landed], landed
    assert all(args[2] == 1 for args in landed), landed
    loop_file = next(f for f in out.glob("*.wav") if "tech-house-drum-loop" in f.name and "_loop_bar5_" in f.name)
    assert read_bext(loop_file).time_reference == round(b.project.song.tempo.bars_to_seconds(5) * 44100)
    assert [f for f in out.glob("*.wav") if "tech-house" not in f.name], "the song's stems were landed too"
