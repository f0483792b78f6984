"""Building OSC replies (python-osc's builder); positions go out as int64 samples, float seconds, float beats."""

from __future__ import annotations

from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder


def message(address: str, *args: Any) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        if isinstance(a, Samples):
            b.add_arg(int(a), OscMessageBuilder.ARG_TYPE_INT64)
        elif isinstance(a, bool):
            b.add_arg(a, OscMessageBuilder.ARG_TYPE_TRUE if a else OscMessageBuilder.ARG_TYPE_FALSE)
        elif isinstance(a, int):
            b.add_arg(a, OscMessageBuilder.ARG_TYPE_INT64 if not -2**31 <= a < 2**31 else OscMessageBuilder.ARG_TYPE_INT)
        elif isinstance(a, float):
            b.add_arg(a, OscMessageBuilder.ARG_TYPE_FLOAT)
        else:
            b.add_arg(str(a), OscMessageBuilder.ARG_TYPE_STRING)
    return b.build().dgram


class Samples(int):
    """An integer sent as OSC int64 ('h') whatever its size: sample positions."""
