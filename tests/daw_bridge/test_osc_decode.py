"""The strict OSC decoder and the address gate, without sockets (liblo's oscsend is captured on one)."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from daw_bridge.osc import decode
from daw_bridge.osc.gate import CHALLENGE_EVERY_S, COOKIE_PERIOD_S, MAX_UNPROVEN, PROOF_TTL_S, Gate
from daw_bridge.osc.replies import message


def build(address: str, *args, types: str | None = None) -> bytes:
    b = OscMessageBuilder(address)
    for i, a in enumerate(args):
        b.add_arg(a, types[i] if types else None)
    return b.build().dgram


def test_what_python_osc_builds_decodes_to_the_same_values() -> None:
    data = build("/songbridge/x", 7, 2**40, 1.5, 0.1, "héllo", True, False, None, types="ihfdsTFN")
    m = decode.message(data)
    assert m.address == "/songbridge/x"
    assert m.args == (7, 2**40, 1.5, 0.1, "héllo", True, False, None)
    assert decode.message(b"/songbridge/ping\x00\x00\x00\x00").args == ()  # OSC 1.0: no type tags, no arguments


def test_python_osc_pads_a_float_cut_short_and_this_decoder_refuses_it() -> None:
    """Why the bridge has its own decoder: 96.37 cut by 3 bytes reads as 32.0 in python-osc."""
    cut = build("/songbridge/song/set/tempo", 96.37)[:-3]
    assert OscMessage(cut).params == [32.0]
    with pytest.raises(decode.DecodeError, match="cut short"):
        decode.packet(cut)


@pytest.mark.parametrize("data, why", [
    (build("/a", 5)[:-1], "cut short"),
    (build("/a", 2**40, types="h")[:-2], "cut short"),
    (build("/a", 0.5, types="d")[:-4], "cut short"),
    (build("/a", 1) + b"\x00\x00\x00\x00", "after the last argument"),
    (b"/a\x00\x01,i\x00\x00\x00\x00\x00\x01", "non-zero"),
    (b"/abc", "no terminating NUL"),
    (b"/a\x00\x00,s\x00\x00ab", "no terminating NUL"),
    (b"/a\x00\x00,s\x00\x00\xff\xfe\x00\x00", "not UTF-8"),
    (b"/a\x00\x00,b\x00\x00\x00\x00\x00\x01x\x00\x00\x00", "does not take"),
    (b"/a\x00\x00,[i]\x00\x00\x00\x00\x00\x00\x00\x01", "does not take"),
    (b"/a\x00\x00i\x00\x00\x00\x00\x00\x00\x01", "must start with ','"),
    (b"a\x00\x00\x00", "starts with '/'"),
    (b"#bundle\x00\x00\x00", "cut short"),
    (b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 6) + b"/a\x00\x00\x00\x00", "sizes are positive multiples"),
    (b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 64) + b"/a\x00\x00", "sizes are positive multiples"),
    (b"#bundle\x00" + b"\x00" * 8, "no message"),
])
def test_malformed_datagrams_are_refused_whole(data: bytes, why: str) -> None:
    with pytest.raises(decode.DecodeError, match=why):
        decode.packet(data)


def test_bundles_flatten_in_order_within_their_limits() -> None:
    inner = OscBundleBuilder(IMMEDIATELY)
    inner.add_content(OscMessageBuilder("/b").build())
    outer = OscBundleBuilder(IMMEDIATELY)
    outer.add_content(OscMessageBuilder("/a").build())
    outer.add_content(inner.build())
    outer.add_content(OscMessageBuilder("/c").build())
    assert [m.address for m in decode.packet(outer.build().dgram)] == ["/a", "/b", "/c"]
    nested = OscMessageBuilder("/deep").build().dgram
    for _ in range(decode.MAX_DEPTH + 1):
        nested = b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", len(nested)) + nested
    with pytest.raises(decode.DecodeError, match="nested"):
        decode.packet(nested)
    many = OscBundleBuilder(IMMEDIATELY)
    for _ in range(decode.MAX_BUNDLE_MESSAGES + 1):
        many.add_content(OscMessageBuilder("/x").build())
    with pytest.raises(decode.DecodeError) as exc:
        decode.packet(many.build().dgram)
    assert exc.value.code == "too_large"


def test_what_liblo_oscsend_sends_decodes() -> None:
    if shutil.which("oscsend") is None:
        pytest.fail("needs liblo-tools (oscsend, oscdump); .ci/run installs them")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(10)
        subprocess.run(["oscsend", "127.0.0.1", str(s.getsockname()[1]), "/songbridge/job/generate_bars", "ffis",
                        "17", "25.5", "2", "née"], check=True, timeout=10)
        m = decode.message(s.recv(65535))
    assert m == decode.Message("/songbridge/job/generate_bars", (17.0, 25.5, 2, "née"))


# -- the gate ---------------------------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_an_unproven_address_gets_at_most_what_it_sent_and_one_challenge_a_second() -> None:
    clock = Clock()
    gate = Gate(clock)
    peer = ("127.0.0.1", 50000)
    gate.received(peer, 24)
    assert gate.outgoing(b"x" * 20, peer) == b"x" * 20  # fits the 24 bytes of credit
    assert gate.outgoing(b"x" * 20, peer) is None  # 4 bytes left: withheld, and the challenge does not fit
    gate.received(peer, 100)
    hello = gate.outgoing(b"y" * 5000, peer)
    assert hello is not None and decode.message(hello).address == "/songbridge/hello"
    assert gate.outgoing(b"y" * 5000, peer) is None  # one challenge a second
    clock.t += CHALLENGE_EVERY_S
    assert gate.outgoing(b"y" * 5000, peer) is not None
    assert gate.withheld == 4
    assert gate.outgoing(b"z", ("127.0.0.1", 50001)) is None  # never heard from: nothing at all


def test_a_cookie_proves_its_own_address_for_a_while_and_expires() -> None:
    clock = Clock()
    gate = Gate(clock)
    peer, other = ("127.0.0.1", 50000), ("127.0.0.1", 50001)
    gate.received(peer, 64)
    challenge = gate.hello(peer, "0123456789abcdef")
    assert challenge is not None and len(challenge) <= 44
    cookie = decode.message(challenge).args[0]
    assert gate.hello(other, cookie) is None and not gate.proven_until(other)  # another address's cookie
    clock.t += COOKIE_PERIOD_S  # the next window still takes it
    ok = gate.hello(peer, cookie)
    assert decode.message(ok).args == ("ok", PROOF_TTL_S)
    assert gate.proven_until(peer) == clock.t + PROOF_TTL_S
    assert gate.outgoing(b"x" * 60_000, peer) == b"x" * 60_000
    clock.t += PROOF_TTL_S
    assert not gate.proven_until(peer) and gate.outgoing(b"x", peer) is None
    clock.t += 2 * COOKIE_PERIOD_S
    gate.received(peer, 64)
    assert gate.hello(peer, cookie) != message("/songbridge/hello", "ok", PROOF_TTL_S)  # an old cookie: a new challenge
    assert not gate.proven_until(peer)


def test_the_gates_tables_are_bounded() -> None:
    gate = Gate(Clock())
    for port in range(MAX_UNPROVEN + 100):
        gate.received(("127.0.0.1", port), 10)
    assert len(gate._credit) == MAX_UNPROVEN
    assert gate.outgoing(b"x", ("127.0.0.1", 0)) is None  # the oldest was forgotten
