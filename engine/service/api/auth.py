"""The engine's shared key and listen address, as the CLI reads them."""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import SongBridgeError

KEY_ENV = "SONGBRIDGE_ENGINE_KEY"
MIN_KEY = 16


class EngineKeyError(SongBridgeError):
    """No key, or the engine refused it."""


def read_key(key_file: str | None = None) -> bytes:
    """The shared key from ``--key-file`` or ``SONGBRIDGE_ENGINE_KEY`` (printable ASCII, at least 16 characters:
    it travels in an HTTP header)."""
    if key_file:
        try:
            key = Path(key_file).read_bytes().strip()
        except OSError as exc:
            raise EngineKeyError(f"{key_file}: cannot read the engine key: {exc.strerror}") from None
        where = key_file
    else:
        key = os.environ.get(KEY_ENV, "").strip().encode()
        where = KEY_ENV
    if len(key) < MIN_KEY:
        raise EngineKeyError(f"the engine needs a shared key of at least {MIN_KEY} characters: set {KEY_ENV} or "
                             "pass --key-file")
    if not all(33 <= b < 127 for b in key):
        raise EngineKeyError(f"{where}: the engine key must be printable ASCII without spaces "
                             "(e.g. from `openssl rand -hex 32`)")
    return key


def parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise SongBridgeError(f"engine address must be HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


class FailureBook:
    """Failed attempts at the key, counted per presented credential: ``limit`` failures of one credential within
    ``window_s`` and that credential gets ``429`` until the window passes. The right key is compared before the book
    is consulted, so no number of failures, from any address, locks it out (an SSH tunnel makes every client
    127.0.0.1); guessing is defeated by the key's length, not by the book. Credentials are kept as digests, at most
    ``size`` of them: the least recently failed is forgotten first, so the book's memory is bounded."""

    def __init__(self, limit: int = 10, window_s: float = 60.0, size: int = 4096):
        from collections import OrderedDict

        self.limit, self.window_s, self.size = limit, window_s, size
        self._book: OrderedDict[bytes, tuple[float, int]] = OrderedDict()  # digest -> (window start, failures)

    def __len__(self) -> int:
        return len(self._book)

    def fail(self, credential: bytes, now: float) -> bool:
        """Note a failed attempt with ``credential`` (the header as sent); True when it is now over the limit."""
        import hashlib

        digest = hashlib.sha256(credential).digest()
        start, n = self._book.pop(digest, (now, 0))
        if now - start > self.window_s:
            start, n = now, 0
        self._book[digest] = (start, n + 1)
        while len(self._book) > self.size:
            self._book.popitem(last=False)
        return n + 1 > self.limit
