"""Ardour 7 as a real peer: OSC transport through a headless session (ardour7-lua, Dummy backend), and stems
landed into a closed session, verified by Ardour reloading it and by ardour7-export rendering it."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from daw_bridge.adapters.ardour import (
    ArdourOsc,
    enable_osc,
    export_session,
    session_regions,
)
from daw_bridge.adapters.ardour_closed import land_in_closed_session

pytestmark = pytest.mark.integration


def need_ardour() -> None:
    if shutil.which("ardour7-lua") is None or shutil.which("ardour7-export") is None:
        pytest.fail("the Ardour tests need Ardour 7 (apt-get install ardour; .ci/run does)")


def new_session(folder: Path, name: str) -> Path:
    need_ardour()
    script = folder / "mk.lua"
    script.write_text(f'local s = create_session("{folder / name}", "{name}", 44100)\n'
                      's:save_state("", false, false, false, false, false); close_session()\n')
    subprocess.run(["ardour7-lua", str(script)], check=True, capture_output=True, timeout=120)
    return folder / name


def port_owner(port: int) -> str:
    out = subprocess.run(["ss", "-lunp"], capture_output=True, text=True).stdout
    return next((ln for ln in out.splitlines() if f":{port} " in ln), "")


def hold(session: Path, save: bool = False) -> tuple[subprocess.Popen, Path]:
    """``ardour7-lua`` holding ``session`` open until the returned stop file exists (saving it then, if asked)."""
    stop_file = session.parent / f"stop-{session.name}"
    script = session.parent / f"hold-{session.name}.lua"
    script.write_text(f'local s = load_session("{session}", "{session.name}"); assert(s)\n'
                      f'for i = 1, 1200 do if io.open("{stop_file}") then break end; ARDOUR.LuaAPI.usleep(50000) end\n'
                      + ('s:save_state("", false, false, false, false, false); ' if save else "") + "close_session()\n")
    return subprocess.Popen(["ardour7-lua", str(script)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL), stop_file


def test_osc_transport_through_a_running_session(tmp_path: Path) -> None:
    session = new_session(tmp_path, "OscSession")
    enable_osc(session, "OscSession")
    assert "luasession" not in port_owner(3819), "a stale Ardour holds UDP 3819"
    proc, stop_file = hold(session)
    try:
        deadline = time.monotonic() + 30
        while f"pid={proc.pid}" not in port_owner(3819) and "luasession" not in port_owner(3819):
            assert time.monotonic() < deadline and proc.poll() is None, "Ardour's OSC surface did not come up"
            time.sleep(0.2)
        ardour = ArdourOsc()
        time.sleep(0.3)
        ardour.locate(88200)
        time.sleep(0.3)
        assert ardour.frame() == 88200  # reads the position
        ardour.play()
        time.sleep(1.0)
        rolling = ardour.frame()
        assert ardour.speed() == 1.0 and rolling > 88200 + 20000  # rolls
        ardour.stop()
        time.sleep(0.3)
        assert ardour.speed() == 0.0
        assert abs(ardour.frame() - rolling) < 44100
        ardour.close()
    finally:
        stop_file.write_text("")
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def stems_for(folder: Path, take: str, seconds: float = 2.0, level: float = 0.5) -> dict[str, Path]:
    """Four stereo stems with different tones, named as renders name them."""
    t = np.arange(round(seconds * 44100)) / 44100
    out = {}
    for i, stem in enumerate(("vocal", "drums", "bass", "keys")):
        tone = level / (i + 1) * np.sin(2 * np.pi * 110 * (i + 2) * t)
        path = folder / f"{take}-{stem}.wav"
        sf.write(str(path), np.stack([tone, tone], 1).astype(np.float32), 44100, subtype="FLOAT")
        out[f"SB {stem}"] = path
    return out


def sources_in(session: Path) -> list[str]:
    import xml.etree.ElementTree as ET

    return [s.get("name") for s in ET.parse(session / f"{session.name}.ardour").getroot().iter("Source")]


def test_stems_land_at_the_exact_sample_in_a_closed_session(tmp_path: Path) -> None:
    session = new_session(tmp_path, "Land")
    take1 = stems_for(tmp_path, "take-001")
    landed = land_in_closed_session(session, "Land", take1, 441000, "sb-chorus-", "take-001", 441000 + 88200)
    assert {r.how for r in landed} == {"imported"}
    regions = session_regions(session, "Land")
    assert sorted((r[0], r[2], r[3], r[4]) for r in regions) == sorted(
        (track, 441000, 88200, 2) for track in take1)
    assert dict((r[0], r[5]) for r in regions)["SB vocal"] == pytest.approx(0.5, abs=1e-3)
    first_sources = sources_in(session)
    assert len(first_sources) == 8  # four stereo files, one Source per channel

    # The same take again: its Sources are reused, not added again; one region per track.
    again = land_in_closed_session(session, "Land", take1, 441000, "sb-chorus-", "take-001", 441000 + 88200)
    assert {r.how for r in again} == {"reused"}
    assert sources_in(session) == first_sources
    assert len(session_regions(session, "Land")) == 4

    # A newer take of the section replaces the old regions; the old take's files stay in the session.
    audio_dir = session / "interchange" / "Land" / "audiofiles"
    old_files = {p.name: p.read_bytes() for p in audio_dir.iterdir()}
    take2 = stems_for(tmp_path, "take-002", seconds=1.5, level=0.25)
    land_in_closed_session(session, "Land", take2, 441000, "sb-chorus-", "take-002", 441000 + 88200)
    regions = session_regions(session, "Land")
    assert sorted((r[0], r[2], r[3]) for r in regions) == sorted((track, 441000, 66150) for track in take2)
    assert {p.name: p.read_bytes() for p in audio_dir.iterdir() if p.name in old_files} == old_files
    assert len(sources_in(session)) == 16

    # Ardour renders what landed: silence before the chorus, the newer take (not the older) inside it.
    audio, sr = sf.read(str(export_session(session, "Land", tmp_path / "render.wav")))
    nz = np.flatnonzero(np.abs(audio).max(axis=1) > 1e-6)
    assert sr == 44100 and 441000 <= nz[0] <= 441000 + 64  # Ardour's default 64-sample fade-in
    assert nz[-1] < 441000 + 66150
    assert (session / "Land.ardour.sb-bak").exists()


def test_a_session_that_ardour7_lua_holds_is_refused_and_left_byte_identical(tmp_path: Path) -> None:
    from daw_bridge.adapters.ardour import ArdourError
    from daw_bridge.adapters.ardour_route import land_stems

    session = new_session(tmp_path, "Held")
    before = (session / "Held.ardour").read_bytes()
    proc, stop_file = hold(session, save=True)
    try:
        time.sleep(2.0)
        with pytest.raises(ArdourError) as err:
            land_stems(session, stems_for(tmp_path, "take-001"), 10.0, 12.0, "sb-chorus-", "take-001", 120.0, 4,
                       6.0)
        assert f"ardour7-lua (pid {proc.pid}) has {session} open" in str(err.value)
        assert "did not touch it" in str(err.value)
        assert (session / "Held.ardour").read_bytes() == before
        assert not (session / "interchange" / "Held" / "audiofiles").exists() or not any(
            (session / "interchange" / "Held" / "audiofiles").iterdir())
    finally:
        stop_file.write_text("")
        proc.wait(60)


def test_two_programs_landing_at_once_take_turns_and_leave_a_sound_session(tmp_path: Path) -> None:
    import threading

    from daw_bridge.adapters.ardour_route import land_stems

    session = new_session(tmp_path, "Both")
    takes = [stems_for(tmp_path, f"take-00{i}", level=0.1 * (i + 1)) for i in range(2)]
    results: list[object] = []

    def land(i: int) -> None:
        try:
            results.append(land_stems(session, takes[i], 10.0, 12.0, "sb-chorus-", f"take-00{i}", 120.0, 4, 6.0))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=land, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(getattr(r, "route", None) == "closed" for r in results), results
    regions = session_regions(session, "Both")
    assert len(regions) == 4 and {r[2] for r in regions} == {441000}  # one take's regions, not both, not none
    assert len(sources_in(session)) == 16  # both takes' audio kept


def test_a_session_at_another_tempo_lands_at_the_songs_sample_and_says_so(tmp_path: Path) -> None:
    from daw_bridge.adapters.ardour import create_session, session_facts
    from daw_bridge.adapters.ardour_route import land_stems

    need_ardour()
    session = create_session(tmp_path / "Grid", 120.0, 4)
    assert session_facts(session).bpm == 120.0
    # the song: 96 bpm, the chorus at bar 13 = 48 beats = 30 s
    landing = land_stems(session, stems_for(tmp_path, "take-003"), 30.0, 32.0, "sb-chorus-", "take-003", 96.0, 4,
                         13.0)
    assert landing.route == "closed" and landing.position == 30 * 44100
    assert {r[2] for r in session_regions(session, "Grid")} == {30 * 44100}
    assert "120 bpm" in landing.tempo_note and "96 bpm" in landing.tempo_note
    assert "bar 16.00" in landing.tempo_note  # 30 s at 120 bpm 4/4 is Ardour's bar 16
    matched = create_session(tmp_path / "Matched", 96.0, 4)
    facts = session_facts(matched)
    assert (facts.bpm, facts.beats_per_bar) == (96.0, 4)
    landing = land_stems(matched, stems_for(tmp_path, "take-003"), 30.0, 32.0, "sb-chorus-", "take-003", 96.0, 4,
                         13.0)
    assert landing.tempo_note == ""


@pytest.mark.parametrize("engine_kind", ["local", "remote"])
def test_the_bridge_lands_a_section_into_ardour(tmp_path: Path, engine_kind: str) -> None:
    """The whole path: a take generated by the engine (on this machine, or a remote engine on loopback), the
    section rendered where the take's files are, its four stems landed into the Ardour session."""
    from contextlib import ExitStack

    from daw_bridge import protocol as p
    from daw_bridge.server import Bridge
    from engine.generation import SongChoices, prepare_song
    from engine.lyrics import parse
    from engine.service import EngineService
    from engine.session import Session
    from engine.session.events import JobEnded
    from engine.song import DawLink, Project, Song

    session = new_session(tmp_path, "BridgeLand")
    project = Project(tmp_path / "song.songbridge", Song())
    project.song = prepare_song(project.song, parse("[chorus]\nsing it loud\n"),
                                SongChoices(style="rock", bpm=120, sections="intro:1,chorus:2"), first_time=True)
    project.song = project.song.replace(daw=DawLink(adapter="ardour", session=str(session), track_prefix="SB"))
    project.save()
    sent: list[bytes] = []
    with ExitStack() as stack:
        if engine_kind == "remote":
            import socket
            import threading

            from engine.service.api.client import HttpEngine
            from engine.service.api.server import serve

            key = b"landing-test-key-0123456789"
            service = stack.enter_context(EngineService("thread"))
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            server = serve(service, key, "127.0.0.1", port, tmp_path / "server")
            t = threading.Thread(target=server.run, daemon=True)
            t.start()
            stack.callback(t.join, 5)
            stack.callback(setattr, server, "should_exit", True)
            while not server.started:
                time.sleep(0.02)
            engine = stack.enter_context(HttpEngine(f"http://127.0.0.1:{port}", key))
        else:
            engine = stack.enter_context(EngineService("thread"))
        core = Session(project, engine)
        stack.callback(core.close)
        ended: list[JobEnded] = []
        core.subscribe(lambda ev: ended.append(ev) if isinstance(ev, JobEnded) else None)
        core.generate("guide", 1, 7)
        deadline = time.monotonic() + 120
        while not ended and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ended and ended[0].state == "finished", ended
        bridge = Bridge(core, lambda data, to: sent.append(data)).start()
        stack.callback(bridge.close)
        bridge.commands.put(p.Envelope(p.Land(None, "Chorus"), "/songbridge/stems/land", ("127.0.0.1", 9)))
        deadline = time.monotonic() + 120
        while not any(b"/songbridge/stems/landed" in d for d in sent) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert bridge.landings and bridge.landings[-1]["ok"], list(bridge.landings)
    from pythonosc.osc_message import OscMessage

    landed = [OscMessage(d) for d in sent if b"/stems/landed" in d][0]
    assert landed.params[1:3] == ["ardour", 1], landed.params
    assert "closed session" in landed.params[3]
    regions = session_regions(session, "BridgeLand")
    chorus_start = round(project.song.section("chorus").start_s * 44100)  # bar 2 at 120 bpm = 88200
    assert {r[0] for r in regions} == {"SB drums", "SB bass", "SB keys", "SB vocal"}
    assert {r[2] for r in regions} == {chorus_start} == {88200}


