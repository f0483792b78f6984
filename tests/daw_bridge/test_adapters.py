"""Every DAW adapter implements the one ``Adapter`` protocol, chosen by the registry from ``song.daw.adapter``; the
generic adapter lands stamped files, REAPER and Live our side of their wire (the ReaScript's request file and OSC
trigger; the Live remote script's own OSC codec answering on UDP)."""

from __future__ import annotations

import ast
import inspect
import socket
import struct
import threading
from pathlib import Path

import mido
import pytest
import soundfile as sf

from daw_bridge.adapters import reaper
from daw_bridge.adapters.base import Adapter, Capabilities, LandResult, MidiParts
from daw_bridge.adapters.registry import ADAPTERS, Link, UnknownAdapter, adapter_for, names
from daw_bridge.osc.decode import message as decode
from engine.errors import SongBridgeError
from engine.song import DawLink
from engine.song.document import save_song


def link(tmp: Path, adapter: str, **daw: object) -> Link:
    return Link(DawLink(adapter=adapter, **daw), "Test Song", 4, tmp / "landed")


def made(tmp: Path, name: str) -> Adapter:
    extra = {"ardour": {"session": str(tmp / "sess")}, "reaper": {"render_folder": str(tmp / "reaper")}}
    return adapter_for(link(tmp, name, **extra.get(name, {})))


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_every_registered_adapter_implements_the_protocol(tmp_path: Path, name: str) -> None:
    adapter = made(tmp_path, name)
    assert isinstance(adapter, Adapter)
    assert adapter.name == name and isinstance(adapter.capabilities, Capabilities)
    want = inspect.signature(Adapter.land)
    got = inspect.signature(type(adapter).land)
    assert [(p.name, p.kind, str(p.annotation)) for p in got.parameters.values()] == \
        [(p.name, p.kind, str(p.annotation)) for p in want.parameters.values()]
    assert str(got.return_annotation) == str(want.return_annotation) == "LandResult"


def test_the_registry_refuses_an_unknown_adapter_naming_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownAdapter) as err:
        adapter_for(link(tmp_path, "protools"))
    text = str(err.value)
    assert "daw.adapter" in text and "'protools'" in text
    assert all(n in text for n in names()) and set(names()) >= {"generic", "ardour", "reaper", "live"}
    assert not (tmp_path / "landed").exists()  # nothing made


def test_an_ardour_link_without_a_session_lands_stamped_files(tmp_path: Path) -> None:
    assert adapter_for(link(tmp_path, "ardour")).name == "generic"


def stems(tmp: Path, labels: tuple[str, ...] = ("mix", "vocal", "drums")) -> dict[str, Path]:
    out = {}
    for label in labels:
        path = tmp / "render" / f"x_{label}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, [[0.0, 0.0]] * 441, 44100)
        out[label] = path
    return out


def guide() -> mido.MidiFile:
    mid = mido.MidiFile()
    track = mido.MidiTrack([mido.MetaMessage("track_name", name="vocal"), mido.Message("note_on", note=60),
                            mido.Message("note_off", note=60, time=480)])
    mid.tracks.append(track)
    return mid


def test_the_generic_adapter_lands_stamped_files_and_the_midi(tmp_path: Path) -> None:
    adapter = made(tmp_path, "generic")
    kw = {"start_s": 8.0, "end_s": 12.0, "bar": 5.0, "bpm": 120.0, "section": "Chorus 1", "take": "take-001",
          "track": None}
    result = adapter.land(stems(tmp_path), MidiParts(guide()), **kw)
    assert isinstance(result, LandResult) and result.adapter == "generic"
    names_ = sorted(p.name for p in (tmp_path / "landed").iterdir())
    assert names_ == ["test-song_chorus-1_drums_bar5_120bpm.wav", "test-song_chorus-1_guide_bar5_120bpm.mid",
                      "test-song_chorus-1_mix_bar5_120bpm.wav", "test-song_chorus-1_vocal_bar5_120bpm.wav"]
    assert "guide's MIDI" in result.describe() and "\n" not in result.describe()
    # a take without MIDI: the section's old notes go; an unreadable MIDI keeps them and says why
    kept = adapter.land(stems(tmp_path), MidiParts(error="bad notes"), **kw)
    assert "no MIDI: bad notes" in kept.detail and (tmp_path / "landed" / names_[1]).exists()
    gone = adapter.land(stems(tmp_path), MidiParts(missing="no guide"), **kw)
    assert "old MIDI was removed (1)" in gone.detail and not (tmp_path / "landed" / names_[1]).exists()


