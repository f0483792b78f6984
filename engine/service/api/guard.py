"""The engine API's front door, as ASGI middleware around the FastAPI app (so the Ray ingress has it too): the key
before anything else, the failure book, a cap on every request body counted as it streams in, and a JSON answer
for every error, unexpected ones included."""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from .auth import FailureBook

log = logging.getLogger("songbridge.engine.api")
_LOG_EVERY_S = 10.0  # refused keys are summed up in the log at most this often (a flood must not flood the log)


class BodyTooLarge(Exception):
    """A request body passed its cap while it streamed in."""


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    return next((v for k, v in scope.get("headers", ()) if k == name), None)


async def send_json(send: Any, status: int, detail: str, *, close: bool = False,
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """An HTTP error answer ``{"detail": ...}``; ``close`` when the request's body was not read."""
    body = json.dumps({"detail": detail}).encode()
    extra = [*(headers or []), *([(b"connection", b"close")] if close else [])]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})


async def deny_websocket(scope: dict[str, Any], send: Any, status: int, detail: str) -> None:
    """Refuse a WebSocket handshake with an HTTP answer as JSON where the server can send one (else close 1008)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})


def _contains(exc: BaseException, kind: type[BaseException]) -> bool:
    if isinstance(exc, kind):
        return True
    return isinstance(exc, BaseExceptionGroup) and any(_contains(e, kind) for e in exc.exceptions)


class Guard:
    """ASGI middleware: ``key`` checked first (a right key always passes), ``book`` for the wrong ones, ``cap(method,
    path)`` bytes at most in a body, ``on_authorised(client)`` told of each request with the key."""

    def __init__(self, app: Any, *, key: bytes, cap: Callable[[str, str], int], book: FailureBook,
                 on_authorised: Callable[[Any], None] | None = None):
        self.app, self.cap, self.book, self.on_authorised = app, cap, book, on_authorised
        self.expected = b"Bearer " + key
        self._refused, self._logged_at = 0, float("-inf")

    def check(self, header: bytes | None, client: Any) -> int:
        """200, 401 or 429 for a request with this Authorization header."""
        if header is not None and hmac.compare_digest(header, self.expected):
            return 200
        now = time.monotonic()
        over = self.book.fail(b"" if header is None else header, now)
        self._refused += 1
        if now - self._logged_at >= _LOG_EVERY_S:
            log.warning("refused %d request(s) with a missing or wrong key in the last %.0f s (the latest from %s)",
                        self._refused, min(now - self._logged_at, 1e6), client[0] if client else "?")
            self._refused, self._logged_at = 0, now
        return 429 if over else 401

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        code = self.check(_header(scope, b"authorization"), scope.get("client"))
        if code != 200:
            detail = ("too many failed attempts with this key; wait a minute" if code == 429 else
                      "missing or wrong engine key")
            if kind == "websocket":
                await deny_websocket(scope, send, code, detail)
            else:
                await send_json(send, code, detail, close=True,
                                headers=[(b"www-authenticate", b"Bearer")] if code == 401 else None)
            return
        if kind == "websocket":
            await self.app(scope, receive, send)
            return
        if self.on_authorised is not None:
            self.on_authorised(scope.get("client"))
        await self._http(scope, receive, send)

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        cap = self.cap(scope["method"], scope["path"])
        size = _header(scope, b"content-length")
        if size is not None and (not size.isdigit() or int(size) > cap):
            await send_json(send, 413, f"request body over {cap} bytes", close=True)
            return
        seen, started = 0, False

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise BodyTooLarge
            return message

        async def tracked(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except Exception as exc:  # a protocol handler answers every request, whatever broke
            if _contains(exc, BodyTooLarge):
                status, detail = 413, f"request body over {cap} bytes"
            else:
                log.error("%s %s failed", scope["method"], scope["path"][:200], exc_info=exc)
                status, detail = 500, f"the engine failed on this request ({type(exc).__name__}; see its log)"
            if not started:
                await send_json(send, status, detail, close=True)
