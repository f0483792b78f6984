"""An engine API server on loopback (a thread service behind uvicorn) for the API tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from engine.service import EngineService
from engine.service.api.server import serve
from engine.service.api.wire import TEST_JOBS_ENV

KEY = b"k" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def engine_server(scratch: Path, **kw: Any) -> Iterator[tuple[str, Any]]:
    """(url, uvicorn server) of an engine API on a free loopback port, for the time of the block."""
    service = EngineService("thread").start()
    port = free_port()
    server = serve(service, KEY, "127.0.0.1", port, scratch, **kw)
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        t.join(timeout=15)
        service.close()


@pytest.fixture
def test_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sleep jobs accepted over the API (they are off unless the engine's environment turns them on)."""
    monkeypatch.setenv(TEST_JOBS_ENV, "1")


@pytest.fixture
def engine_url(tmp_path: Path, test_jobs: None) -> Iterator[str]:
    with engine_server(tmp_path / "scratch") as (url, _server):
        yield url
