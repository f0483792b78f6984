"""The Ardour adapter's pieces that need no Ardour: Ardour's bar|beat|tick as quarter notes, stems converted to a
session's rate once, another Ardour's session is no reason to refuse ours, and where an Ardour's OSC listens."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import soundfile as sf

from daw_bridge.adapters import ardour_live as live
from daw_bridge.adapters.ardour_follow import bbt_beats
from daw_bridge.adapters.rates import at_rate


def test_bbt_is_quarter_notes_from_bar_one() -> None:
    assert bbt_beats("001|01|0000", 4) == 0.0
    assert bbt_beats("002|01|0960", 4) == 4.5
    assert bbt_beats("003|02|0000", 3) == 7.0
    assert bbt_beats("garbage", 4) is None


def test_stems_are_converted_to_the_sessions_rate_once(tmp_path: Path) -> None:
    t = np.arange(44100) / 44100
    wav = tmp_path / "take-001-vocal.wav"
    sf.write(str(wav), np.stack([np.sin(2 * np.pi * 440 * t)] * 2, 1).astype(np.float32), 44100)
    same, converted = at_rate({"SB vocal": wav}, 44100, tmp_path / "cache")
    assert same == {"SB vocal": wav} and converted == 0
    out, converted = at_rate({"SB vocal": wav}, 48000, tmp_path / "cache")
    assert converted == 1 and sf.info(str(out["SB vocal"])).samplerate == 48000
    assert sf.info(str(out["SB vocal"])).frames == 48000
    again, converted = at_rate({"SB vocal": wav}, 48000, tmp_path / "cache")
    assert converted == 0 and again == out  # cached by content and rate


def test_an_ardour_that_opened_another_session_is_named_by_its_command_line(tmp_path: Path) -> None:
    other = tmp_path / "Other"
    other.mkdir()
    (other / "Other.ardour").write_text("<Session/>")
    proc = live.ArdourProcess(1, "gui", ("ardour-7.3.0", "-n", str(other)))
    assert proc.named_session() == os.path.realpath(other)
    assert live.ArdourProcess(2, "gui", ("ardour-7.3.0",)).named_session() is None


def test_udp_ports_and_their_owners_are_read_from_proc() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        assert live.udp_ports()[port] == os.fstat(s.fileno()).st_ino  # the socket's inode, as /proc/<pid>/fd has it
