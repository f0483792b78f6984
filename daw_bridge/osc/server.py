"""The OSC server: a UDP socket on 127.0.0.1:11300 (by default) owned by one thread, which decodes packets strictly
(``decode.py``), translates them into commands and hands them to the bridge, and sends what other
threads queued on its outbox. Every datagram out passes the :class:`~daw_bridge.osc.gate.Gate`: an address that has
not proven it receives (the ``/songbridge/hello`` cookie) is never sent more bytes than it sent, so a forged source
address cannot turn the bridge into an amplifier. The kernel's count of datagrams dropped for a full receive buffer
(Linux ``SO_RXQ_OVFL``) is read with every packet, so a burst that overflows is counted and reported, never silent.
Bundles are processed in order and immediately (timetags are ignored, as AbletonOSC and Ardour do: a far-future
timetag cannot stall the server). Unparsable packets become ``BadRequest`` too, so every bad request is answered
(within the datagram's error budget and its sender's credit). Listening beyond loopback needs an explicit allowlist.
"""

from __future__ import annotations

import collections
import gc
import ipaddress
import logging
import select
import socket
import struct
import sys
import threading
from collections.abc import Iterable
from typing import Any

from daw_bridge import protocol as p

from . import decode
from .addresses import translate
from .gate import HELLO, Gate

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
BUNDLE = b"#bundle\x00"
MAX_OUTBOX = 20_000  # replies waiting to be sent; past this the oldest are dropped (and counted)
SWITCH_INTERVAL_S = 0.0005  # how often the interpreter offers the GIL to another thread (Python's default: 5 ms)


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
        self.suppressed = 0  # bad messages of a bundle past its error budget: counted, not answered
        self.gate = Gate()

    def start(self) -> OscServer:
        # A ping must be answered within 5 ms even while another thread of this program runs Python (a lyric set
        # being parsed, a song being saved): the OSC thread waits for the GIL at most one switch interval.
        if sys.getswitchinterval() > SWITCH_INTERVAL_S:
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        # A full garbage collection holds the GIL for as long as it walks every tracked object: the program's
        # modules and startup objects (hundreds of thousands, tens of milliseconds a walk) are frozen out of it,
        # once what is garbage now has been collected (frozen garbage would never be).
        gc.collect()
        gc.freeze()
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
        the burst), else queued for the OSC thread (any thread may call this). What an unproven address may not be
        sent is withheld (and counted as unsent), or replaced by the handshake's challenge."""
        gated = self.gate.outgoing(data, to)
        if gated is None:
            self.unsent += 1
            return
        self._send(gated, to)

    def _send(self, data: bytes, to: tuple[str, int]) -> None:
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
        pending = _Pending()
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
            if not self._take_in(pending):
                return
            while pending:  # parse in arrival order; after each packet, take in what arrived meanwhile (a ping
                # waits behind one packet at most: an empty socket costs one system call to find out)
                self._packet(*pending.pop())
                if not self._take_in(pending):
                    return
                self._flush()
            self._flush()

    def _take_in(self, pending: _Pending) -> bool:
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
            if pending.may_jump(got[0]):
                self._packet(*got)
            else:
                pending.push(got)
        return True

    def _packet(self, data: bytes, sender: Any) -> None:
        self.received += 1
        if sender[0] not in self.allow and not ipaddress.ip_address(sender[0]).is_loopback:
            self.dropped += 1
            return
        reply_to = self.reply_address(sender)
        proven = self.gate.received(reply_to, len(data))
        datagram = p.Datagram()
        try:
            messages = decode.packet(data)
        except decode.DecodeError as exc:
            self.commands.put(p.Envelope(p.BadRequest(exc.code, f"not a well-formed OSC packet: {exc}"), "",
                                         reply_to, "osc", proven, datagram))
            return
        bad = 0
        for msg in messages:
            address = msg.address[:256]
            if address == HELLO:
                self._hello(msg.args, reply_to, proven, datagram)
                continue
            try:
                command = translate(address, msg.args)
            except Exception as exc:  # noqa: BLE001 - translate never raises by contract; this is the backstop
                command = p.BadRequest("bad_arguments", f"{type(exc).__name__}: {str(exc)[:200]}")
            if isinstance(command, p.BadRequest):
                bad += 1
                if bad > datagram.errors:  # its answer would be past the datagram's budget: not even queued
                    self.suppressed += 1
                    continue
            self.commands.put(p.Envelope(command, address, reply_to, "osc", proven, datagram))

    def _hello(self, args: tuple[Any, ...], reply_to: tuple[str, int], proven: float, datagram: p.Datagram) -> None:
        """The handshake (gate.py): answered here, as it concerns the transport, not the song."""
        if len(args) > 1 or (args and not isinstance(args[0], str)):
            self.commands.put(p.Envelope(p.BadRequest("bad_arguments", "hello takes one string: padding, or the "
                                                      "cookie it was answered with"), HELLO, reply_to, "osc", proven,
                                         datagram))
            return
        reply = self.gate.hello(reply_to, args[0] if args else "")
        if reply is not None:
            self._send(reply, reply_to)
        else:
            self.unsent += 1


class _Pending:
    """Datagrams read but not yet parsed, in arrival order, with a count of the song sets and bundles among them
    (so that whether a read may jump the queue is known at once, not by a scan of thousands)."""

    def __init__(self) -> None:
        self._items: collections.deque[tuple[bytes, Any]] = collections.deque()
        self._sets: collections.Counter[bytes] = collections.Counter()  # property (b"#bundle": bundles) -> waiting

    @staticmethod
    def _key(data: bytes) -> bytes | None:
        if data.startswith(SONG_SET):
            return data[len(SONG_SET):data.find(b"\x00")]
        return BUNDLE if data.startswith(BUNDLE) else None

    def push(self, item: tuple[bytes, Any]) -> None:
        self._items.append(item)
        key = self._key(item[0])
        if key is not None:
            self._sets[key] += 1

    def pop(self) -> tuple[bytes, Any]:
        item = self._items.popleft()
        key = self._key(item[0])
        if key is not None:
            self._sets[key] -= 1
            if not self._sets[key]:
                del self._sets[key]
        return item

    def __len__(self) -> int:
        return len(self._items)

    def may_jump(self, data: bytes) -> bool:
        """May this datagram be answered ahead of the ones waiting? Pings and reads of the transport, the jobs and
        the bridge always; a read of a song property only when no set of it (and no bundle) waits."""
        if data.startswith(PING) or data.startswith(QUICK_READS):
            return True
        if data.startswith(SONG_GET):
            return not self._sets.get(data[len(SONG_GET):data.find(b"\x00")]) and not self._sets.get(BUNDLE)
        return False


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` for ``--osc`` (port 0: any free port, which the program prints)."""
    from engine.errors import SongBridgeError

    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise SongBridgeError(f"--osc must be HOST:PORT (e.g. 127.0.0.1:11300), got {text!r}")
    return host or "127.0.0.1", int(port)
