"""Following a running Ardour (``ardour7-lua`` holding a session on its Dummy backend, its OSC surface on): a locate
while stopped reaches SongBridge's position within 100 ms, to the tick; a tempo change made in the running Ardour
while it rolls keeps SongBridge's position on Ardour's, within one tick, and its tempo follows."""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

import pytest

from daw_bridge.adapters.ardour import ArdourOsc, enable_osc
from engine.song.document import save_song
from tests.daw_bridge.test_ardour import new_session

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RATE = 44100
TICK = 1 / 1920  # Ardour's BBT tick, in quarter notes


def hold_with_tempo_change(session: Path, at_sample: int, bpm: float, extra: str = "") -> tuple[subprocess.Popen, Path,
                                                                                               Path]:
    """``ardour7-lua`` holding ``session`` open; when the returned ``go`` file appears it sets a tempo of ``bpm`` at
    ``at_sample`` in the running session (as a producer would in Ardour's tempo ruler); the ``stop`` file ends it."""
    stop_file, go = session.parent / f"stop-{session.name}", session.parent / f"tempo-{session.name}"
    script = session.parent / f"hold-{session.name}.lua"
    script.write_text(
        f'local s = load_session("{session}", "{session.name}"); assert(s)\n'
        "local done = false\n"
        "for i = 1, 2400 do\n"
        f'  if io.open("{stop_file}") then break end\n'
        f'  if not done and io.open("{go}") then\n'
        "    local tm = Temporal.TempoMap.fetch_writable ()\n"
        f"    tm:set_tempo (Temporal.Tempo ({bpm}, {bpm}, 4), Temporal.timepos_t ({at_sample}))\n"
        "    Temporal.TempoMap.update (tm)\n"
        f"{extra}"
        "    done = true\n"
        "  end\n"
        "  ARDOUR.LuaAPI.usleep(20000)\n"
        "end\n"
        "close_session()\n")
    return subprocess.Popen(["ardour7-lua", str(script)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL), stop_file, go


def osc_port_of(proc: subprocess.Popen) -> int:
    from daw_bridge.adapters import ardour_live as live

    deadline = time.monotonic() + 30
    while True:
        ports = [port for q in live.processes() if q.pid == proc.pid for port in q.osc_ports()
                 if 3819 <= port <= 3838]
        if ports:
            return ports[0]
        assert time.monotonic() < deadline and proc.poll() is None, "Ardour's OSC surface did not come up"
        time.sleep(0.2)


def wait_for(what: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_locates_reach_songbridge_within_100_ms_and_a_tempo_change_while_rolling_keeps_the_position(
        tmp_path: Path) -> None:
    from daw_bridge import protocol as p
    from daw_bridge.server import Bridge
    from engine.service import EngineService
    from engine.session import Session
    from engine.song import DawLink, Project, Song

    session = new_session(tmp_path, "Roll")  # 120 bpm, 4/4, 44.1 kHz
    enable_osc(session, "Roll")
    proc, stop_file, go = hold_with_tempo_change(session, RATE * 8, 90.0)  # bar 5
    try:
        port = osc_port_of(proc)
        project = Project(tmp_path / "f.songbridge", Song())
        project.song = project.song.replace(daw=DawLink(adapter="ardour", session=str(session), port=port))
        save_song(project.song, project.folder)
        with EngineService("thread") as engine:
            core = Session(project, engine)
            bridge = Bridge(core, lambda data, to: None).start()
            ardour = ArdourOsc(port=port)
            try:
                bridge.commands.put(p.Envelope(p.FollowTransport(True), "/songbridge/transport/set/follow", None,
                                               "gui"))
                beats = lambda: core.transport.beats if core.transport.beats is not None else -1.0  # noqa: E731
                # 1. locates while stopped, at 120 bpm
                waits = []
                for i in range(12):
                    target = 22050 * (i + 1) + 37 * i
                    want = target / RATE * 2
                    time.sleep(0.25)
                    sent = time.monotonic()
                    ardour.locate(target)
                    wait_for(lambda want=want: abs(beats() - want) <= TICK, 5)
                    waits.append(time.monotonic() - sent)
                ms = sorted(w * 1000 for w in waits)
                print(f"\nlocate while stopped -> SongBridge: median {statistics.median(ms):.1f} ms, max {ms[-1]:.1f} "
                      f"ms ({', '.join(f'{w:.0f}' for w in ms)})")
                assert ms[-1] < 100, ms
                assert core.transport.source == "Ardour OSC"
                # 2. roll from bar 3; at bar 5 the tempo becomes 90 (set in the running Ardour while it rolls)
                ardour.locate(RATE * 4)
                time.sleep(0.3)
                go.write_text("")
                time.sleep(0.3)
                ardour.play()
                wait_for(lambda: core.transport.playing, 10)
                wait_for(lambda: beats() > 16 + 6, 30)  # past bar 5, six beats into the new tempo
                wait_for(lambda: core.transport.bpm is not None and abs(core.transport.bpm - 90.0) < 0.5, 10)
                ardour.stop()
                wait_for(lambda: not core.transport.playing, 10)
                time.sleep(0.5)
                frame = ardour.frame()
                ardour_beats = 16 + (frame / RATE - 8.0) * 90 / 60  # Ardour's map: 120 to bar 5 (8 s), then 90
                print(f"stopped at sample {frame}: Ardour {ardour_beats:.5f} quarters, SongBridge {beats():.5f}")
                assert abs(beats() - ardour_beats) <= TICK, (beats(), ardour_beats)
                # 3. and a locate while stopped into the new tempo is right at once (the map was anchored again)
                target = RATE * 12 + 111
                want = 16 + (target / RATE - 8.0) * 1.5
                sent = time.monotonic()
                ardour.locate(target)
                wait_for(lambda: abs(beats() - want) <= TICK, 5)
                took = time.monotonic() - sent
                print(f"locate into the new tempo: {took * 1000:.0f} ms")
                assert took < 0.1  # the tempo heard while rolling, refined over the roll: right before Ardour says
                # 4. SongBridge's play head (seconds on the song's own 120 bpm grid) is Ardour's bar and beat
                assert abs(bridge.position_s() - want * 0.5) < 1e-3
            finally:
                ardour.close()
                bridge.close()
                core.close()
    finally:
        stop_file.write_text("")
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_a_pull_while_ardour_has_the_session_open_takes_its_unsaved_tempo_and_markers(tmp_path: Path) -> None:
    """The running Ardour (``ardour7-lua`` holding the session) gets a tempo change and a range marker nobody saved;
    ``/songbridge/daw/pull`` asks it over OSC to save and takes both (one undo step, from DAW); a push is refused
    with what to do (ardour7-lua is no Ardour GUI with the landing action), the session file untouched."""
    from daw_bridge import protocol as p
    from daw_bridge.server import Bridge
    from engine.service import EngineService
    from engine.session import Session
    from engine.song import DawLink, Project, Song

    session = new_session(tmp_path, "Live")  # 120 bpm, 4/4
    enable_osc(session, "Live")
    solo = "    do local r = s:locations():add_range (Temporal.timepos_t (88200), Temporal.timepos_t (264600)); " \
           'r:set_name ("Solo") end\n'
    proc, stop_file, go = hold_with_tempo_change(session, RATE * 8, 90.0, solo)
    try:
        port = osc_port_of(proc)
        project = Project(tmp_path / "p.songbridge", Song())
        project.song = project.song.replace(daw=DawLink(adapter="ardour", session=str(session), port=port))
        save_song(project.song, project.folder)
        go.write_text("")
        time.sleep(1.0)  # the hold script picks it up within 20 ms; the change is in the running Ardour only
        assert "Solo" not in (session / "Live.ardour").read_text()
        with EngineService("thread") as engine:
            core = Session(project, engine)
            bridge = Bridge(core, lambda data, to: None).start()
            try:
                bridge.commands.put(p.Envelope(p.DawSync("pull"), "/songbridge/daw/pull", None, "gui"))
                wait_for(lambda: bridge.daw_syncs, 60)
                last = bridge.daw_syncs[-1]
                assert last["ok"], last
                song = core.song
                assert [(s.bar, s.bpm) for s in song.tempo.segments] == [(1, 120.0), (5, 90.0)]
                assert [(s.name, round(s.start_s, 3), round(s.end_s, 3)) for s in song.sections] == [
                    ("Solo", 2.0, 6.0)]
                assert core.history.undo_entry().label == "Tempo and sections from Ardour (from DAW)"
                before = (session / "Live.ardour").read_bytes()
                bridge.commands.put(p.Envelope(p.DawSync("push"), "/songbridge/daw/push", None, "gui"))
                wait_for(lambda: len(bridge.daw_syncs) == 2, 60)
                assert not bridge.daw_syncs[-1]["ok"]
                assert "SongBridge did not touch it" in bridge.daw_syncs[-1]["text"]
                assert bridge.refusals[-1]["address"] == "/songbridge/daw/push"
                assert (session / "Live.ardour").read_bytes() == before
            finally:
                bridge.close()
                core.close()
        # `songbridge daw pull` from the command line, the session still open in Ardour: the same live route
        from tests.conftest import run_cli

        fresh = Project.open(project.folder)
        fresh.song = fresh.song.replace(sections=(), tempo=Song().tempo)
        save_song(fresh.song, fresh.folder)
        r = run_cli("daw", "pull", str(project.folder))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "90 bpm 4/4 at bar 5" in r.stdout and "Solo (2.00-6.00 s)" in r.stdout, r.stdout
        r = run_cli("daw", "push", str(project.folder))
        assert r.returncode != 0 and "SongBridge did not touch it" in r.stderr, r.stdout + r.stderr
    finally:
        stop_file.write_text("")
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
