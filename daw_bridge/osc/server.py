"""The OSC server: a UDP socket on 127.0.0.1:11300 (by default) owned by one thread, which parses packets,
translates them into commands and hands them to the bridge (STYLE.md 10), and sends what other threads queued on its
outbox. The kernel's count of datagrams dropped for a full receive buffer (Linux ``SO_RXQ_OVFL``) is read with
every packet, so a burst that overflows is counted and reported, never silent. Bundles are processed in order and immediately (timetags are
ignored, as AbletonOSC and Ardour do: a far-future timetag cannot stall the server). Unparsable packets become
``BadRequest`` too, so every bad request is answered. Listening beyond loopback needs an explicit allowlist.
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import select
import socket
import struct
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
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux: datagrams dropped for a full buffer, as ancillary data
MAX_BURST = 4096  # datagrams read off the socket before parsing them
PING = b"/songbridge/ping\x00"
QUICK_READS = (b"/songbridge/transport/get/", b"/songbridge/job/get/", b"/songbridge/bridge/get/")
SONG_GET, SONG_SET = b"/songbridge/song/get/", b"/songbridge/song/set/"
MAX_OUTBOX = 20_000  # replies waiting to be sent; past this the oldest are dropped (and counted)


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
    def __init__(self, commands: Any, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
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
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
            self._count_drops = True
        except OSError:
            self._count_drops = False
        self.sock.bind((host, port))
        self.sock.setblocking(False)
        self.address = self.sock.getsockname()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._outbox: collections.deque[tuple[bytes, tuple[str, int]]] = collections.deque()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.received = 0
        self.dropped = 0  # datagrams from addresses outside the allowlist
        self.overflowed = 0  # datagrams the kernel dropped because the receive buffer was full
        self.unsent = 0  # replies dropped because the outbox was full or the peer unreachable

    def start(self) -> OscServer:
        self._thread = threading.Thread(target=self._run, name="songbridge-osc", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(2.0)
        for s in (self.sock, self._wake_r, self._wake_w):
            try:
                s.close()
            except OSError:
                pass

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        """Send from the server's socket: at once on the OSC thread itself (a pong during a burst does not wait for
        the burst), else queued for the OSC thread (any thread may call this)."""
        if threading.current_thread() is self._thread and not self._outbox:
            try:
                self.sock.sendto(data, to)
                return
            except BlockingIOError:
                pass
            except OSError as exc:
                self.unsent += 1
                log.debug("cannot send to %s: %s", to, exc)
                return
        if len(self._outbox) >= MAX_OUTBOX:
            self.unsent += 1
            return
        self._outbox.append((data, to))
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except (BlockingIOError, OSError):
            pass  # the buffer already holds a wake-up

    def _flush(self) -> None:
        while self._outbox:
            data, to = self._outbox.popleft()
            try:
                self.sock.sendto(data, to)
            except BlockingIOError:
                self._outbox.appendleft((data, to))
                return
            except OSError as exc:
                self.unsent += 1
                log.debug("cannot send to %s: %s", to, exc)

    def _recv(self) -> tuple[bytes, Any] | None:
        if self._count_drops:
            data, anc, _flags, sender = self.sock.recvmsg(MAX_PACKET, socket.CMSG_SPACE(4))
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                    self.overflowed = struct.unpack("I", value[:4])[0]
            return data, sender
        return self.sock.recvfrom(MAX_PACKET)

    def reply_address(self, sender: tuple[str, int]) -> tuple[str, int]:
        return (sender[0], self.reply_port) if self.reply_port else (sender[0], sender[1])

    def _run(self) -> None:

        while not self._stop.is_set():
            try:
                want_write = [self.sock] if self._outbox else []
                readable, writable, _ = select.select([self.sock, self._wake_r], want_write, [], 0.5)
            except (OSError, ValueError):
                return
            if self._wake_r in readable:
                try:
                    while self._wake_r.recv(4096):
                        pass
                except (BlockingIOError, OSError):
                    pass
            self._flush()
            if self.sock not in readable:
                continue
            pending: collections.deque[tuple[bytes, Any]] = collections.deque()
            if not self._take_in(pending):
                return
            while pending:  # parse in arrival order; every few packets, take in what arrived meanwhile
                for _ in range(min(4, len(pending))):
                    self._packet(*pending.popleft())
                if not self._take_in(pending):
                    return
                self._flush()
            self._flush()

    def _take_in(self, pending: collections.deque[tuple[bytes, Any]]) -> bool:
        """Move what the kernel holds onto ``pending`` (cheap), answering pings at once so that they never wait
        behind a burst being parsed. False when the socket is closed."""
        while len(pending) < MAX_BURST:
            try:
                got = self._recv()
            except BlockingIOError:
                return True
            except OSError:
                return not self._stop.is_set()
            if got is None:
                continue
            if self._quick(got[0], pending):
                self._packet(*got)
            else:
                pending.append(got)
        return True

    @staticmethod
    def _quick(data: bytes, pending: collections.deque[tuple[bytes, Any]]) -> bool:
        """May this datagram be answered ahead of the ones still waiting? Pings and reads of the transport, the
        jobs and the bridge always; a read of a song property only when no set of it (and no bundle) waits."""
        if data.startswith(PING) or data.startswith(QUICK_READS):
            return True
        if data.startswith(SONG_GET):
            prop = data[len(SONG_GET):data.find(b"\x00")]
            setter = SONG_SET + prop + b"\x00"
            return not any(d.startswith(setter) or d.startswith(b"#bundle") for d, _ in pending)
        return False

    def _packet(self, data: bytes, sender: Any) -> None:
        from pythonosc.osc_packet import OscPacket, ParseError  # noqa: PLC0415

        self.received += 1
        if sender[0] not in self.allow and not ipaddress.ip_address(sender[0]).is_loopback:
            self.dropped += 1
            return
        reply_to = self.reply_address(sender)
        try:
            packet = OscPacket(data)
            messages = list(_messages(packet))
        except (ParseError, Exception) as exc:  # noqa: BLE001 - hostile bytes must never stop the server
            self.commands.put(p.Envelope(p.BadRequest("parse_error", f"not an OSC packet: {str(exc)[:80]}"),
                                         "", reply_to))
            return
        if not messages:  # a bundle whose elements are not OSC (python-osc skips them without a word)
            self.commands.put(p.Envelope(p.BadRequest("parse_error", "a bundle with no readable OSC message"),
                                         "", reply_to))
            return
        for msg in messages:
            address = str(getattr(msg, "address", ""))[:256]
            try:
                command = translate(address, list(msg.params))
            except Exception as exc:  # noqa: BLE001 - translate never raises by contract; this is the backstop
                command = p.BadRequest("bad_arguments", f"{type(exc).__name__}: {str(exc)[:200]}")
            self.commands.put(p.Envelope(command, address, reply_to))


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` for ``--osc`` (port 0: any free port, which the program prints)."""
    from engine.errors import SongBridgeError  # noqa: PLC0415

    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise SongBridgeError(f"--osc must be HOST:PORT (e.g. 127.0.0.1:11300), got {text!r}")
    return host or "127.0.0.1", int(port)