def test_a_loop_from_the_daw_lands_in_ardour_on_a_track_named_after_its_prompt(tmp_path: Path, monkeypatch) -> None:
    """/songbridge/loop/generate with the tiny Stable Audio model: the loop lands in the closed Ardour session at
    the requested bar on 'SB <prompt>', exactly 4 bars long at the loop's tempo."""
    from daw_bridge import protocol as p
    from daw_bridge.server import Bridge
    from engine.backends.stable_audio.tiny import create_tiny_stable_audio
    from engine.service import EngineService
    from engine.session import Session
    from engine.song import DawLink, Project, Song, TempoMap

    create_tiny_stable_audio(tmp_path / "models")
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(tmp_path / "models"))
    session = new_session(tmp_path, "LoopLand")
    project = Project(tmp_path / "loops.songbridge", Song(tempo=TempoMap.constant(128)))
    project.song = project.song.replace(daw=DawLink(adapter="ardour", session=str(session), track_prefix="SB"))
    project.save()
    sent: list[bytes] = []
    with EngineService("thread") as engine:
        core = Session(project, engine)
        bridge = Bridge(core, lambda data, to: sent.append(data)).start()
        try:
            bridge.commands.put(p.Envelope(p.MakeLoop("dusty breakbeat", 4.0, None, 5.0), "/songbridge/loop/generate",
                                           ("127.0.0.1", 9)))
            deadline = time.monotonic() + 180
            while not any(b"/songbridge/stems/landed" in d for d in sent) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert bridge.landings and bridge.landings[-1]["ok"], bridge.landings[-1]["detail"]
        finally:
            bridge.close()
            core.close()
    regions = session_regions(session, "LoopLand")
    start = round(project.song.tempo.bars_to_seconds(5) * 44100)  # bar 5 at 128 bpm
    assert {r[0] for r in regions} == {"SB dusty breakbeat"}
    assert {r[2] for r in regions} == {start}
    assert {r[3] for r in regions} == {4 * 4 * 60 * 44100 // 128}  # exactly 4 bars long
