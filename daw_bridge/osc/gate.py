"""Who may be sent how much over UDP: the bridge never amplifies a forged source address.

A UDP source address is a claim, not a fact: anyone may send a datagram that says it comes from another program's
port, and the replies would go there. So an address must *prove* that it receives what is sent to it before it is
sent more than it sent (QUIC's address validation, RFC 9000 section 8, at a factor of 1 instead of 3):

- Until proven, the bytes sent to an address never exceed the bytes received from it (its *credit*, at most
  ``CREDIT_CAP``, forgotten ``CREDIT_IDLE_S`` after its last datagram). A reply that does not fit is withheld; in its
  place, when it fits, the address is sent the challenge ``/songbridge/hello s:cookie`` (at most one a second).
- The cookie is an HMAC of the address and the time (a secret made at start, ``COOKIE_PERIOD_S`` windows), so the
  server keeps no state for it. An address that sends ``/songbridge/hello s:cookie`` back has shown that it
  receives there: it is proven for ``PROOF_TTL_S`` and answered ``/songbridge/hello s:"ok" f:seconds``.
- ``/songbridge/hello`` with any other string is answered with the challenge, within its credit: send a string of at
  least 16 characters (``oscsend localhost 11300 /songbridge/hello s 0123456789abcdef``).

Tables are bounded (oldest forgotten first). Any thread may call :meth:`Gate.outgoing`; a lock guards the tables.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable

from .replies import message

HELLO = "/songbridge/hello"
PROOF_TTL_S = 3600.0  # a proof lasts this long; then the address proves itself again
CREDIT_CAP = 65_536  # bytes an unproven address may have banked
CREDIT_IDLE_S = 60.0  # an unproven address's credit is forgotten this long after its last datagram
COOKIE_PERIOD_S = 300.0  # a cookie is good in its window and the next
CHALLENGE_EVERY_S = 1.0  # at most one unasked-for challenge a second per address
MAX_UNPROVEN = 4096  # addresses with credit
MAX_PROVEN = 1024  # proven addresses in all
MAX_PROVEN_PER_HOST = 128  # proven ports of one host (one host cannot push the others' proofs out)
Address = tuple[str, int]


class _Credit:
    __slots__ = ("bytes", "challenged", "seen")

    def __init__(self, now: float):
        self.bytes = 0
        self.seen = now
        self.challenged = -math.inf


class Gate:
    def __init__(self, clock: Callable[[], float] = time.monotonic, secret: bytes | None = None):
        self.clock = clock
        self._secret = secret or secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._credit: collections.OrderedDict[Address, _Credit] = collections.OrderedDict()
        self._proven: collections.OrderedDict[Address, float] = collections.OrderedDict()  # address -> until
        self._per_host: collections.Counter[str] = collections.Counter()
        self.withheld = 0  # replies not sent to an unproven address (they did not fit its credit)
        self.withheld_bytes = 0

    # -- what came in -------------------------------------------------------------------------------------------
    def received(self, sender: Address, size: int) -> float:
        """Count a datagram from ``sender`` (the address replies go to); returns until when it is proven (0: not)."""
        now = self.clock()
        with self._lock:
            until = self._until(sender, now)
            if until:
                return until
            c = self._credit.get(sender)
            if c is None or now - c.seen > CREDIT_IDLE_S:
                c = self._credit[sender] = _Credit(now)
                while len(self._credit) > MAX_UNPROVEN:
                    self._credit.popitem(last=False)
            self._credit.move_to_end(sender)
            c.bytes, c.seen = min(CREDIT_CAP, c.bytes + size), now
            return 0.0

    def proven_until(self, address: Address) -> float:
        with self._lock:
            return self._until(address, self.clock())

    def _until(self, address: Address, now: float) -> float:
        until = self._proven.get(address, 0.0)
        if until and until <= now:
            del self._proven[address]
            self._per_host[address[0]] -= 1
            return 0.0
        return until

    # -- the handshake ------------------------------------------------------------------------------------------
    def cookie(self, address: Address, window: int | None = None) -> str:
        if window is None:
            window = int(self.clock() // COOKIE_PERIOD_S)
        mac = hmac.new(self._secret, f"{address[0]}|{address[1]}|{window}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:9]).decode()  # 72 bits in 12 characters

    def hello(self, address: Address, text: str) -> bytes | None:
        """``/songbridge/hello s:text`` from ``address`` (its credit already counted): the reply to send, if any."""
        window = int(self.clock() // COOKIE_PERIOD_S)
        if any(hmac.compare_digest(text.encode(), self.cookie(address, w).encode()) for w in (window, window - 1)):
            self._prove(address)
            return message(HELLO, "ok", float(PROOF_TTL_S))
        return self.outgoing(message(HELLO, self.cookie(address, window)), address, challenge=False)

    def _prove(self, address: Address) -> None:
        now = self.clock()
        with self._lock:
            if not self._until(address, now):
                host = address[0]
                if self._per_host[host] >= MAX_PROVEN_PER_HOST:  # this host's oldest proof makes room
                    oldest = next(a for a in self._proven if a[0] == host)
                    del self._proven[oldest]
                    self._per_host[host] -= 1
                while len(self._proven) >= MAX_PROVEN:
                    gone, _ = self._proven.popitem(last=False)
                    self._per_host[gone[0]] -= 1
                self._per_host[host] += 1
            self._proven.pop(address, None)
            self._proven[address] = now + PROOF_TTL_S
            self._credit.pop(address, None)

    # -- what goes out ------------------------------------------------------------------------------------------
    def outgoing(self, data: bytes, to: Address, challenge: bool = True) -> bytes | None:
        """What may be sent for ``data`` to ``to``: ``data`` itself, the challenge instead, or nothing."""
        now = self.clock()
        with self._lock:
            if self._until(to, now):
                return data
            c = self._credit.get(to)
            if c is not None and now - c.seen > CREDIT_IDLE_S:
                del self._credit[to]
                c = None
            if c is not None and len(data) <= c.bytes:
                c.bytes -= len(data)
                return data
            self.withheld += 1
            self.withheld_bytes += len(data)
            if not challenge or c is None or now - c.challenged < CHALLENGE_EVERY_S:
                return None
        hello = message(HELLO, self.cookie(to))
        with self._lock:
            if c.bytes < len(hello):
                return None
            c.bytes -= len(hello)
            c.challenged = now
        return hello
