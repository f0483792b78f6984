"""A strict OSC 1.0 decoder: a datagram -> its messages (bundles flattened in order), or :class:`DecodeError`.

python-osc's parser is lenient where the bridge must not be: a ``float`` cut short is padded with zero bytes (96.37
cut by 3 bytes reads as 32.0), an unknown type tag is skipped with a log line, bytes after the last argument are
ignored, and a string is scanned byte by byte in Python (a 60 KB string holds the interpreter for milliseconds).
Here every argument must be complete, padding must be zero bytes, nothing may follow the last argument, strings are
UTF-8 found with ``bytes.find``, only the types the bridge uses are accepted (``i h f d s S T F N``), and a bundle is
checked whole (element sizes, depth, message count) before any of its messages is returned: a malformed datagram is
refused as a whole, never half applied.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

BUNDLE = b"#bundle\x00"
MAX_BUNDLE_MESSAGES = 256  # messages in one datagram, nested bundles included
MAX_DEPTH = 4  # bundles inside bundles
_I32, _I64, _F32, _F64 = struct.Struct(">i"), struct.Struct(">q"), struct.Struct(">f"), struct.Struct(">d")
_FIXED = {"i": _I32, "h": _I64, "f": _F32, "d": _F64}
_CONST = {"T": True, "F": False, "N": None}


class DecodeError(ValueError):
    """Bytes that are not a complete, well-formed OSC packet; ``code`` is the bridge's error code."""

    def __init__(self, message: str, code: str = "parse_error"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Message:
    address: str
    args: tuple[Any, ...]


def _string(data: bytes, start: int, what: str) -> tuple[str, int]:
    """An OSC string at ``start``: UTF-8, NUL-terminated, NUL-padded to 4 bytes; (text, index after it)."""
    end = data.find(b"\x00", start)
    if end < 0:
        raise DecodeError(f"{what} has no terminating NUL")
    after = (end + 4) & ~3
    if after > len(data):
        raise DecodeError(f"{what} is not padded to 4 bytes")
    if data[end:after].count(0) != after - end:
        raise DecodeError(f"{what} is padded with non-zero bytes")
    try:
        return data[start:end].decode("utf-8"), after
    except UnicodeDecodeError:
        raise DecodeError(f"{what} is not UTF-8") from None


def message(data: bytes) -> Message:
    """One OSC message (not a bundle), checked to its last byte."""
    address, i = _string(data, 0, "the address")
    if not address.startswith("/"):
        raise DecodeError("an OSC address starts with '/'")
    if i == len(data):  # OSC 1.0 allows a message without a type tag string: no arguments
        return Message(address, ())
    tags, i = _string(data, i, "the type tags")
    if not tags.startswith(","):
        raise DecodeError("the type tag string must start with ','")
    args: list[Any] = []
    for n, tag in enumerate(tags[1:], 1):
        fixed = _FIXED.get(tag)
        if fixed is not None:
            if i + fixed.size > len(data):
                raise DecodeError(f"argument {n} ({tag}) is cut short: {len(data) - i} of {fixed.size} bytes")
            args.append(fixed.unpack_from(data, i)[0])
            i += fixed.size
        elif tag in ("s", "S"):
            text, i = _string(data, i, f"argument {n} (s)")
            args.append(text)
        elif tag in _CONST:
            args.append(_CONST[tag])
        else:
            raise DecodeError(f"argument {n} has type {tag!r}, which the bridge does not take "
                              "(it takes i h f d s T F N)", "bad_arguments")
    if i != len(data):
        raise DecodeError(f"{len(data) - i} byte(s) after the last argument")
    return Message(address, tuple(args))


def packet(data: bytes) -> list[Message]:
    """The messages of a datagram in order (bundles flattened depth-first; timetags ignored)."""
    out: list[Message] = []
    _packet(data, out, 0)
    if not out:
        raise DecodeError("a bundle with no message")
    return out


def _packet(data: bytes, out: list[Message], depth: int) -> None:
    if not data.startswith(BUNDLE):
        if len(out) >= MAX_BUNDLE_MESSAGES:
            raise DecodeError(f"more than {MAX_BUNDLE_MESSAGES} messages in one datagram", "too_large")
        out.append(message(data))
        return
    if depth >= MAX_DEPTH:
        raise DecodeError(f"bundles nested more than {MAX_DEPTH} deep")
    if len(data) < 16:
        raise DecodeError("a bundle is cut short before its timetag")
    elements, i = 0, 16
    while i + 4 <= len(data):  # count first: a bundle of too many messages is refused before any is decoded
        i += 4 + max(4, _I32.unpack_from(data, i)[0])
        elements += 1
    if len(out) + elements > MAX_BUNDLE_MESSAGES:
        raise DecodeError(f"more than {MAX_BUNDLE_MESSAGES} messages in one datagram", "too_large")
    i = 16
    while i < len(data):
        if i + 4 > len(data):
            raise DecodeError("a bundle element's size is cut short")
        size = _I32.unpack_from(data, i)[0]
        i += 4
        if size <= 0 or size % 4 or i + size > len(data):
            raise DecodeError(f"a bundle element claims {size} bytes; {len(data) - i} remain (sizes are positive "
                              "multiples of 4)")
        _packet(data[i:i + size], out, depth + 1)
        i += size