class ReaperStandIn:
    """REAPER's side as our ReaScript behaves: on ``/action/str <id>`` over OSC, read the request file, answer in
    the response file (no REAPER runs here)."""

    def __init__(self, scripts: Path, answer: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.scripts, self.answer = scripts, answer
        self.got: list = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        try:
            data, _ = self.sock.recvfrom(65535)
        except OSError:
            return
        msg = decode(data)
        self.got.append((msg.address, msg.args, (self.scripts / "songbridge_request.txt").read_text()))
        (self.scripts / reaper.RESPONSE_FILE).write_text(self.answer + "\n")

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


def test_reaper_lands_through_the_request_file_and_the_osc_trigger(tmp_path: Path) -> None:
    resource = tmp_path / "reaper"
    with pytest.raises(SongBridgeError, match="--reaper-action"):
        reaper.save_action(resource, "_RS1; rm -rf /")
    assert not (resource / "Scripts" / reaper.ACTION_FILE).exists()
    files = stems(tmp_path)
    kw = {"start_s": 8.0, "end_s": 12.0, "bar": 5.0, "bpm": 120.0, "section": "Chorus 1", "take": "take-001",
          "track": None}
    with pytest.raises(SongBridgeError, match="no REAPER command ID"):  # not set up: says how, sends nothing
        made(tmp_path, "reaper").land(files, MidiParts(), **kw)
    reaper.save_action(resource, "_RS1234abcd")
    peer = ReaperStandIn(resource / "Scripts", "ok 2")
    try:
        adapter = adapter_for(link(tmp_path, "reaper", render_folder=str(resource), port=peer.port))
        result = adapter.land(files, MidiParts(guide()), **kw)
    finally:
        peer.close()
    ((address, args, request),) = peer.got
    assert (address, args) == ("/action/str", ("_RS1234abcd",))
    assert request.splitlines() == [f"{files['vocal'].resolve()}\tSB vocal\t8.000000\tsb-chorus-1:",
                                    f"{files['drums'].resolve()}\tSB drums\t8.000000\tsb-chorus-1:"]
    assert result.adapter == "reaper" and result.detail.startswith("2 items at 8.000 s (bar 5)")
    assert "MIDI is not landed" in result.detail
    refused = ReaperStandIn(resource / "Scripts", "error no request file")
    try:
        with pytest.raises(SongBridgeError, match="REAPER refused the landing: no request file"):
            adapter_for(link(tmp_path, "reaper", render_folder=str(resource), port=refused.port)).land(
                files, MidiParts(), **kw)
    finally:
        refused.close()


def live_codec() -> dict:
    """The Live remote script's own OSC codec (its _parse and _message), as it runs inside Live."""
    src = (reaper.SCRIPT.parent / "SongBridgeLive" / "__init__.py").read_text()
    tree = ast.parse(src)
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in ("_pad", "_parse", "_message")]
    ns: dict = {"struct": struct}
    exec(compile(ast.Module(body=funcs, type_ignores=[]), "live", "exec"), ns)
    return ns


def test_live_lands_each_stem_on_its_track_at_the_bars_beat(tmp_path: Path) -> None:
    ns = live_codec()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    got: list = []

    def serve() -> None:  # as the script's _poll: a clip per message, answered to the sender
        for _ in range(2):
            data, sender = sock.recvfrom(65535)
            address, args = ns["_parse"](data)
            got.append((address, args))
            sock.sendto(ns["_message"]("/songbridge_live/created", 1, args[0]), sender)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    files = stems(tmp_path)
    try:
        result = adapter_for(link(tmp_path, "live", port=sock.getsockname()[1])).land(
            files, MidiParts(), start_s=8.0, end_s=12.0, bar=5.0, bpm=120.0, section="Chorus 1", take="take-001",
            track=None)
    finally:
        thread.join(5)
        sock.close()
    assert got == [("/songbridge_live/create_audio_clip", [str(files["vocal"].resolve()), 0, 16.0, "sb-chorus-1:"]),
                   ("/songbridge_live/create_audio_clip", [str(files["drums"].resolve()), 1, 16.0, "sb-chorus-1:"])]
    assert result.detail.startswith("2 clips at beat 16 (bar 5)")


def test_live_not_answering_is_a_clear_error(tmp_path: Path) -> None:
    quiet = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    quiet.bind(("127.0.0.1", 0))  # bound, never answers
    try:
        from daw_bridge.adapters.live import LiveAdapter

        adapter = LiveAdapter(("127.0.0.1", quiet.getsockname()[1]), "SB", timeout_s=0.3)
        with pytest.raises(SongBridgeError, match="did not answer .* within 0.3 s"):
            adapter.land(stems(tmp_path), MidiParts(), start_s=0.0, end_s=1.0, bar=1.0, bpm=120.0, section="A",
                         take="t", track=None)
    finally:
        quiet.close()


def test_daw_link_reaper_keeps_the_action_and_refuses_a_bad_one(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from engine.generation import SongChoices, prepare_song
    from engine.lyrics import parse
    from engine.song import Project, Song
    from songbridge.cli import main

    project = Project(tmp_path / "try.songbridge", Song())
    project.song = prepare_song(project.song, parse("[verse]\nwalk the line\n"),
                                SongChoices(title="Try", style="pop", bpm=120), first_time=True)
    save_song(project.song, project.folder)
    resource = tmp_path / "REAPER"
    assert main(["daw", "link", str(project.folder), "reaper", str(resource), "--reaper-action", "_RS1;rm"]) != 0
    assert "not a REAPER command ID" in capsys.readouterr().err
    assert Project.open(project.folder).song.daw.adapter == "generic" and not resource.exists()  # nothing changed
    assert main(["daw", "link", str(project.folder), "reaper", str(resource), "--reaper-action", "_RS1234abcd"]) == 0
    out = capsys.readouterr().out
    assert "triggers _RS1234abcd over OSC at 127.0.0.1:8000" in out
    daw = Project.open(project.folder).song.daw
    assert (daw.adapter, daw.render_folder) == ("reaper", str(resource.resolve()))
    assert reaper.read_action(resource) == "_RS1234abcd"


def test_the_live_check_asks_the_remote_script(tmp_path: Path) -> None:
    from daw_bridge.adapters.check import check_link

    ns = live_codec()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)

    def serve() -> None:  # the script's answer to an address it does not know
        data, sender = sock.recvfrom(65535)
        address, _ = ns["_parse"](data)
        sock.sendto(ns["_message"]("/songbridge_live/created", 0, "unknown address " + address), sender)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    song = type("S", (), {"daw": DawLink(adapter="live", port=sock.getsockname()[1])})()
    try:
        ok, text = check_link(song, tmp_path)
    finally:
        thread.join(5)
        sock.close()
    assert ok and "answers" in text
    ok, text = check_link(song, tmp_path)  # nothing listens there now
    assert not ok and "does not answer" in text
