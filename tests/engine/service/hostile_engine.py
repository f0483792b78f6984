"""A malicious engine on 127.0.0.1 for the client's tests: it speaks ``songbridge-engine/1`` as
``engine/service/api/server.py`` does (status, jobs, a WebSocket of events, take files), and a test scripts what
its ``finished`` event claims and how it sends each file."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, StreamingResponse

from engine.service.api.wire import SCHEMA
from engine.song.document import take_to_dict
from engine.song.model import Take
from tests.engine.service.conftest import KEY, free_port

#: (the take ids the submitted job asked for) -> (the finished event's takes, its file manifest)
Finish = Callable[[list[str]], tuple[list[dict[str, Any]], list[dict[str, Any]]]]
#: (take, path) -> the body, as chunks an async generator yields (the engine sends them as it likes)
Body = Callable[[str, str], AsyncIterator[bytes]]


def take_json(take_id: str, **fields: Any) -> dict[str, Any]:
    """A take as the wire carries it, with ``fields`` set as sent (unchecked: the engine may lie)."""
    return {**take_to_dict(Take(take_id, "guide", 1, duration_s=1.0, stems=("vocal",))), **fields}


def entry(take: str, path: str, data: bytes, size: int | None = None) -> dict[str, Any]:
    return {"take": take, "path": path, "size": len(data) if size is None else size,
            "sha256": hashlib.sha256(data).hexdigest()}


def honest_files(take: str, stems: tuple[str, ...] = ("vocal",)) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """A manifest and bodies for a small, complete take."""
    bodies = {"mix.wav": b"RIFF-mix" * 16, **{f"stems/{s}.wav": f"RIFF-{s}".encode() * 16 for s in stems},
              "record.json": json.dumps(take_json(take)).encode()}
    return [entry(take, p, b) for p, b in bodies.items()], bodies


@dataclass
class HostileEngine:
    finish: Finish
    body: Body
    url: str = ""
    asked: list[list[str]] = field(default_factory=list)  # the take ids each submitted job asked for
    fetched: list[str] = field(default_factory=list)  # "take/path" of each file request

    def __enter__(self) -> HostileEngine:
        app = FastAPI()

        @app.get("/v1/status")
        def status() -> dict[str, Any]:
            return {"schema": SCHEMA, "workers": [], "queued": 0, "running": 0}

        @app.post("/v1/jobs", status_code=201)
        async def submit(request: Request) -> dict[str, Any]:
            job = json.loads(await request.body())["job"]
            self.asked.append([r["take_id"] for r in job.get("requests", [])])
            return {"job": f"job{len(self.asked)}"}

        @app.get("/v1/jobs")
        def jobs() -> list[Any]:
            return []

        @app.delete("/v1/jobs/{job_id}/files")
        def drop(job_id: str) -> dict[str, Any]:
            return {"job": job_id, "deleted": True}

        @app.get("/v1/jobs/{job_id}/files/{take}/{path:path}")
        def file(job_id: str, take: str, path: str) -> Any:
            self.fetched.append(f"{take}/{path}")
            return StreamingResponse(self.body(take, path), media_type="application/octet-stream")

        @app.websocket("/v1/jobs/{job_id}/events")
        async def events(ws: WebSocket, job_id: str) -> None:
            if ws.headers.get("authorization") != "Bearer " + KEY.decode():
                await ws.close(code=1008)
                return
            await ws.accept()
            takes, files = self.finish(self.asked[int(job_id[3:]) - 1])
            for data in ({"type": "queued", "position": 0, "estimate_s": 1.0, "estimate_bytes": 0},
                         {"type": "started"}, {"type": "finished", "takes": takes, "files": files}):
                await ws.send_text(json.dumps({"job": job_id, **data}))
            await ws.close()

        @app.middleware("http")
        async def guard(request: Request, call_next: Any) -> Any:
            if request.headers.get("authorization") != "Bearer " + KEY.decode():
                return JSONResponse({"error": "missing or wrong engine key"}, status_code=401)
            return await call_next(request)

        port = free_port()
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                                     timeout_graceful_shutdown=1, lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
