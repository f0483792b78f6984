"""The DAW link's set-up and its two-way sync, asked for from OSC or the app's DAW link panel (the same commands):

- ``/songbridge/daw/set/osc s:host i:port`` (and ``get``): where the DAW's OSC listens, one undoable edit of the
  song's ``daw`` link; a running Ardour follower moves to the new address at once.
- ``/songbridge/daw/pull``: the Ardour session's tempo map and markers become the song's tempo and sections, one
  undoable edit labelled "(from DAW)"; answered ``/songbridge/daw/pulled i:sections s:what``.
- ``/songbridge/daw/push``: the song's sections become range markers in the session and its tempo the session's;
  answered ``/songbridge/daw/pushed i:markers s:what``.

Pull and push run ``ardour7-lua`` on the closed session (seconds), on the bridge's landing thread, so the bridge
keeps answering. While a running Ardour has the session open, a pull asks it over its OSC to save (``/save_state``,
as Ctrl+S) and reads the file it wrote; a push goes through SongBridge's landing action in that Ardour
(``ardour_push_live``: Ardour's OSC cannot set tempos or name range markers, its Lua can). Each result is kept for the
panel (``bridge.daw_syncs``)."""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from daw_bridge import protocol as p
from engine.errors import SongBridgeError

ROOT = "/songbridge"
HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                      r"[A-Za-z0-9])?)*$")


def check_host(host: str) -> str:
    """An IP address or a host name (never looked up here: no network at run time)."""
    host = host.strip()
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if not HOSTNAME.match(host):
        raise SongBridgeError(f"host: {host[:80]!r} is not an IP address or a host name")
    return host


def handle(bridge: Any, env: p.Envelope, cmd: p.DawSync | p.DawOsc) -> None:
    if isinstance(cmd, p.DawOsc):
        if cmd.host is not None or cmd.port is not None:
            set_osc(bridge, env, cmd.host, cmd.port)
        else:
            daw = bridge.session.song.daw
            bridge.reply(env, f"{ROOT}/daw/get/osc", daw.host, int(daw.port))
        return
    try:
        session_dir = linked_session(bridge.session.song)
    except SongBridgeError as exc:
        _record(bridge, cmd.direction, False, str(exc))
        raise
    bridge.run_later(lambda: _sync(bridge, env, cmd.direction, session_dir))


def linked_session(song: Any) -> Path:
    daw = song.daw
    if daw.adapter != "ardour" or not daw.session:
        raise SongBridgeError("the project is not linked to an Ardour session: `songbridge daw link PROJECT ardour "
                              "SESSION [--create]` first")
    return Path(daw.session)


def set_osc(bridge: Any, env: p.Envelope, host: str | None, port: int | None) -> None:
    song = bridge.session.song
    new_host = check_host(host) if host is not None else song.daw.host
    new_port = song.daw.port if port is None else int(port)
    if not 0 <= new_port <= 65535:
        raise SongBridgeError(f"port: must be 0..65535 (0: find Ardour's), got {new_port}")
    if (new_host, new_port) != (song.daw.host, song.daw.port):
        label = "Set the DAW's OSC address" + ("" if env.source == "gui" else " (from DAW)")
        bridge.session.edit(song.replace(daw=replace(song.daw, host=new_host, port=new_port)), label,
                            "app" if env.source == "gui" else "daw")
        if getattr(bridge, "ardour_follow", None) is not None:  # follow Ardour where it listens now
            bridge.ardour_follow.close()
            bridge.ardour_follow = None
            bridge._remember_follow(True)
    bridge.reply(env, f"{ROOT}/daw/get/osc", new_host, new_port)


def _sync(bridge: Any, env: p.Envelope, direction: str, session_dir: Path) -> None:
    from daw_bridge.adapters.ardour import ArdourError
    from daw_bridge.adapters.ardour_route import refusal

    try:
        if direction == "pull":
            count, text = _pull(bridge, session_dir, live=bool(refusal(session_dir)))
        else:  # into the closed session, or through the running Ardour's landing action
            from daw_bridge.adapters.ardour_push_live import push_song

            song = bridge.session.song
            count, text = push_song(session_dir, song, (song.daw.host, song.daw.port))
    except (SongBridgeError, ArdourError, OSError) as exc:
        _record(bridge, direction, False, str(exc))
        bridge.error(env, "bad_value", f"daw {direction}: {exc}")
        return
    _record(bridge, direction, True, text)
    bridge.reply(env, f"{ROOT}/daw/{direction}ed", count, text[:1000])


def _pull(bridge: Any, session_dir: Path, live: bool) -> tuple[int, str]:
    """From the closed session (Ardour's own Lua reads it), or, while a running Ardour has it open, from the file
    that Ardour saves when asked over its OSC (``/save_state``, as Ctrl+S): its tempo map and markers as they are
    now, unsaved edits included."""
    from daw_bridge.adapters.ardour_markers import (
        read_saved_timeline,
        read_timeline,
        save_running,
        song_from_timeline,
    )
    from daw_bridge.adapters.ardour_route import resolve_osc

    if live:
        daw = bridge.session.song.daw
        save_running(session_dir, resolve_osc(session_dir, (daw.host, daw.port)))
        timeline = read_saved_timeline(session_dir)
    else:
        timeline = read_timeline(session_dir)
    before = bridge.session.song
    song = song_from_timeline(before, timeline)
    tempo = ", ".join(f"{s.bpm:g} bpm {s.meter} at bar {s.bar}" for s in song.tempo.segments)
    if song == before:
        return len(song.sections), f"nothing new in {session_dir.name} (tempo {tempo})"
    bridge.session.edit(song, "Tempo and sections from Ardour (from DAW)", "daw")
    if timeline.markers:
        return len(song.sections), f"tempo {tempo}; {len(song.sections)} sections from its markers"
    return len(song.sections), f"tempo {tempo}; no markers in the session, the sections stay"


def _record(bridge: Any, direction: str, ok: bool, text: str) -> None:
    syncs = getattr(bridge, "daw_syncs", None)
    if syncs is not None:
        syncs.append({"when": time.time(), "direction": direction, "ok": ok, "text": text[:1000]})
