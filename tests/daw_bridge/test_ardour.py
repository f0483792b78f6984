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
    land_in_closed_session,
    session_regions,
)

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


def test_osc_transport_through_a_running_session(tmp_path: Path) -> None:
    session = new_session(tmp_path, "OscSession")
    enable_osc(session, "OscSession")
    assert "luasession" not in port_owner(3819), "a stale Ardour holds UDP 3819"
    stop_file = tmp_path / "stop"
    serve = tmp_path / "serve.lua"
    serve.write_text(f'local s = load_session("{session}", "OscSession"); assert(s)\n'
                     f'for i = 1, 1200 do if io.open("{stop_file}") then break end; ARDOUR.LuaAPI.usleep(50000) end\n'
                     'close_session()\n')
    proc = subprocess.Popen(["ardour7-lua", str(serve)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def test_stems_land_at_the_exact_sample_in_a_closed_session(tmp_path: Path) -> None:
    session = new_session(tmp_path, "Land")
    t = np.arange(88200) / 44100
    vocal = np.stack([0.5 * np.sin(2 * np.pi * 220 * t), 0.25 * np.sin(2 * np.pi * 220 * t)], 1).astype(np.float32)
    drums = (0.125 * np.sign(np.sin(2 * np.pi * 2 * t)))[:, None].repeat(2, 1).astype(np.float32)
    sf.write(str(tmp_path / "vocal.wav"), vocal, 44100, subtype="FLOAT")
    sf.write(str(tmp_path / "drums.wav"), drums, 44100, subtype="FLOAT")
    land_in_closed_session(session, "Land", {"SB vocal": tmp_path / "vocal.wav", "SB drums": tmp_path / "drums.wav"},
                           441000, "sb-chorus")
    regions = session_regions(session, "Land")
    assert sorted((r[0], r[2], r[3], r[4]) for r in regions) == [("SB drums", 441000, 88200, 2),
                                                                 ("SB vocal", 441000, 88200, 2)]
    assert dict((r[0], r[5]) for r in regions)["SB vocal"] == pytest.approx(0.5, abs=1e-3)
    # A newer take of the same section replaces the old region on its track.
    land_in_closed_session(session, "Land", {"SB vocal": tmp_path / "vocal.wav"}, 441000, "sb-chorus")
    assert len([r for r in session_regions(session, "Land") if r[0] == "SB vocal"]) == 1
    audio, sr = sf.read(str(export_session(session, "Land", tmp_path / "render.wav")))
    nz = np.flatnonzero(np.abs(audio).max(axis=1) > 1e-6)
    assert sr == 44100 and 441000 <= nz[0] <= 441000 + 64  # Ardour's default 64-sample fade-in
    assert nz[-1] < 441000 + 88200
    assert (session / "Land.ardour.sb-bak").exists()


def test_the_bridge_lands_a_section_into_ardour(tmp_path: Path) -> None:
    from daw_bridge import protocol as p
    from daw_bridge.server import Bridge
    from engine.backends.guide.backend import GuideBackend
    from engine.generation import SongChoices, plan_takes, prepare_song, run_take
    from engine.lyrics import parse
    from engine.service import EngineService
    from engine.session import Session
    from engine.song import DawLink, Project, Song

    session = new_session(tmp_path, "BridgeLand")
    project = Project(tmp_path / "song.songbridge", Song())
    project.song = prepare_song(project.song, parse("[chorus]\nsing it loud\n"),
                                SongChoices(style="rock", bpm=120, sections="intro:1,chorus:2"), first_time=True)
    project.song = project.song.replace(daw=DawLink(adapter="ardour", session=str(session), track_prefix="SB"))
    project.save()
    run_take(project, GuideBackend(), plan_takes(project, 1, 1)[0], lambda d, t: None, lambda: False)
    sent = []
    with EngineService("thread") as engine:
        bridge = Bridge(Session(project, engine), lambda data, to: sent.append(data)).start()
        bridge.commands.put(p.Envelope(p.Land(None, "Chorus"), "/songbridge/stems/land", ("127.0.0.1", 9)))
        deadline = time.monotonic() + 120
        while not any(b"/songbridge/stems/landed" in d for d in sent) and time.monotonic() < deadline:
            time.sleep(0.1)
        bridge.close()
    from pythonosc.osc_message import OscMessage

    landed = [OscMessage(d) for d in sent if b"/stems/landed" in d][0]
    assert landed.params[1:3] == ["ardour", 1], landed.params
    regions = session_regions(session, "BridgeLand")
    chorus_start = round(project.song.section("chorus").start_s * 44100)  # bar 2 at 120 bpm = 88200
    assert {r[0] for r in regions} == {"SB drums", "SB bass", "SB keys", "SB vocal"}
    assert {r[2] for r in regions} == {chorus_start} == {88200}
