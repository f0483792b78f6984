"""The project's MIDI connections (JACK port names), remembered and made again at start.

``<project>/midi_connections.json`` holds, for SongBridge's two ports, the JACK ports they were connected to::

    {"in": ["ardour:MIDI Clock out"], "out": ["a2j:Launchpad [20] (playback): Launchpad MIDI 1"]}

A ``Keeper`` (JACK only: ALSA's sequencer has no stable names) connects the remembered ports when the bridge starts
(those that exist then; the others wait for the next start), then looks every ``EVERY_S`` at what the producer
connected and disconnected (in the DAW, qjackctl, Carla...) and saves it. A connection whose other port is gone (the
DAW quit) stays remembered: only a disconnection the producer made while both ports exist forgets it. A file that is
not valid is reported (naming the file and the field) and left as it is: nothing is connected from it or saved over
it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError

log = logging.getLogger("songbridge.midi")
FILE = "midi_connections.json"
EVERY_S = 1.0
MAX_PORTS = 64  # remembered per role; a port name is at most 320 bytes in JACK
ROLES = ("in", "out")


class ConnectionsFileError(SongBridgeError):
    """``midi_connections.json`` is not what SongBridge writes; the message names the file and the field."""


def read(folder: Path) -> dict[str, list[str]]:
    path = Path(folder) / FILE
    if not path.exists():
        return {role: [] for role in ROLES}
    if not path.is_file():
        raise ConnectionsFileError(f"{path}: not a regular file")
    try:
        if path.stat().st_size > 256 * 1024:
            raise ConnectionsFileError(f"{path}: larger than 256 KiB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConnectionsFileError(f"{path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ConnectionsFileError(f"{path}: line {exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ConnectionsFileError(f"{path}: must be an object with \"in\" and \"out\" lists of JACK port names")
    out: dict[str, list[str]] = {}
    for role in ROLES:
        ports = data.get(role, [])
        if not isinstance(ports, list) or len(ports) > MAX_PORTS or not all(
                isinstance(x, str) and 0 < len(x) <= 320 and "\n" not in x for x in ports):
            raise ConnectionsFileError(f"{path}: \"{role}\" must be a list of at most {MAX_PORTS} JACK port names "
                                       "(strings of 1-320 characters)")
        out[role] = list(dict.fromkeys(ports))
    unknown = sorted(set(data) - set(ROLES))
    if unknown:
        raise ConnectionsFileError(f"{path}: unknown field {unknown[0]!r} (fields: in, out)")
    return out


def write(folder: Path, conns: dict[str, list[str]]) -> None:
    """Atomically, never through a link planted in the project (``engine.safe_fs``)."""
    from engine.safe_fs import remove, write_text

    path = Path(folder) / FILE
    tmp = path.with_name(f".{FILE}.tmp")
    remove(tmp)  # a link planted there is unlinked, not followed
    write_text(tmp, json.dumps({role: conns.get(role, []) for role in ROLES}, indent=1) + "\n", root=folder)
    os.replace(tmp, path)


class Keeper:
    """Remembers and restores the connections of ``ports`` ({"in": "SongBridge:in", "out": "SongBridge-out:out"})
    for the project in ``folder``; ``close()`` stops it (saving what is connected then)."""

    def __init__(self, folder: Path, ports: dict[str, str], every_s: float = EVERY_S):
        import jack

        self.folder, self.ports, self.every_s = Path(folder), ports, every_s
        self.client = jack.Client("SongBridge-connections", no_start_server=True)
        self.note = ""  # what happened, for the DAW link panel
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        try:
            self.remembered = read(self.folder)
            self.broken = ""
        except ConnectionsFileError as exc:
            self.remembered, self.broken = {role: [] for role in ROLES}, str(exc)
            log.warning("%s", exc)
        self.thread = threading.Thread(target=self._run, name="midi-connections", daemon=True)

    def start(self) -> Keeper:
        self.reconnect()
        self.thread.start()
        return self

    def _names(self) -> set[str]:
        return {p.name for p in self.client.get_ports(is_midi=True)}

    def connected(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for role, mine in self.ports.items():
            try:
                port = self.client.get_port_by_name(mine)
                out[role] = sorted(p.name for p in self.client.get_all_connections(port))
            except Exception:  # noqa: BLE001 - jack.JackError: our port is gone (closing)
                out[role] = []
        return out

    def reconnect(self) -> list[str]:
        """Connect what the project remembers; returns what was connected now (the rest: ports that are not
        there)."""
        if self.broken:
            self.note = f"not reconnected: {self.broken}"
            return []
        names, made, missing = self._names(), [], []
        now = self.connected()
        for role, peers in self.remembered.items():
            mine = self.ports.get(role)
            for peer in peers:
                if mine is None or peer in now.get(role, []):
                    continue
                if peer not in names:
                    missing.append(peer)
                    continue
                try:
                    if role == "in":
                        self.client.connect(peer, mine)
                    else:
                        self.client.connect(mine, peer)
                    made.append(f"{peer} -> {mine}" if role == "in" else f"{mine} -> {peer}")
                except Exception as exc:  # noqa: BLE001 - jack.JackError: say it, go on
                    missing.append(f"{peer} ({exc})")
        self.note = (f"reconnected {', '.join(made)}" if made else "nothing to reconnect") + (
            f"; not there now: {', '.join(missing)}" if missing else "")
        return made

    def update(self) -> bool:
        """Remember what is connected now (keeping connections whose other port is gone); True when it changed."""
        if self.broken:
            return False
        with self.lock:
            names = self._names()
            if not all(mine in names for mine in self.ports.values()):
                return False  # our ports are closing: nothing to learn
            now = self.connected()
            new = {}
            for role in ROLES:
                kept = [x for x in self.remembered.get(role, []) if x not in names]  # the other side is away
                new[role] = list(dict.fromkeys([*now.get(role, []), *kept]))[:MAX_PORTS]
            if new == self.remembered:
                return False
            self.remembered = new
            try:
                write(self.folder, new)
            except OSError as exc:
                log.warning("could not save the MIDI connections in %s: %s", self.folder / FILE, exc)
                return False
            return True

    def describe(self) -> str:
        now = self.connected()
        parts = [f"{peer} -> {self.ports['in']}" for peer in now.get("in", [])] + \
                [f"{self.ports['out']} -> {peer}" for peer in now.get("out", [])]
        return ("connected: " + ", ".join(parts) if parts else "not connected") + (
            f" ({self.note})" if self.note else "")

    def _run(self) -> None:
        while not self.stopping.wait(self.every_s):
            try:
                self.update()
            except Exception:  # the JACK server went away: keep what we remember
                log.debug("MIDI connections not read", exc_info=True)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        try:
            self.update()
        except Exception:  # noqa: BLE001
            pass
        try:
            self.client.close()
        except Exception:  # noqa: BLE001
            pass


def keep(folder: Path, midi_ports: Any, client: str = "SongBridge") -> Keeper | None:
    """A started keeper for ports opened through JACK (``ports.open_ports``'s result), else None."""
    if midi_ports is None or midi_ports[2] != "jack":
        return None
    try:
        return Keeper(folder, {"in": f"{client}:in", "out": f"{client}-out:out"}).start()
    except Exception as exc:  # noqa: BLE001 - no JACK client: the ports still work, unremembered
        log.warning("MIDI connections will not be remembered: %s", exc)
        return None
