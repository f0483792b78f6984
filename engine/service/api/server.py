"""The engine served over HTTP (FastAPI on uvicorn): JSON requests, a WebSocket of job events, take files as bytes.

Every request needs ``Authorization: Bearer KEY`` (compared in constant time; the WebSocket takes the same header).
Ten failed attempts from one address within a minute block that address for a minute (429). Bodies are capped
(``MAX_BODY``); uvicorn's timeouts drop clients that stall. Jobs run in this process's :class:`EngineService`;
their takes are written into a scratch folder per job, and ``finished`` events carry a manifest of the files
(relative path, size, sha256) that the client fetches and checks. Events are kept per job, so a client that
reconnects replays the stream from the start (``?after=N`` skips what it already has).

Endpoints (``docs/engine-api.md``): ``GET /v1/status``, ``POST /v1/jobs``, ``GET /v1/jobs``, ``GET /v1/jobs/{id}``,
``POST /v1/jobs/{id}/cancel``, ``GET /v1/jobs/{id}/files/{take}/{path}``, ``WS /v1/jobs/{id}/events``.
"""



import asyncio
import hashlib
import hmac
import json
import logging
import shutil
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from .wire import SCHEMA, WireError, event_to_json, job_from_json

log = logging.getLogger("songbridge.engine.api")
MAX_BODY = 4 << 20
FAIL_WINDOW_S, FAIL_LIMIT = 60.0, 10


class JobBook:
    """What the server remembers of each job: its events (as JSON), its files, and who waits for them."""

    def __init__(self, service: Any, scratch: Path):
        self.service, self.scratch = service, scratch
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.files: dict[str, dict[tuple[str, str], Path]] = {}
        self.folders: dict[str, Path] = {}
        self.cond = threading.Condition()
        self._stop = threading.Event()
        self._pump = threading.Thread(target=self._loop, name="engine-api-events", daemon=True)
        self._pump.start()

    def submit(self, data: Any) -> str:
        from uuid import uuid4  # noqa: PLC0415

        folder = self.scratch / uuid4().hex[:12]
        job = job_from_json(data, folder)  # WireError before anything is queued
        with self.cond:
            job_id = self.service.submit(job)
            self.events.setdefault(job_id, [])
            self.folders[job_id] = folder
        return job_id

    def _loop(self) -> None:
        from engine.service.events import Finished  # noqa: PLC0415

        while not self._stop.is_set():
            ev = self.service.wait(0.2)
            if ev is None:
                continue
            files: list[dict[str, Any]] = []
            if isinstance(ev, Finished):
                files = self._manifest(ev)
            try:
                data = event_to_json(ev, files)
            except WireError:
                continue
            with self.cond:
                self.events.setdefault(ev.job_id, []).append(data)
                self.cond.notify_all()

    def _manifest(self, ev: Any) -> list[dict[str, Any]]:
        out, known = [], {}
        folder = self.folders.get(ev.job_id)
        for take in ev.takes:
            root = folder / "takes" / take.id if folder else None
            if root is None or not root.is_dir():
                continue
            for p in sorted(root.rglob("*")):
                if p.is_file() and not p.is_symlink():
                    rel = p.relative_to(root).as_posix()
                    out.append({"take": take.id, "path": rel, "size": p.stat().st_size,
                                "sha256": hashlib.sha256(p.read_bytes()).hexdigest()})
                    known[(take.id, rel)] = p
        with self.cond:
            self.files[ev.job_id] = known
        return out

    def close(self) -> None:
        self._stop.set()
        self._pump.join(timeout=2)
        shutil.rmtree(self.scratch, ignore_errors=True)


