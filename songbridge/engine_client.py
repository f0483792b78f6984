"""The CLI's side of the engine service: open the local worker or a remote engine (a command's jobs then run through
its headless session, ``songbridge.headless``)."""

from __future__ import annotations

from typing import Any

from engine.errors import SongBridgeError


def open_engine(spec: str | None, key_file: str | None = None, ca_file: str | None = None,
                devices: list[str | None] | None = None) -> Any:
    """``None``/``local``: worker processes on this machine (one, or one per entry of ``devices``); ``thread``: in
    this process; ``http(s)://HOST:PORT`` or ``HOST:PORT``: a remote engine's JSON API
    (``songbridge serve --engine``). ``ca_file`` (``--engine-ca``) is checked first, whatever the engine."""
    if ca_file:
        check_ca_file(ca_file)
    if spec in (None, "", "local"):
        from engine.service import EngineService

        return EngineService("process", devices=devices or [None]).start()
    if spec == "thread":
        from engine.service import EngineService

        return EngineService("thread").start()
    from engine.service.api.auth import parse_address, read_key
    from engine.service.api.client import HttpEngine

    if not spec.startswith(("http://", "https://")):
        host, port = parse_address(spec)
        spec = f"http://{host}:{port}"
    return HttpEngine(spec, read_key(key_file), cafile=ca_file)


def check_ca_file(ca_file: str) -> None:
    """``--engine-ca``: a readable file of PEM certificates, or an error naming it (not an internal error)."""
    import ssl

    try:
        ssl.create_default_context(cafile=ca_file)
    except FileNotFoundError:
        raise SongBridgeError(f"--engine-ca {ca_file}: not found") from None
    except ssl.SSLError as exc:
        raise SongBridgeError(f"--engine-ca {ca_file}: not a PEM certificate file "
                              f"({exc.reason or exc.strerror or exc})") from None
    except OSError as exc:
        raise SongBridgeError(f"--engine-ca {ca_file}: cannot read: {exc.strerror or exc}") from None

