"""Connection limits for the engine's uvicorn server, so that no number of clients that connect and say nothing, say
half a request, or keep a connection open between requests keeps an authorised request waiting.

- A connection with no request in flight (new, or kept alive after a response) is closed after ``idle_s`` of
  silence. Once a request's first byte arrives its headers must be complete within ``header_s`` (bytes dribbled in
  one at a time do not extend it); the late ones get ``408`` as JSON.
- At most ``most`` connections in all and ``most_per_peer`` from one address. A new connection over either cap
  closes the oldest connection that has not shown the key (of that address, for the per-address cap): a newcomer
  gets in however many connections attackers hold, and the producer's connections are never closed to make room
  (a newcomer that finds every slot taken by them is closed itself). uvicorn's ``limit_concurrency``, which answers
  everyone ``503`` once it is full, is not used.

A connection shows the key when the app's guard accepts a request on it (``ConnectionTable.authorise``, with the
ASGI scope's client address). WebSocket connections leave the table once upgraded: they are authorised event
streams, capped by the app. With TLS a connection joins the table once its handshake is done: until then only
asyncio's own handshake timeout (60 s) bounds it. Only ``server.serve`` imports this module (it subclasses uvicorn's
h11 protocol)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("songbridge.engine.api")
_ABORT_AFTER_S = 1.0  # a peer that does not read our last words is cut off


@dataclass(frozen=True)
class Limits:
    """Connection limits of the engine's HTTP server (seconds, connections)."""

    header_s: float = 10.0
    idle_s: float = 5.0
    most: int = 512
    most_per_peer: int = 256

    def __post_init__(self) -> None:
        if not (self.header_s > 0 and self.idle_s > 0 and 1 <= self.most_per_peer <= self.most):
            raise ValueError(f"connection limits: expected positive timeouts and 1 <= most_per_peer <= most, "
                             f"got {self}")


def _raw_response(status: int, reason: str, detail: str) -> bytes:
    body = json.dumps({"detail": detail}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode() + body


class ConnectionTable:
    """The server's open HTTP connections, oldest first; makes room when a cap is passed (see the module)."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.open: dict[Any, None] = {}  # protocol -> None, in the order they connected
        self.per_peer: Counter[str] = Counter()
        self.by_address: dict[Any, Any] = {}
        self.dropped = 0

    def __len__(self) -> int:
        return len(self.open)

    def add(self, conn: Any) -> None:
        host = conn.peer_host
        self.open[conn] = None
        self.per_peer[host] += 1
        self.by_address[conn.client] = conn
        if self.per_peer[host] > self.limits.most_per_peer:
            self._make_room(conn, host)
        if conn in self.open and len(self.open) > self.limits.most:
            self._make_room(conn, None)

    def remove(self, conn: Any) -> None:
        if conn not in self.open:
            return  # dropped already
        del self.open[conn]
        host = conn.peer_host
        self.per_peer[host] -= 1
        if self.per_peer[host] <= 0:
            del self.per_peer[host]
        if self.by_address.get(conn.client) is conn:
            del self.by_address[conn.client]

    def authorise(self, client: Any) -> None:
        """A request with the key arrived from this (host, port): its connection is the producer's."""
        conn = self.by_address.get(tuple(client) if client else None)
        if conn is not None:
            conn.authorised = True

    def _make_room(self, newcomer: Any, host: str | None) -> None:
        # the oldest connection that has not shown the key: usually the first looked at, and at worst the newcomer
        victim = next((c for c in self.open if not c.authorised and (host is None or c.peer_host == host)), newcomer)
        self.dropped += 1
        if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
            log.warning("connection limit reached (%d in all, %d from %s): closed the oldest connection without "
                        "the key (%d so far)", len(self.open), self.per_peer[victim.peer_host], victim.peer_host,
                        self.dropped)
        victim.drop(_raw_response(503, "Service Unavailable", "the engine is at its connection limit; this "
                                  "connection was the oldest idle one"))


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines and a place in a :class:`ConnectionTable` (``table`` is set on the
    subclass ``protocol_class`` makes for each server)."""

    table: ConnectionTable

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.authorised = False
        self.peer_host = "?"
        self._phase: str | None = None  # idle | headers | busy | gone
        self._timer: Any = None

    @property
    def busy(self) -> bool:
        """A request's headers arrived and its response is not complete."""
        return self.cycle is not None and not self.cycle.response_complete

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.peer_host = self.client[0] if self.client else "?"
        self.table.add(self)
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_watching()
        self.table.remove(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def handle_websocket_upgrade(self, event: Any) -> None:
        self._stop_watching()
        self.table.remove(self)
        super().handle_websocket_upgrade(event)

    def send_400_response(self, msg: str) -> None:
        self._stop_watching()
        self.transport.write(_raw_response(400, "Bad Request", f"not a valid HTTP request: {msg}"))
        self._close()

    def drop(self, answer: bytes = b"") -> None:
        """Close this connection now; a request half received gets ``answer`` (a whole HTTP response) first."""
        half = self._phase == "headers"
        self._stop_watching()
        self.table.remove(self)
        if self.transport is None or self.transport.is_closing():
            return
        if half and answer:
            self.transport.write(answer)
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self._close()

    def _close(self) -> None:
        try:
            self.conn.send(h11.ConnectionClosed())
        except h11.LocalProtocolError:
            pass  # mid-request: the peer loses it, as intended
        self.transport.close()
        self.loop.call_later(_ABORT_AFTER_S, self.transport.abort)

    def _watch(self) -> None:
        if self._phase == "gone" or self.transport is None or self.transport.is_closing():
            self._stop_watching()
            return
        if self.busy:
            self._cancel()
            self._phase = "busy"
            return
        phase = "headers" if self.conn.trailing_data[0] else "idle"
        if phase != self._phase:  # a deadline starts when its phase does: more bytes do not extend it
            self._cancel()
            self._phase = phase
            limits = self.table.limits
            self._timer = self.loop.call_later(limits.header_s if phase == "headers" else limits.idle_s,
                                               self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self.busy or self.transport.is_closing():
            return
        if self._phase == "headers":
            self.drop(_raw_response(408, "Request Timeout", f"the request's headers did not arrive within "
                                    f"{self.table.limits.header_s:g} s"))
        else:
            self.drop()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _stop_watching(self) -> None:
        self._cancel()
        self._phase = "gone"


class _Throttle(logging.Filter):
    """Lets uvicorn's "Invalid HTTP request received." through once per ``every_s`` (a flood of garbage must not
    flood the log)."""

    def __init__(self, every_s: float = 10.0):
        super().__init__()
        self.every_s, self.last, self.dropped = every_s, float("-inf"), 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != "Invalid HTTP request received.":
            return True
        if record.created - self.last < self.every_s:
            self.dropped += 1
            return False
        if self.dropped:
            record.msg, record.args = "Invalid HTTP request received (and %d more not logged).", (self.dropped,)
        self.last, self.dropped = record.created, 0
        return True


def protocol_class(table: ConnectionTable) -> type[GuardedH11Protocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` whose connections live in ``table``."""
    uvicorn_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _Throttle) for f in uvicorn_log.filters):
        uvicorn_log.addFilter(_Throttle())
    return type("EngineH11Protocol", (GuardedH11Protocol,), {"table": table})
