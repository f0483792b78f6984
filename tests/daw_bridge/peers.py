"""The bridge's handshake as its peers do it (docs/osc.md, "Proving your address"): a python-osc socket, and liblo's
``oscsend`` with ``oscdump`` on the reply port."""

from __future__ import annotations

import re
import socket
import subprocess

from pythonosc.osc_message_builder import OscMessageBuilder

from daw_bridge.osc.client import PADDING, prove
from daw_bridge.osc.gate import HELLO


def osc(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def hello(sock: socket.socket, server: tuple[str, int], timeout: float = 5.0) -> None:
    """Prove ``sock``'s address (the bridge's own client helper)."""
    prove(sock, server, timeout)


def liblo_hello(oscdump, port: int) -> None:
    """The documented handshake with liblo's tools: ``oscsend`` a padded hello, read the cookie from ``oscdump``
    (listening on the bridge's reply port), ``oscsend`` it back."""
    subprocess.run(["oscsend", "localhost", str(port), HELLO, "s", PADDING], check=True, timeout=10)
    line = next((ln for ln in oscdump.lines_until(HELLO, timeout=10) if HELLO in ln), "")
    cookie = re.search(r'/songbridge/hello s "([^"]+)"', line)
    assert cookie, f"no challenge from the bridge: {line!r}"
    subprocess.run(["oscsend", "localhost", str(port), HELLO, "s", cookie.group(1)], check=True, timeout=10)
    line = next((ln for ln in oscdump.lines_until(HELLO, timeout=10) if HELLO in ln), "")
    assert '"ok"' in line, line
