""""Test" for the DAWs SongBridge lands in through a script of its own (``reaper``, ``live``): is it set up, and
(Live) does the remote script answer right now. One sentence back, never an exception."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError


def check_script(daw: Any) -> tuple[bool, str]:
    if daw.adapter == "reaper":
        from daw_bridge.adapters.reaper import OSC_PORT, read_action

        if not daw.render_folder:
            return False, ("reaper: no REAPER resource folder linked: `songbridge daw link PROJECT reaper RESOURCE "
                           "--reaper-action ID`")
        try:
            action = read_action(Path(daw.render_folder))
        except SongBridgeError as exc:
            return False, f"reaper: {exc}"
        return True, (f"reaper: requests go to {Path(daw.render_folder) / 'Scripts'}, SongBridge triggers {action} "
                      f"over OSC at {daw.host}:{daw.port or OSC_PORT} (REAPER's answer is awaited at each landing)")
    from daw_bridge.adapters.live import PORT
    from daw_bridge.osc.decode import DecodeError, message
    from daw_bridge.osc.replies import message as build

    where = (daw.host or "127.0.0.1", daw.port or PORT)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # any address gets an answer from the script
        sock.settimeout(1.0)
        try:
            sock.sendto(build("/songbridge_live/ping"), where)
            reply = message(sock.recvfrom(65535)[0])
        except (OSError, DecodeError):
            reply = None
    if reply is None or reply.address != "/songbridge_live/created":
        return False, (f"live: SongBridge's remote script does not answer at {where[0]}:{where[1]}: copy "
                       "SongBridgeLive into Live's MIDI Remote Scripts folder and pick it as a Control Surface")
    return True, (f"live: the remote script answers at {where[0]}:{where[1]}; stem N lands on the Live set's track N "
                  "(0-based, the mix left out)")
