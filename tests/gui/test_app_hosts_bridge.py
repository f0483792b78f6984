"""The app hosts the DAW bridge on its session: edits from a real OSC peer show on the timeline and are undoable in
the app, jobs from the DAW appear in the jobs strip and the takes list, and the project has one owner."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from engine.service import EngineService
from engine.session import Session
from engine.song import load_song
from tests.daw_bridge.peers import hello, liblo_hello
from tests.engine.session.test_session import make_project

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Peer:
    """A python-osc client with its own socket (replies come back to it)."""

    def __init__(self, server: tuple[str, int]):
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        hello(self.sock, server)  # prove the address (docs/osc.md)
        self.sock.setblocking(False)
        self.got: list[tuple[str, list]] = []

    def send(self, address: str, *args) -> None:
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)
        self.sock.sendto(b.build().dgram, self.server)

    def poll(self) -> list[tuple[str, list]]:
        while True:
            try:
                data, _ = self.sock.recvfrom(65535)
            except BlockingIOError:
                return self.got
            m = OscMessage(data)
            self.got.append((m.address, list(m.params)))


@pytest.fixture
def app(qtbot, tmp_path: Path):
    from gui.engine_client import EngineClient
    from gui.main_window import MainWindow
    from songbridge.commands.serve import start_bridge, stop_bridge

    project = make_project(tmp_path)
    service = EngineService("thread").start()
    session = Session.open(project.folder, service, "songbridge gui")
    args = argparse.Namespace(osc=f"127.0.0.1:{free_port()}", allow=None, reply_port=None, midi="off",
                              auto_land=False, land_folder=None, midi_map=None)
    bridge = start_bridge(session, args)
    engine = EngineClient(session)
    win = MainWindow(session, engine, None, bridge)
    qtbot.addWidget(win)
    win.show()
    yield win, bridge, session
    win.close()
    stop_bridge(bridge)
    engine.close()
    session.close()
    service.close()


def test_a_tempo_set_from_osc_shows_at_once_and_undo_pushes_it_back(qtbot, app) -> None:
    win, bridge, session = app
    daw = Peer(bridge.osc.address)
    daw.send("/songbridge/song/start_listen/tempo")
    qtbot.waitUntil(lambda: ("/songbridge/song/get/tempo", [120.0]) in daw.poll(), timeout=5000)
    chorus_bar = session.song.tempo.seconds_to_bars(session.song.section("chorus").start_s)
    daw.send("/songbridge/song/set/tempo", 96.0)
    qtbot.waitUntil(lambda: win.doc.undo.undoText() == "Set tempo (from DAW)", timeout=5000)
    assert win.timeline.doc.song.tempo.bpm == 96.0
    assert session.song.tempo.seconds_to_bars(session.song.section("chorus").start_s) == chorus_bar
    # Two answers: the listener's push (sent on the change) and the set's reply (sent once it is on disk).
    qtbot.waitUntil(lambda: daw.poll().count(("/songbridge/song/get/tempo", [96.0])) == 2, timeout=5000)
    assert load_song(session.folder).tempo.bpm == 96.0  # acknowledged: on disk
    undo = next(a for a in win.findChildren(type(win.menuBar().actions()[0])) if a.text().startswith("&Undo"))
    assert "Set tempo (from DAW)" in undo.text()
    win.activateWindow()
    qtbot.keyClick(win.timeline, "z", modifier=__import__("PySide6.QtCore", fromlist=["Qt"]).Qt.ControlModifier)
    qtbot.waitUntil(lambda: session.song.tempo.bpm == 120.0, timeout=5000)
    n = len(daw.got)
    qtbot.waitUntil(lambda: ("/songbridge/song/get/tempo", [120.0]) in daw.poll()[n:], timeout=5000)
    session.flush()
    assert load_song(session.folder).tempo.bpm == 120.0
    assert "received" in win.daw_link.osc.text()
    win.daw_link.refresh()
    peers = [win.daw_link.peers.item(r, 0).text() for r in range(win.daw_link.peers.rowCount())]
    assert f"127.0.0.1:{daw.sock.getsockname()[1]}" in peers


def test_a_section_from_liblo_appears_in_jobs_and_takes_and_job_done_names_it(qtbot, app, oscdump) -> None:
    if shutil.which("oscsend") is None:
        pytest.fail("needs liblo-tools (oscsend, oscdump); .ci/run installs them")
    win, bridge, session = app
    bridge.osc.reply_port = oscdump.port  # replies to the client's host on a fixed port, where oscdump listens
    port = str(bridge.osc.address[1])
    liblo_hello(oscdump, bridge.osc.address[1])
    subprocess.run(["oscsend", "localhost", port, "/songbridge/job/generate_section", "s", "Chorus"],
                   check=True, timeout=10)
    qtbot.waitUntil(lambda: any(label.startswith("Chorus") and "from DAW" in label
                                for label in win.jobs.labels.values()), timeout=10_000)
    qtbot.waitUntil(lambda: len(session.song.takes) == 2, timeout=60_000)
    take = session.song.takes[-1]
    qtbot.waitUntil(lambda: win.takes.count() == 2, timeout=5000)
    assert win.takes.item(0).data(256) == take.id and take.parent == "take-001"
    qtbot.waitUntil(lambda: any(f"{take.id} ready" in label for label in win.jobs.labels.values()),
                    timeout=5000)
    lines = oscdump.lines_until("/songbridge/job/done", timeout=10)
    done = next(ln for ln in lines if "/songbridge/job/done" in ln)
    assert f'"{take.id}"' in done and "mix.wav" in done


def test_a_second_program_is_refused_and_a_cli_generate_loses_nothing(qtbot, app, tmp_path: Path) -> None:
    win, bridge, session = app
    folder = session.folder
    before = (folder / "song.json").read_bytes()
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    lyrics = tmp_path / "l.txt"
    lyrics.write_text("[verse]\nother words\n")
    gen = subprocess.run([sys.executable, "-m", "songbridge", "generate", str(lyrics), "-o", str(folder)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert gen.returncode == 2
    assert f"open in songbridge gui (pid {os.getpid()}" in gen.stderr and "Traceback" not in gen.stderr
    assert "would also change the song's lyrics" in gen.stderr  # other words: refused, nothing sent to the app
    srv = subprocess.run([sys.executable, "-m", "songbridge", "serve", str(folder), "--midi", "off",
                          "--osc", "127.0.0.1:0"], capture_output=True, text=True, timeout=60, env=env)
    assert srv.returncode == 2 and "open in songbridge gui" in srv.stderr
    assert (folder / "song.json").read_bytes() == before
    assert [t.id for t in load_song(folder).takes] == ["take-001"]
    assert not list((folder / "takes").glob(".*"))
