"""An engine API server on loopback (a thread service behind uvicorn) for the API tests."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from engine.service import EngineService
from engine.service.api.server import serve

KEY = b"k" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def engine_url(tmp_path: Path):
    service = EngineService("thread").start()
    port = free_port()
    server = serve(service, KEY, "127.0.0.1", port, tmp_path / "scratch")
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    t.join(timeout=5)
    service.close()
