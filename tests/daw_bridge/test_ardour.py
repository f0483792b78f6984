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
from engine.song.document import save_song

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
    from daw_bridge.adapters import ardour_live as live

    session = new_session(tmp_path, "OscSession")
    enable_osc(session, "OscSession")
    proc, stop_file = hold(session)
    try:
        # its OSC surface takes UDP 3819, or the next free port when another Ardour on this machine has that one
        deadline = time.monotonic() + 30
        ports: list[int] = []
        while not ports:
            ports = [port for p in live.processes() if p.pid == proc.pid for port in p.osc_ports()
                     if 3819 <= port <= 3838]
            assert time.monotonic() < deadline and proc.poll() is None, "Ardour's OSC surface did not come up"
            time.sleep(0.2)
        ardour = ArdourOsc(port=ports[0])
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
    save_song(project.song, project.folder)
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
    the requested bar on a track of its own, 'SB loop <prompt>', exactly 4 bars long at the loop's tempo."""
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
    save_song(project.song, project.folder)
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
    assert {r[0] for r in regions} == {"SB loop dusty breakbeat"}
    assert {r[2] for r in regions} == {start}
    assert {r[3] for r in regions} == {4 * 4 * 60 * 44100 // 128}  # exactly 4 bars long


def stereo_stems(folder: Path, take: str, seconds: float, level: float, base_hz: float) -> dict[str, Path]:
    """Four stems whose left and right channels differ (two tones each), so a channel swapped or doubled shows."""
    t = np.arange(round(seconds * 44100)) / 44100
    out = {}
    for i, stem in enumerate(("vocal", "drums", "bass", "keys")):
        left = level * np.sin(2 * np.pi * base_hz * (i + 2) * t)
        right = level * np.sin(2 * np.pi * base_hz * (i + 2) * 1.5 * t)
        path = folder / f"{take}-{stem}.wav"
        sf.write(str(path), np.stack([left, right], 1).astype(np.float32), 44100, subtype="FLOAT")
        out[f"SB {stem}"] = path
    return out


def section_correlation(export: np.ndarray, want: np.ndarray, start: int, edge: int = 256,
                        reach: int = 2048) -> list[float]:
    """Per channel, how well Ardour's export holds ``want`` (frames, channels) landed at sample ``start``: the best
    correlation over lags within ``reach`` samples, away from the regions' ``edge`` fades. (ardour7-export now and
    then renders the whole session a few hundred samples late; where a region sits is checked from the session.)"""
    out = []
    n = len(want) - 2 * edge
    lo = max(0, start + edge - reach)
    for ch in range(want.shape[1]):
        ref = want[edge:edge + n, ch] - want[edge:edge + n, ch].mean()
        window = export[lo:start + edge + n + reach, ch]
        if len(window) < n:
            out.append(-1.0)
            continue
        corr = np.correlate(window, ref, mode="valid")
        sums = np.convolve(window, np.ones(n), mode="valid")
        energy = np.convolve(window * window, np.ones(n), mode="valid") - sums * sums / n
        score = corr / np.sqrt(np.maximum(energy, 1e-20) * float(ref @ ref))
        out.append(float(score.max()))
    return out


def ardour_layers(session: Path) -> list[tuple[str, str, int, str, str]]:
    """(track, region, layer, source of channel 0, source of channel 1) as Ardour itself loads the session, after
    Ardour has saved it once (its own writer, which is where a Source's name and channel used to be lost)."""
    from daw_bridge.adapters.ardour import _lua, _lua_str

    out = _lua(f"""
local s = load_session({_lua_str(str(session))}, {_lua_str(session.name)}); assert(s)
s:save_state("", false, false, false, false, false)
for t in s:get_tracks():iter() do
  for r in t:to_track():playlist():region_list():iter() do
    local ar = r:to_audioregion()
    print(string.format("LAYER\\t%s\\t%s\\t%d\\t%s\\t%s", t:name(), r:name(), r:layer(), ar:source(0):name(),
      ar:n_channels() > 1 and ar:source(1):name() or "-"))
  end
end
close_session()
""")
    rows = []
    for line in out.splitlines():
        if line.startswith("LAYER\t"):
            _, track, region, layer, s0, s1 = line.split("\t")
            rows.append((track, region, int(layer), s0, s1))
    return rows


@pytest.mark.slow
def test_a_closed_landing_over_an_older_region_plays_and_survives_ardours_own_save(tmp_path: Path) -> None:
    """A chorus landed over a whole-song region: after Ardour loads and saves the session, the chorus is layered on
    top, every Source is a file inside the session with no origin outside, its left and right Sources keep their
    own names, and Ardour's export plays the chorus's two channels in the chorus (correlation > 0.99)."""
    import xml.etree.ElementTree as ET

    session = new_session(tmp_path, "Keep")
    song = stereo_stems(tmp_path, "take-001", seconds=4.0, level=0.3, base_hz=55.0)
    land_in_closed_session(session, "Keep", song, 0, "sb-song-", "take-001", 4 * 44100)
    chorus = stereo_stems(tmp_path, "take-002", seconds=1.0, level=0.2, base_hz=97.0)
    land_in_closed_session(session, "Keep", chorus, 44100, "sb-chorus-", "take-002", 2 * 44100)

    layers = ardour_layers(session)  # Ardour loads and saves it
    for track in song:
        mine = {r[1].split("-take-")[0]: r for r in layers if r[0] == track}
        assert mine["sb-chorus"][2] > mine["sb-song"][2], layers  # the chorus on top of the whole song
        for row in mine.values():
            assert row[3].endswith("%L.wav") and row[4].endswith("%R.wav") and row[3] != row[4], row
    root = ET.parse(session / "Keep.ardour").getroot()
    audio_dir = session / "interchange" / "Keep" / "audiofiles"
    for src in root.iter("Source"):
        assert (audio_dir / src.get("name")).is_file(), src.attrib  # the session's own copy
        assert not src.get("origin"), src.attrib  # and nothing outside it
    assert len({(s.get("name"), s.get("channel")) for s in root.iter("Source")}) == 16
    span = next(loc for loc in root.iter("Location") if "IsSessionRange" in (loc.get("flags") or ""))
    assert span.get("end") == f"a{4 * 282_240_000}"  # the session range covers what landed

    audio, sr = sf.read(str(export_session(session, "Keep", tmp_path / "keep.wav")))
    assert sr == 44100
    want = sum(sf.read(str(p))[0] for p in chorus.values())
    assert min(section_correlation(audio, want, 44100)) > 0.99


@pytest.mark.slow
def test_stems_at_44k1_land_in_a_48k_session_converted_once_and_exported_at_48k(tmp_path: Path) -> None:
    """The song renders at 44.1 kHz, the session runs at 48 kHz: the stems are converted once (cached in the
    session), land at the 48 kHz sample of the song's time, and Ardour's export holds them."""
    from daw_bridge.adapters.ardour import create_session
    from daw_bridge.adapters.ardour_route import land_stems

    need_ardour()
    session = create_session(tmp_path / "At48", 120.0, 4, rate=48000)
    chorus = stereo_stems(tmp_path, "take-004", seconds=2.0, level=0.2, base_hz=97.0)
    first = land_stems(session, chorus, 10.0, 12.0, "sb-chorus-", "take-004", 120.0, 4, 6.0)
    assert first.route == "closed" and first.position == 480000  # 10 s at 48 kHz
    assert {(r[2], r[3]) for r in first.regions} == {(480000, 96000)}  # 2 s at 48 kHz
    cached = sorted((session / "songbridge" / "rates").iterdir())
    assert len(cached) == 4 and all(sf.info(str(p)).samplerate == 48000 for p in cached)
    stamps = [p.stat().st_mtime_ns for p in cached]
    again = land_stems(session, chorus, 10.0, 12.0, "sb-chorus-", "take-004", 120.0, 4, 6.0)
    assert {r[4] for r in again.regions} == {"reused"}
    assert [p.stat().st_mtime_ns for p in sorted((session / "songbridge" / "rates").iterdir())] == stamps

    audio, sr = sf.read(str(export_session(session, "At48", tmp_path / "at48.wav")))
    assert sr == 48000
    import soxr

    want = soxr.resample(sum(sf.read(str(p))[0] for p in chorus.values()), 44100, 48000, quality="VHQ")
    assert min(section_correlation(audio, want, 480000, edge=512)) > 0.99


@pytest.mark.audio_server
@pytest.mark.slow
def test_daw_link_create_makes_the_session_at_the_running_jack_servers_rate(tmp_path: Path) -> None:
    """A JACK dummy server of our own at 48 kHz (its own name, so nothing else on the machine matters): `daw link
    --create` makes the session at 48 kHz and says why; --rate overrides it."""
    import os
    import uuid

    from daw_bridge.adapters.ardour import session_facts
    from engine.song import Project, Song
    from tests.conftest import run_cli

    need_ardour()
    if shutil.which("jackd") is None:
        pytest.fail("needs jackd (apt-get install jackd2)")
    name = f"sbrate{uuid.uuid4().hex[:8]}"
    env = {"JACK_DEFAULT_SERVER": name, "JACK_NO_AUDIO_RESERVATION": "1"}
    jack = subprocess.Popen(["jackd", "-n", name, "-d", "dummy", "-r", "48000", "-p", "1024"],
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["jack_lsp"], env={**os.environ, **env}, capture_output=True).returncode != 0:
            assert time.monotonic() < deadline and jack.poll() is None, "jackd did not start"
            time.sleep(0.3)
        Project.create(tmp_path / "song", Song())
        r = run_cli("daw", "link", str(tmp_path / "song"), "ardour", str(tmp_path / "S48"), "--create", env=env)
        assert "48000 Hz (the running JACK server's rate" in r.stdout, r.stdout + r.stderr
        assert session_facts(tmp_path / "S48").rate == 48000
        r = run_cli("daw", "link", str(tmp_path / "song"), "ardour", str(tmp_path / "S96"), "--create", "--rate",
                    "96000", env=env)
        assert session_facts(tmp_path / "S96").rate == 96000, r.stdout + r.stderr
    finally:
        jack.terminate()
        jack.wait(10)


@pytest.mark.slow
def test_the_bridge_follows_ardours_transport_over_its_osc_feedback(tmp_path: Path) -> None:
    """Following an Ardour link: with Ardour stopped, a locate made in Ardour (here over its OSC, as a controller
    would) moves SongBridge's position to Ardour's bar and beat, to the tick, soon after; rolling sets playing and a
    tempo; the source shown is Ardour's OSC; and the follow setting is the project's (song.json)."""
    from daw_bridge import protocol as p
    from daw_bridge.adapters import ardour_live as live
    from daw_bridge.server import Bridge
    from engine.service import EngineService
    from engine.session import Session
    from engine.song import DawLink, Project, Song

    session = new_session(tmp_path, "Follow")
    enable_osc(session, "Follow")
    proc, stop_file = hold(session)
    try:
        deadline = time.monotonic() + 30
        ports: list[int] = []
        while not ports:
            ports = [port for q in live.processes() if q.pid == proc.pid for port in q.osc_ports()
                     if 3819 <= port <= 3838]
            assert time.monotonic() < deadline and proc.poll() is None, "Ardour's OSC surface did not come up"
            time.sleep(0.2)
        project = Project(tmp_path / "f.songbridge", Song())
        project.song = project.song.replace(daw=DawLink(adapter="ardour", session=str(session), port=ports[0]))
        save_song(project.song, project.folder)
        with EngineService("thread") as engine:
            core = Session(project, engine)
            bridge = Bridge(core, lambda data, to: None).start()
            try:
                bridge.commands.put(p.Envelope(p.FollowTransport(True), "/songbridge/transport/set/follow", None,
                                               "gui"))
                ardour = ArdourOsc(port=ports[0])
                waits = []
                for target in (96000, 44100 * 7 + 123, 22050):
                    want = target / 44100 * 2  # quarter notes at Ardour's 120 bpm
                    time.sleep(0.5)
                    sent = time.monotonic()
                    ardour.locate(target)
                    while abs((core.transport.beats or -1) - want) > 1 / 1920:
                        assert time.monotonic() - sent < 5, (core.transport, want)
                        time.sleep(0.005)
                    waits.append(time.monotonic() - sent)
                assert core.transport.source == "Ardour OSC" and not core.transport.playing
                print(f"\nlocate while stopped -> SongBridge's position: {', '.join(f'{w * 1000:.0f}' for w in waits)} ms")
                assert max(waits) < 0.1  # tests/daw_bridge/test_ardour_follow.py measures a dozen
                time.sleep(0.3)  # Ardour drops a play asked for while its locate is still pending
                ardour.play()
                deadline = time.monotonic() + 10
                while not (core.transport.playing and core.transport.bpm):
                    assert time.monotonic() < deadline, core.transport
                    time.sleep(0.05)
                assert abs(core.transport.bpm - 120.0) < 1.0, core.transport
                ardour.stop()
                ardour.close()
            finally:
                bridge.close()
                core.close()
        assert Project.open(project.folder).song.daw.follow_transport  # remembered for the next start
    finally:
        stop_file.write_text("")
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
def test_markers_pulled_become_sections_and_pushed_sections_become_markers(tmp_path: Path) -> None:
    """`daw pull`: Ardour's tempo and meter and its markers (two location markers and a range marker a producer
    made) become the song's tempo and sections; `daw push`: the song's sections become range markers Ardour loads,
    and its tempo the session's."""
    import xml.etree.ElementTree as ET

    from daw_bridge.adapters.ardour import create_session
    from daw_bridge.adapters.ardour_markers import read_timeline
    from engine.song import Project, Song, TempoMap
    from engine.song.sections import parse_sections
    from tests.conftest import run_cli

    need_ardour()
    session = create_session(tmp_path / "Marks", 100.0, 3)
    xml_path = session / "Marks.ardour"
    tree = ET.parse(xml_path)
    locs = tree.getroot().find("Locations")
    sc = 282_240_000
    for i, (name, a, b, flags) in enumerate((("Verse", 0, 0, "IsMark"), ("Chorus", 12 * sc, 12 * sc, "IsMark"),
                                             ("Bridge", 20 * sc, 26 * sc, "IsRangeMarker"))):
        ET.SubElement(locs, "Location", {"id": str(9000 + i), "name": name, "start": f"a{a}", "end": f"a{b}",
                                         "flags": flags, "locked": "0", "timestamp": "0", "cue": "0"})
    tree.write(xml_path, xml_declaration=True, encoding="UTF-8")
    song_dir = tmp_path / "song"
    Project.create(song_dir, Song())
    assert run_cli("daw", "link", str(song_dir), "ardour", str(session)).returncode in (0, 1)
    r = run_cli("daw", "pull", str(song_dir))
    assert r.returncode == 0, r.stdout + r.stderr
    song = Project.open(song_dir).song
    assert (song.tempo.bpm, str(song.tempo.meter)) == (100.0, "3/4")
    assert [(s.name, round(s.start_s, 3), round(s.end_s, 3)) for s in song.sections] == [
        ("Verse", 0.0, 12.0), ("Chorus", 12.0, 20.0), ("Bridge", 20.0, 26.0)]

    t = TempoMap.constant(96, "4/4")
    project = Project.open(song_dir)
    project.song = project.song.replace(tempo=t, sections=parse_sections("intro:2,verse:4,chorus:4", t))
    save_song(project.song, project.folder)
    r = run_cli("daw", "push", str(song_dir))
    assert r.returncode == 0, r.stdout + r.stderr
    timeline = read_timeline(session)  # as Ardour loads it
    pushed = [(m.name, m.start, m.end) for m in timeline.markers if m.name.startswith("sb:")]
    assert pushed == [("sb:Intro", 0, 220500), ("sb:Verse", 220500, 661500), ("sb:Chorus", 661500, 1102500)]
    assert timeline.tempos[0][:3] == (1, 96.0, 4)
    assert {m.name for m in timeline.markers} >= {"Verse", "Chorus", "Bridge"}  # the producer's markers stay