def create_app(service: Any, key: bytes, scratch: Path) -> Any:
    from contextlib import asynccontextmanager  # noqa: PLC0415

    from fastapi import FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect  # noqa: PLC0415
    from fastapi.responses import FileResponse, JSONResponse  # noqa: PLC0415

    book = JobBook(service, scratch)

    @asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        yield
        book.close()

    app = FastAPI(title="SongBridge engine", version=SCHEMA, docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.book = book
    failures: dict[str, deque[float]] = defaultdict(deque)
    expected = b"Bearer " + key

    def authorised(host: str, header: str | None) -> int:
        """200, 401 or 429 for a request from ``host`` with this Authorization header."""
        now = time.monotonic()
        q = failures[host]
        while q and now - q[0] > FAIL_WINDOW_S:
            q.popleft()
        if len(q) >= FAIL_LIMIT:
            return 429
        if header is not None and hmac.compare_digest(header.encode("latin-1", "replace"), expected):
            return 200
        q.append(now)
        log.warning("refused a request from %s: %s", host, "no token" if header is None else "wrong token")
        return 401

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Any:
        code = authorised(request.client.host if request.client else "?", request.headers.get("authorization"))
        if code != 200:
            return JSONResponse({"error": "too many failed attempts; wait a minute" if code == 429 else
                                 "missing or wrong engine key"}, status_code=code,
                                headers={"WWW-Authenticate": "Bearer"} if code == 401 else None)
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
            return JSONResponse({"error": f"request body over {MAX_BODY} bytes"}, status_code=413)
        return await call_next(request)

    @app.get("/v1/status")
    def status() -> dict[str, Any]:
        jobs = service.jobs()
        return {"schema": SCHEMA, "workers": [{"id": 0, "pid": service.worker_pid,
                                               "running": [j.id for j in jobs if j.state == "running"]}],
                "queued": sum(j.state == "queued" for j in jobs)}

    @app.post("/v1/jobs", status_code=201)
    async def submit(request: Request) -> dict[str, Any]:
        body = await request.body()
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"request body over {MAX_BODY} bytes")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise HTTPException(400, "the body is not JSON") from None
        try:
            job_id = book.submit(data.get("job") if isinstance(data, dict) else None)
        except WireError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"job": job_id}

    def info(j: Any) -> dict[str, Any]:
        return {"job": j.id, "label": j.label, "state": j.state, "priority": j.priority, "step": j.step,
                "total": j.total, "error": j.error}

    @app.get("/v1/jobs")
    def jobs() -> list[dict[str, Any]]:
        return [info(j) for j in service.jobs()]

    @app.get("/v1/jobs/{job_id}")
    def job(job_id: str) -> dict[str, Any]:
        for j in service.jobs():
            if j.id == job_id:
                return info(j)
        raise HTTPException(404, f"no job {job_id}")

    @app.post("/v1/jobs/{job_id}/cancel")
    def cancel(job_id: str) -> dict[str, Any]:
        return {"job": job_id, "cancelling": bool(service.cancel(job_id))}

    @app.get("/v1/jobs/{job_id}/files/{take}/{path:path}")
    def file(job_id: str, take: str, path: str) -> Any:
        with book.cond:
            p = book.files.get(job_id, {}).get((take, path))
        if p is None:
            raise HTTPException(404, "no such file in this job's takes")
        return FileResponse(p, media_type="application/octet-stream")

    @app.websocket("/v1/jobs/{job_id}/events")
    async def events(ws: WebSocket, job_id: str) -> None:
        host = ws.client.host if ws.client else "?"
        if authorised(host, ws.headers.get("authorization")) != 200:
            await ws.close(code=1008)
            return
        await ws.accept()
        try:
            after = int(ws.query_params.get("after", "0"))
        except ValueError:
            after = 0
        sent = max(0, after)
        try:
            while True:
                with book.cond:
                    known = book.events.get(job_id)
                    batch = list(known[sent:]) if known is not None else None
                if batch is None:
                    await ws.send_json({"job": job_id, "type": "failed", "error": f"no job {job_id} on this engine"})
                    break
                for data in batch:
                    await ws.send_json(data)
                sent += len(batch)
                if batch and batch[-1]["type"] in ("finished", "failed", "cancelled"):
                    break
                await asyncio.sleep(0.02)
        except WebSocketDisconnect:
            return
        await ws.close()

    return app


def serve(service: Any, key: bytes, host: str, port: int, scratch: Path, *, certfile: str | None = None,
          keyfile: str | None = None) -> Any:
    """A uvicorn server for the app (call ``.run()``, or ``start_in_thread``)."""
    import uvicorn  # noqa: PLC0415

    config = uvicorn.Config(create_app(service, key, scratch), host=host, port=port, log_level="warning",
                            ssl_certfile=certfile, ssl_keyfile=keyfile, timeout_keep_alive=5, backlog=128,
                            limit_concurrency=256, ws_max_size=1 << 20, lifespan="on")
    return uvicorn.Server(config)
