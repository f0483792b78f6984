"""Floods: a burst of 2,000 sets never silences ping, the last value wins and is acknowledged; 2,000 generate
requests are all answered (queued up to the per-client cap, the rest refused with busy)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from daw_bridge.osc.server import OscServer
from daw_bridge.server import MAX_JOBS_PER_CLIENT, Bridge
from engine.service import EngineService
from engine.session import Session
from engine.song import load_song
from tests.daw_bridge.peers import hello
from tests.engine.session.test_session import make_project

pytestmark = pytest.mark.integration


def msg(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


@pytest.fixture
def served(tmp_path: Path):
    project = make_project(tmp_path)
    engine = EngineService("thread").start()
    session = Session.open(project.folder, engine, "test")
    osc = OscServer(None, "127.0.0.1", 0)
    bridge = Bridge(session, osc.send, version="flood")
    osc.commands = bridge
    bridge.osc = osc
    osc.start()
    bridge.start()
    yield bridge, osc, session
    osc.close()
    bridge.close()
    session.close()
    engine.close()


def sock(server: tuple[str, int]) -> socket.socket:
    """A python-osc peer that has proven its address (docs/osc.md)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 2**20)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.05)
    hello(s, server)
    return s


def drain(s: socket.socket, seconds: float) -> list[OscMessage]:
    out, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            out.append(OscMessage(s.recv(65535)))
        except TimeoutError:
            continue
    return out


def test_a_burst_of_tempo_sets_keeps_ping_answering_and_the_last_value_wins(served) -> None:
    bridge, osc, session = served
    flood, pinger = sock(osc.address), sock(osc.address)
    values = [60.0 + (i % 1200) / 10 for i in range(2000)]
    pings = 0
    for i, bpm in enumerate(values):
        flood.sendto(msg("/songbridge/song/set/tempo", bpm), osc.address)
        if i % 100 == 0:
            pinger.sendto(msg("/songbridge/ping"), osc.address)
            pings += 1
    pongs = [m for m in drain(pinger, 3.0) if m.address == "/songbridge/pong"]
    acks = [m.params[0] for m in drain(flood, 3.0) if m.address == "/songbridge/song/get/tempo"]
    pinger.sendto(msg("/songbridge/bridge/get/stats"), osc.address)
    stats = next(m.params for m in drain(pinger, 1.0) if m.address == "/songbridge/bridge/get/stats")
    received, handled, coalesced, dropped, unsent = stats
    assert len(pongs) == pings
    assert received + dropped >= 2000 + pings  # nothing vanished without being counted
    assert dropped == 0  # an 8 MiB receive buffer holds this burst
    assert session.song.tempo.bpm == pytest.approx(values[-1], abs=1e-4)
    assert acks and acks[-1] == pytest.approx(values[-1], abs=1e-3)  # the last set is the one acknowledged
    assert handled + coalesced >= 2000
    session.flush()
    assert load_song(session.folder).tempo.bpm == pytest.approx(values[-1], abs=1e-4)
    print(f"2,000 tempo sets: {handled} handled, {coalesced} coalesced, {len(acks)} acknowledged")


def test_two_thousand_generate_requests_are_all_answered_and_capped(served) -> None:
    bridge, osc, session = served
    flood = sock(osc.address)
    for _ in range(2000):
        flood.sendto(msg("/songbridge/job/generate_section", "Chorus"), osc.address)
    replies = drain(flood, 5.0)
    queued = [m for m in replies if m.address == "/songbridge/job/queued"]
    busy = [m for m in replies if m.address == "/songbridge/error" and m.params[1] == "busy"]
    assert len(queued) + len(busy) == 2000
    assert MAX_JOBS_PER_CLIENT <= len(queued) < 2000 and "at most 8" in busy[0].params[2]
    flood.sendto(msg("/songbridge/job/cancel", "*"), osc.address)
