"""The OSC bridge against real peers: liblo's oscsend/oscdump, a python-osc client, and a hostile fuzzer."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from daw_bridge.osc.server import OscServer
from daw_bridge.server import Bridge
from engine.generation import SongChoices, plan_takes, prepare_song, run_take
from engine.lyrics import parse
from engine.service import EngineService
from engine.session import Session
from engine.song import Project, Song
from engine.song.document import save_song
from tests.daw_bridge.peers import hello, liblo_hello

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def bridge(tmp_path: Path):
    from engine.backends.guide.backend import GuideBackend

    project = Project(tmp_path / "song.songbridge", Song())
    project.song = prepare_song(project.song, parse("[verse]\nwalk the line\nhold it tight\n[chorus]\nsing it out\n"),
                                SongChoices(title="Bridge Song", style="pop", bpm=120,
                                            sections="intro:1,verse:2,chorus:2,outro:1"), first_time=True)
    save_song(project.song, project.folder)
    run_take(project, GuideBackend(), plan_takes(project, 1, 1)[0], lambda d, t: None, lambda: False)
    engine = EngineService("thread").start()
    osc = OscServer(None, "127.0.0.1", free_port())  # type: ignore[arg-type]
    session = Session(project, engine)
    b = Bridge(session, osc.send, version="test")
    osc.commands = b
    osc.start()
    b.start()
    yield b, osc
    osc.close()
    b.close()
    engine.close()


class Client:
    """A python-osc peer on its own socket; ``proven``: it does the handshake first (docs/osc.md)."""

    def __init__(self, server: tuple[str, int], proven: bool = True):
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        if proven:
            hello(self.sock, server)

    def send(self, address: str, *args) -> None:
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)
        self.sock.sendto(b.build().dgram, self.server)

    def raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def recv(self, timeout: float = 5.0, want: str | None = None) -> list[tuple[str, list]]:
        out, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                if out and want is None:
                    break
                continue
            m = OscMessage(data)
            out.append((m.address, list(m.params)))
            if want is not None and m.address == want:
                break
        return out


def test_liblo_oscsend_and_oscdump(bridge, oscdump) -> None:
    if shutil.which("oscsend") is None:
        pytest.fail("the OSC tests need liblo-tools (apt-get install liblo-tools; .ci/run does)")
    b, osc = bridge
    osc.reply_port = oscdump.port
    port = str(osc.address[1])
    liblo_hello(oscdump, osc.address[1])
    for args in (["/songbridge/ping"], ["/songbridge/song/get/tempo"], ["/songbridge/song/set/tempo", "f", "96.5"],
                 ["/songbridge/job/generate_bars", "ff", "3", "5"], ["/songbridge/nope"],
                 ["/songbridge/song/set/tempo", "s", "fast"],
                 ["/songbridge/transport/get/position"]):
        subprocess.run(["oscsend", "localhost", port, *args], check=True, timeout=10)
    lines = oscdump.lines_until("/songbridge/job/done", timeout=60)
    text = "".join(lines)
    assert '/songbridge/pong s "test"' in text
    assert "/songbridge/song/get/tempo f 120.000000" in text and "/songbridge/song/get/tempo f 96.500000" in text
    assert '/songbridge/error sss "/songbridge/nope" "unknown_address"' in text
    assert '"bad_arguments" "tempo must be a finite number' in text
    assert '/songbridge/transport/get/position hffs 0 0.000000 0.000000 "1|1|000"' in text
    assert "/songbridge/job/queued" in text and "/songbridge/job/progress" in text and "/songbridge/job/done" in text


def test_get_set_listen_generate_and_land(bridge) -> None:
    b, osc = bridge
    c = Client(osc.address)
    listener = Client(osc.address)
    listener.send("/songbridge/song/start_listen/key")
    assert listener.recv(want="/songbridge/song/get/key")[-1] == ("/songbridge/song/get/key", ["C major"])
    c.send("/songbridge/song/set/key", "F# minor")
    assert ("/songbridge/song/get/key", ["F# minor"]) in c.recv(want="/songbridge/song/get/key")
    assert ("/songbridge/song/get/key", ["F# minor"]) in listener.recv(want="/songbridge/song/get/key")
    c.send("/songbridge/song/get/sections")
    sections = json.loads(c.recv(want="/songbridge/song/get/sections")[-1][1][0])
    assert [s["name"] for s in sections] == ["Intro", "Verse", "Chorus", "Outro"] and sections[2]["start_bar"] == 4
    c.send("/songbridge/job/generate", json.dumps({"section": "Chorus", "seed": 9}))
    events = c.recv(timeout=120, want="/songbridge/job/done")
    assert events[0][0] == "/songbridge/job/queued" and events[-1][0] == "/songbridge/job/done"
    take = events[-1][1][1]
    assert take == "take-002" and b.project.song.take(take).parent == "take-001"
    c.send("/songbridge/take/accept", take, "Chorus")
    c.send("/songbridge/stems/land", "", "Chorus")
    landed = c.recv(timeout=120, want="/songbridge/stems/landed")[-1]
    assert landed[0] == "/songbridge/stems/landed" and landed[1][:3] == [take, "generic", 1]
    files = sorted(p.name for p in (b.project.folder / "renders" / "daw").glob("*.wav"))
    assert "bridge-song_chorus_vocal_bar4_120bpm.wav" in files and len(files) == 5
    from engine.audio.bwf import read_bext

    ref = read_bext(b.project.folder / "renders" / "daw" / "bridge-song_chorus_mix_bar4_120bpm.wav").time_reference
    assert ref == round(b.project.song.section("chorus").start_s * 44100)


def test_paths_outside_the_project_are_refused(bridge) -> None:
    b, osc = bridge
    c = Client(osc.address)
    c.send("/songbridge/stems/land_to", "../../etc")
    err = c.recv(want="/songbridge/error")[-1]
    assert err[1][0] == "/songbridge/stems/land_to" and err[1][1] == "refused_path"


def test_bundles_are_processed_in_order_and_timetags_ignored(bridge) -> None:
    b, osc = bridge
    c = Client(osc.address)
    bundle = OscBundleBuilder(time.time() + 3600)  # an hour in the future: must not stall the server
    for bpm in (100.0, 110.0, 90.0):
        m = OscMessageBuilder("/songbridge/song/set/tempo")
        m.add_arg(bpm)
        bundle.add_content(m.build())
    c.raw(bundle.build().dgram)
    replies = [r for r in c.recv(timeout=3) if r[0] == "/songbridge/song/get/tempo"]
    # Sets of one property from one client coalesce: the last one wins and is the one answered.
    assert [r[1][0] for r in replies] == [90.0]
    assert b.project.song.tempo.bpm == 90.0


def test_tempo_change_keeps_sections_on_their_bars(bridge) -> None:
    b, osc = bridge
    c = Client(osc.address)
    c.send("/songbridge/song/set/tempo", 60.0)
    c.recv(want="/songbridge/song/get/tempo")
    chorus = b.project.song.section("chorus")
    assert b.project.song.tempo.seconds_to_bars(chorus.start_s) == pytest.approx(4.0)
    assert chorus.start_s == pytest.approx(12.0)


def test_fuzz_ten_thousand_hostile_packets(bridge) -> None:
    b, osc = bridge
    c = Client(osc.address)
    rng = random.Random(1234)
    addresses = ["/songbridge/song/set/tempo", "/songbridge/job/generate", "/songbridge/stems/land_to",
                 "/songbridge/job/cancel", "/songbridge/song/set/lyrics", "/songbridge/audition/loop",
                 "/nope", "/songbridge/" + "x" * 300, "/songbridge/song/get/tempo"]
    values = [0, -1, 2**31 - 1, 1.5, float("nan"), "", "x" * 20_000, "../../etc/passwd", "/etc", True, False,
              b"\x00\xff", '{"section": 5}', '{"bars": [9, 3]}', "[00:xx]bad", "not json {"]
    sent = 0
    for i in range(10_000):
        kind = i % 4
        if kind == 0:
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
        else:
            m = OscMessageBuilder(rng.choice(addresses))
            for _ in range(rng.randint(0, 3)):
                v = rng.choice(values)
                try:
                    m.add_arg(v)
                except Exception:  # noqa: BLE001 - the builder refuses some values: skip them
                    pass
            try:
                data = m.build().dgram
            except Exception:  # noqa: BLE001
                continue
        c.raw(data)
        sent += 1
        if i % 200 == 0:
            c.recv(timeout=0.01)  # keep our receive buffer drained
    deadline, last = time.monotonic() + 120, -1
    while (b.commands.waiting() or osc.received != last) and time.monotonic() < deadline:
        last = osc.received  # a ping jumps the queue, so wait until the OSC thread has parsed everything
        time.sleep(0.5)
    pinger = Client(osc.address)
    pinger.send("/songbridge/ping")
    assert ("/songbridge/pong", ["test"]) in pinger.recv(timeout=30, want="/songbridge/pong")
    assert sent >= 9_500 and osc.received >= sent * 0.95
    assert b.handled + b.quick >= sent * 0.9  # every packet became a command or an error and was answered
    assert os.path.exists(b.project.folder / "song.json")
    from engine.song import load_song

    load_song(b.project.folder)  # the project still loads


def test_other_interfaces_need_an_allowlist() -> None:
    with pytest.raises(ValueError, match="allowlist"):
        OscServer(None, "0.0.0.0", 0)  # type: ignore[arg-type]


def test_every_route_is_documented() -> None:
    from daw_bridge.osc.addresses import ROUTES, SONG_PROPS
    from tests.conftest import REPO

    doc = (REPO / "docs" / "osc.md").read_text()
    missing = [a for a in ROUTES if f"/songbridge{a}" not in doc]
    missing += [p for p in SONG_PROPS if f"`{p}`" not in doc]
    assert missing == []


HOSTILE_EDITS = [
    '{"ranges": [["a", "b"]]}', '{"ranges": [[null, 1]]}', '{"ranges": ' + "[" * 5000 + "]" * 5000 + "}",
    '{"ranges": [[1, 2]], "seed": ' + "9" * 5000 + "}", '{"ranges": [[-3, 2]]}', '{"ranges": [[NaN, 2]]}',
    '{"ranges": [[1, 2]], "seed": "abc", "lyrics": {"l001": "changed words"}}', '{"ranges": [[900, 950]]}',
    '{"ranges": [[1, 2]], "lyrics": {"l999": "x"}}', '{"ranges": [[1e308, 1e309]]}', "[]", "x" * 20_000,
]


def test_no_message_silences_the_bridge_and_a_refused_edit_changes_nothing(bridge) -> None:
    b, osc = bridge
    c = Client(osc.address)
    before = (b.project.folder / "song.json").read_bytes()
    for text in HOSTILE_EDITS:
        c.send("/songbridge/job/edit", "take-001", text)
        got = c.recv(timeout=10, want="/songbridge/error")
        errors = [args for addr, args in got if addr == "/songbridge/error"]
        assert errors and errors[0][0] == "/songbridge/job/edit" and errors[0][1] != "internal", (text[:40], got)
        c.send("/songbridge/ping")
        assert ("/songbridge/pong", ["test"]) in c.recv(timeout=10, want="/songbridge/pong"), text[:40]
    for args in ((-4.0, 2.0), (500.0, 510.0), (float("nan"), 3.0)):
        c.send("/songbridge/job/generate_bars", *args)
        errors = [a for addr, a in c.recv(timeout=10, want="/songbridge/error") if addr == "/songbridge/error"]
        assert errors and errors[0][1] in ("bad_arguments", "bad_value"), args
    c.raw(b"#bundle\x00" + b"\x00" * 8 + b"\x00\x00\x00\x10" + b"garbage!garbage!")
    assert any(a == "/songbridge/error" for a, _ in c.recv(timeout=10, want="/songbridge/error"))
    c.send("/songbridge/song/set/lyrics", "la la la\n" * 6000)
    errors = [a for addr, a in c.recv(timeout=10, want="/songbridge/error") if addr == "/songbridge/error"]
    assert errors and "at most" in errors[0][2]
    c.send("/songbridge/song/get/lyrics")
    assert any(a == "/songbridge/song/get/lyrics" for a, _ in c.recv(timeout=10, want="/songbridge/song/get/lyrics"))
    assert (b.project.folder / "song.json").read_bytes() == before


def test_a_saved_style_is_set_and_used_over_osc(bridge, tmp_path: Path, monkeypatch) -> None:
    """style_preset as a song property and in /job/generate; the DiffRhythm take (tiny model) records it."""

    from tests.conftest import tiny_neural_setup

    tiny_neural_setup(tmp_path / "models", monkeypatch, "Warm tape", seed=4)
    b, osc = bridge
    c = Client(osc.address)
    c.send("/songbridge/song/set/style_preset", "warm TAPE")  # names match without regard to case
    assert ("/songbridge/song/get/style_preset", ["Warm tape"]) in c.recv(want="/songbridge/song/get/style_preset")
    c.send("/songbridge/song/set/style_preset", "no such style")
    err = c.recv(want="/songbridge/error")[-1]
    assert err[0] == "/songbridge/error" and "no style preset 'no such style'" in " ".join(map(str, err[1]))
    assert b.project.song.style.preset == "Warm tape"  # the refused set changed nothing
    c.send("/songbridge/job/generate", json.dumps({"backend": "diffrhythm", "style_preset": "Warm tape", "seed": 3}))
    done = c.recv(timeout=120, want="/songbridge/job/done")[-1]
    assert done[0] == "/songbridge/job/done", done
    record = json.loads((b.project.folder / "takes" / done[1][1] / "record.json").read_text())
    assert record["diffrhythm"]["style"]["source"] == "preset" and record["diffrhythm"]["style"]["preset"] == "Warm tape"
    c.send("/songbridge/song/set/style_preset", "")
    assert ("/songbridge/song/get/style_preset", [""]) in c.recv(want="/songbridge/song/get/style_preset")


def test_split_and_lock_a_take_over_osc(bridge, tmp_path: Path, monkeypatch) -> None:
    from engine.stems.tiny import create_tiny_separator

    models = tmp_path / "models"
    create_tiny_separator(models)
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(models))
    b, osc = bridge
    c = Client(osc.address)
    take = b.project.song.takes[-1].id
    c.send("/songbridge/take/split", "", 0)
    events = c.recv(timeout=120, want="/songbridge/job/done")
    assert events[0][0] == "/songbridge/job/queued" and events[-1][1][1] == take
    assert b.project.song.take(take).stems == ("drums", "bass", "other", "vocal")
    c.send("/songbridge/take/grid", take, 1, 0.0)
    events = c.recv(timeout=120, want="/songbridge/job/done")
    assert events[-1][0] == "/songbridge/job/done"
    deadline = time.monotonic() + 10
    while take not in b.project.song.locked and time.monotonic() < deadline:
        time.sleep(0.05)
    assert take in b.project.song.locked and (b.project.folder / "takes" / take / "locked" / "mix.wav").is_file()
    c.send("/songbridge/take/grid", "take-999")
    assert c.recv(want="/songbridge/error")[-1][1][0] == "/songbridge/take/grid"
    c.send("/songbridge/take/grid", take, 1, 5000.0)
    err = c.recv(want="/songbridge/error")[-1][1]
    assert "bpm must be 20..400" in err[2]


def test_a_loop_from_the_daw_is_made_and_landed_at_its_bar(bridge, tmp_path: Path, monkeypatch) -> None:
    """python-osc asks for 4 bars at 128 bpm at bar 3: a take exactly 4 bars long, landed at bar 3 (the song's
    grid) on a track named after the prompt. A bar past the song's end is refused, as in the app and the command
    line (the session's rule)."""
    import soundfile as sf

    from engine.audio.bwf import read_bext
    from engine.backends.stable_audio.tiny import create_tiny_stable_audio

    models = tmp_path / "sa"
    create_tiny_stable_audio(models)
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(models))
    b, osc = bridge
    c = Client(osc.address)
    end_bar = b.project.song.tempo.seconds_to_bars(b.project.song.duration_s)
    c.send("/songbridge/loop/generate", "tech house drum loop", 4.0, 128.0, float(int(end_bar) + 1))
    err = c.recv(want="/songbridge/error")[-1][1]
    assert err[0] == "/songbridge/loop/generate" and "past the end of the song" in err[2], err
    assert not b.project.song.loops
    c.send("/songbridge/loop/generate", "tech house drum loop", 4.0, 128.0, 3.0)
    events = c.recv(timeout=180, want="/songbridge/stems/landed")
    names = [e[0] for e in events]
    assert names[0] == "/songbridge/job/queued" and "/songbridge/job/done" in names
    landed = events[-1][1]
    assert landed[2] == 1, landed  # ok
    clip = b.project.song.loops[-1]  # a loop clip at its bar, not a take of the song
    take = clip.take
    assert take.backend == "stable-audio-small" and take.params["at_bar"] == 3.0 and clip.bar == 3.0
    mix = b.project.folder / "takes" / take.id / "mix.wav"
    assert sf.info(mix).frames == 4 * 4 * 60 * 44100 // 128
    files = sorted((b.project.folder / "renders" / "daw").glob("*.wav"))
    loop_file = next(f for f in files if "tech-house-drum-loop" in f.name and "_loop_bar3_128bpm" in f.name)
    start = b.project.song.tempo.bars_to_seconds(3)
    assert read_bext(loop_file).time_reference == round(start * 44100)  # placed at bar 3
    c.send("/songbridge/loop/generate", "x", 400.0)
    err = c.recv(want="/songbridge/error")[-1][1]
    assert err[0] == "/songbridge/loop/generate" and "bars must be 0.25..64" in err[2]
    c.send("/songbridge/loop/generate", "drums", 16.0, 128.0)
    err = c.recv(want="/songbridge/error")[-1][1]
    assert "makes at most" in err[2]
