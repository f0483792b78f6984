"""The client's side of the bridge's handshake (docs/osc.md, "Proving your address"), for python-osc programs: send
a padded ``/songbridge/hello``, send back the cookie it is answered with, wait for ``"ok"``. Until then the bridge
sends an address no more bytes than it received from it."""

from __future__ import annotations

import socket
import time

from pythonosc.osc_message import OscMessage

from .gate import HELLO
from .replies import message

PADDING = "0123456789abcdef"  # the challenge is never larger than the hello that asked for it


def prove(sock: socket.socket, server: tuple[str, int], timeout: float = 5.0) -> float:
    """Prove ``sock``'s address to the bridge at ``server``; returns for how many seconds it is proven. Datagrams
    other than the handshake's that arrive meanwhile are dropped. Raises TimeoutError."""
    deadline = time.monotonic() + timeout
    old = sock.gettimeout()
    sock.settimeout(0.1)
    try:
        sock.sendto(message(HELLO, PADDING), server)
        asked = time.monotonic()
        while time.monotonic() < deadline:
            try:
                m = OscMessage(sock.recv(65535))
            except (TimeoutError, BlockingIOError):
                if time.monotonic() - asked > 1.0:  # lost (UDP): ask again
                    sock.sendto(message(HELLO, PADDING), server)
                    asked = time.monotonic()
                continue
            if m.address != HELLO or not m.params:
                continue
            if m.params[0] == "ok":
                return float(m.params[1]) if len(m.params) > 1 else 0.0
            sock.sendto(message(HELLO, m.params[0]), server)
            asked = time.monotonic()
        raise TimeoutError(f"the bridge at {server[0]}:{server[1]} did not complete the hello")
    finally:
        sock.settimeout(old)
