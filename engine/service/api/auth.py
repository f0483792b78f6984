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
