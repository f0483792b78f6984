"""REAPER and Live adapters, our side of the wire (neither DAW runs on this machine)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from daw_bridge import protocol as p
from daw_bridge.adapters import reaper

pytestmark = pytest.mark.integration


def test_reaper_request_and_trigger_over_osc(tmp_path: Path, oscdump) -> None:
    stem = tmp_path / "vocal.wav"
    stem.write_bytes(b"RIFF")
    landing = reaper.write_request(tmp_path / "Scripts", {"SB vocal": stem}, 34.5, "sb-chorus")
    assert landing.request.read_text() == f"{stem.resolve()}\tSB vocal\t34.500000\tsb-chorus\n"
    reaper.trigger("_RS1234abcd", port=oscdump.port)
    line = oscdump.readline(timeout=20)
    assert '/action/str s "_RS1234abcd"' in line
    assert reaper.SCRIPT.exists() and "InsertMedia" in reaper.SCRIPT.read_text()


def test_reaper_feedback_parsing() -> None:
    assert reaper.feedback("/tempo/raw", [128.0]) == p.TransportUpdate(bpm=128.0)
    assert reaper.feedback("/time", [2.0]) == p.TransportUpdate(position_samples=88200)
    assert reaper.feedback("/play", [1.0]) == p.TransportUpdate(playing=True)
    assert reaper.feedback("/track/1/mute", [1]) is None


def test_live_remote_script_parses_and_builds_osc() -> None:
    """The Live script carries its own tiny OSC codec (Live's Python has no python-osc): check it against ours."""
    src = (reaper.SCRIPT.parent / "SongBridgeLive" / "__init__.py").read_text()
    tree = ast.parse(src)
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in ("_pad", "_parse", "_message")}
    ns: dict = {"struct": __import__("struct")}
    exec(compile(ast.Module(body=list(funcs.values()), type_ignores=[]), "live", "exec"), ns)
    from pythonosc.osc_message import OscMessage
    from pythonosc.osc_message_builder import OscMessageBuilder

    b = OscMessageBuilder("/songbridge_live/create_audio_clip")
    for a in ("/stems/v.wav", 2, 64.0, "sb-chorus"):
        b.add_arg(a)
    assert ns["_parse"](b.build().dgram) == ("/songbridge_live/create_audio_clip", ["/stems/v.wav", 2, 64.0, "sb-chorus"])
    reply = OscMessage(ns["_message"]("/songbridge_live/created", 1, "ok"))
    assert reply.address == "/songbridge_live/created" and list(reply.params) == [1, "ok"]
