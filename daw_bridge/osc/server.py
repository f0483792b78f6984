"""The OSC server: a UDP socket on 127.0.0.1:11300 (by default) whose thread only parses packets, translates them
into commands and enqueues them (STYLE.md 10). Bundles are processed in order and immediately (timetags are
ignored, as AbletonOSC and Ardour do: a far-future timetag cannot stall the server). Unparsable packets become
``BadRequest`` too, so every bad request is answered. Listening beyond loopback needs an explicit allowlist.
"""

from __future__ import annotations

import ipaddress
import logging
import queue
import socket
import threading
from collections.abc import Iterable
from typing import Any

from daw_bridge import protocol as p

from .addresses import translate

log = logging.getLogger("songbridge.osc")
DEFAULT_PORT = 11300
DEFAULT_REPLY_PORT = 11301
MAX_PACKET = 65_535
RECV_BUFFER = 8 * 2**20  # bytes


def _messages(packet: Any) -> Iterable[Any]:
    """Messages of a packet in order, bundles flattened depth-first."""
    from pythonosc.osc_bundle import OscBundle  # noqa: PLC0415

    for item in packet.messages if hasattr(packet, "messages") else [packet]:
        msg = getattr(item, "message", item)
        if isinstance(msg, OscBundle):
            for sub in msg:
                yield from _messages(type("P", (), {"messages": [sub]})())
        else:
            yield msg


class OscServer:
    def __init__(self, commands: queue.Queue[p.Envelope], host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 allow: Iterable[str] = (), reply_port: int | None = None):
        ip = ipaddress.ip_address(host)
        if not ip.is_loopback and not list(allow):
            raise ValueError(f"listening on {host} needs an allowlist of client addresses (--allow)")
        self.commands = commands
        self.allow = {str(ipaddress.ip_address(a)) for a in allow}
        self.reply_port = reply_port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # A burst from a DAW (thousands of messages at once) waits in the kernel rather than being dropped:
        # ask for a large receive buffer (the kernel caps it at net.core.rmem_max; root may force more).
        for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if opt is None:
                continue
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, opt, RECV_BUFFER)
                break
            except OSError:
                continue
        self.sock.bind((host, port))
        self.address = self.sock.getsockname()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.received = 0
        self.dropped = 0

    def start(self) -> OscServer:
        self._thread = threading.Thread(target=self._run, name="songbridge-osc", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(2.0)

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        """Send a datagram from the server's own socket (used by the replier)."""
        try:
            self.sock.sendto(data, to)
        except OSError as exc:
            log.debug("cannot send to %s: %s", to, exc)

    def reply_address(self, sender: tuple[str, int]) -> tuple[str, int]:
        return (sender[0], self.reply_port) if self.reply_port else (sender[0], sender[1])

    def _run(self) -> None:
        from pythonosc.osc_packet import OscPacket, ParseError  # noqa: PLC0415

        while not self._stop.is_set():
            try:
                data, sender = self.sock.recvfrom(MAX_PACKET)
            except OSError:
                return
            self.received += 1
            if sender[0] not in self.allow and not ipaddress.ip_address(sender[0]).is_loopback:
                self.dropped += 1
                continue
            reply_to = self.reply_address(sender)
            try:
                packet = OscPacket(data)
                messages = list(_messages(packet))
            except (ParseError, Exception) as exc:  # noqa: BLE001 - hostile bytes must never stop the server
                self.commands.put(p.Envelope(p.BadRequest("parse_error", f"not an OSC packet: {str(exc)[:80]}"),
                                             "", reply_to))
                continue
            if not messages:  # a bundle whose elements are not OSC (python-osc skips them without a word)
                self.commands.put(p.Envelope(p.BadRequest("parse_error", "a bundle with no readable OSC message"),
                                             "", reply_to))
                continue
            for msg in messages:
                address = str(getattr(msg, "address", ""))[:256]
                try:
                    command = translate(address, list(msg.params))
                except Exception as exc:  # noqa: BLE001 - translate never raises by contract; this is the backstop
                    command = p.BadRequest("bad_arguments", f"{type(exc).__name__}: {str(exc)[:200]}")
                self.commands.put(p.Envelope(command, address, reply_to))
