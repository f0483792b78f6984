"""The engine served over HTTP (FastAPI on uvicorn): JSON requests, a WebSocket of job events, take files as bytes.

Every request needs ``Authorization: Bearer KEY`` (compared in constant time, before anything else; the WebSocket
takes the same header): ``guard.Guard``. A right key always passes; ten failures with one wrong credential within a
minute get that credential ``429`` for the rest of the minute (``auth.FailureBook``, bounded). Bodies are capped as
they stream in (``MAX_BODY``; ``MAX_UPLOAD`` per upload). Every error is a JSON answer ``{"detail": ...}``. The
server closes silent and half-sent connections and caps connections per address and in all, closing the oldest
one that has not shown the key to make room (``connections``); at most ``MAX_STREAMS`` event streams are open at
once, and a stream ends as soon as its client leaves. ``sleep`` jobs are refused unless the engine's environment
turns them on for tests (``wire.TEST_JOBS_ENV``).

Jobs run in this process's :class:`EngineService`; their takes are written into a scratch folder per job, and
``finished`` events carry a manifest of the files (relative path, size, sha256) that the client fetches and checks.
Events are kept per job, so a client that reconnects replays the stream from the start (``?after=N`` skips what
it already has).

Endpoints (``docs/engine-api.md``): ``GET /v1/status``, ``POST /v1/jobs``, ``GET /v1/jobs``, ``GET /v1/jobs/{id}``,
``POST /v1/jobs/{id}/cancel``, ``GET /v1/jobs/{id}/files/{take}/{path}``, ``DELETE /v1/jobs/{id}/files``,
``POST /v1/uploads``, ``PUT /v1/uploads/{upload}/{path}``, ``WS /v1/jobs/{id}/events``.

A take to edit is uploaded first (its folder, file by file, each with its sha256, streamed to disk with a cap per
upload); the job that edits it names the upload, which moves into that job's folder. Uploads not used within
``KEEP_S`` and finished jobs' files not fetched within ``KEEP_S`` are deleted.
"""

# no ``from __future__ import annotations``: FastAPI reads the endpoints' annotations (imported inside create_app)
import asyncio
import hashlib
import json
import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from .wire import SCHEMA, UPLOAD_ID, WireError, edit_uploads, event_to_json, job_from_json

log = logging.getLogger("songbridge.engine.api")
MAX_BODY = 4 << 20
MAX_UPLOAD = 4 << 30  # one take folder (a 15-minute take's stems and latents fit well under it)
MAX_UPLOADS = 32  # open uploads at once
KEEP_S = 3600.0
FAIL_WINDOW_S, FAIL_LIMIT = 60.0, 10
MAX_STREAMS = 64  # event streams open at once (all carry the one key)
STREAM_POLL_S = 0.05


class JobBook:
    """What the server remembers of each job: its events (as JSON), its files, and who waits for them."""

    def __init__(self, service: Any, scratch: Path):
        self.service, self.scratch = service, scratch
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.files: dict[str, dict[tuple[str, str], Path]] = {}
        self.folders: dict[str, Path] = {}
        self.take_dirs: dict[str, dict[str, Path]] = {}  # job -> take id -> the folder its backend writes
        self.uploads: dict[str, tuple[Path, float]] = {}  # id -> (folder, created)
        self.upload_bytes: dict[str, int] = {}
        self.ended: dict[str, float] = {}  # job -> when it finished (its files expire KEEP_S later)
        self.cond = threading.Condition()
        self._stop = threading.Event()
        self._pump = threading.Thread(target=self._loop, name="engine-api-events", daemon=True)
        self._pump.start()

    def submit(self, data: Any) -> str:
        from uuid import uuid4

        folder = self.scratch / uuid4().hex[:12]
        job = job_from_json(data, folder)  # WireError before anything is queued
        needed = edit_uploads(data)
        with self.cond:
            missing = [u for u in needed.values() if u not in self.uploads]
            if missing:
                raise WireError(f"job.requests: upload {missing[0]} is unknown here (expired or already used)")
            for source, upload in needed.items():
                src = self.uploads[upload][0]
                (folder / "takes").mkdir(parents=True, exist_ok=True)
                src.replace(folder / "takes" / source)
                del self.uploads[upload]
                self.upload_bytes.pop(upload, None)
            job_id = self.service.submit(job)
            self.events.setdefault(job_id, [])
            self.folders[job_id] = folder
            self.take_dirs[job_id] = {r.take_id: r.out_dir for r in getattr(job, "requests", ())}
        return job_id

    def new_upload(self) -> str:
        from uuid import uuid4

        self.expire()
        with self.cond:
            if len(self.uploads) >= MAX_UPLOADS:
                raise WireError(f"{MAX_UPLOADS} uploads are open already; submit or wait for them to expire")
            upload = uuid4().hex
            folder = self.scratch / "uploads" / upload
            folder.mkdir(parents=True)
            self.uploads[upload] = (folder, time.monotonic())
            self.upload_bytes[upload] = 0
        return upload

    def drop_files(self, job_id: str) -> bool:
        with self.cond:
            folder = self.folders.pop(job_id, None)
            self.files.pop(job_id, None)
        if folder is None:
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True

    def expire(self) -> None:
        """Delete uploads nobody used and finished jobs' files nobody fetched, KEEP_S after."""
        now = time.monotonic()
        with self.cond:
            stale = [u for u, (_, t) in self.uploads.items() if now - t > KEEP_S]
            for u in stale:
                shutil.rmtree(self.uploads.pop(u)[0], ignore_errors=True)
                self.upload_bytes.pop(u, None)
            old = [j for j, t in self.ended.items() if now - t > KEEP_S]
            for j in old:
                del self.ended[j]
        for j in old:
            self.drop_files(j)

    def _loop(self) -> None:
        from engine.service.events import Finished

        last_sweep = time.monotonic()
        while not self._stop.is_set():
            ev = self.service.wait(0.2)
            if time.monotonic() - last_sweep > 60:
                last_sweep = time.monotonic()
                self.expire()
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
                if data["type"] in ("finished", "failed", "cancelled"):
                    self.ended[ev.job_id] = time.monotonic()
                self.cond.notify_all()
            if data["type"] in ("failed", "cancelled"):
                self.take_dirs.pop(ev.job_id, None)
                self.drop_files(ev.job_id)  # nothing to fetch

    def _manifest(self, ev: Any) -> list[dict[str, Any]]:
        out, known = [], {}
        with self.cond:
            dirs = self.take_dirs.pop(ev.job_id, {})
        for take in ev.takes:
            root = dirs.get(take.id)
            if root is None or not root.is_dir():
                log.warning("job %s: no folder for take %s", ev.job_id, take.id)
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


def _body_cap(method: str, path: str) -> int:
    return MAX_UPLOAD if method == "PUT" and path.startswith("/v1/uploads/") else MAX_BODY


def upload_path(path: str) -> tuple[str, ...]:
    """The parts of a file's path inside an uploaded take folder; WireError unless it is plain and relative
    (names not starting with a dot, no empty parts, no control characters or backslashes)."""
    parts = tuple(path.split("/"))
    if not path or len(path) > 300 or len(parts) > 4 or any(
            not p or p.startswith(".") or "\\" in p or any(ord(c) < 32 or ord(c) == 127 for c in p) for p in parts):
        raise WireError(f"upload path {path[:80]!r}: expected a plain relative path inside the take (at most 4 "
                        "parts, none empty or starting with a dot)")
    return parts


def create_app(service: Any, key: bytes, scratch: Path, *, on_authorised: Any = None) -> Any:
    """The FastAPI app; ``on_authorised(client)`` hears of each HTTP request that showed the key (the connection
    table of :func:`serve` keeps those connections)."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
    from fastapi.responses import FileResponse

    from .auth import FailureBook
    from .guard import Guard, deny_websocket

    book = JobBook(service, scratch)

    @asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        yield
        book.close()

    app = FastAPI(title="SongBridge engine", version=SCHEMA, docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.book = book
    app.state.failures = FailureBook(FAIL_LIMIT, FAIL_WINDOW_S)
    app.state.streams = 0
    app.add_middleware(Guard, key=key, cap=_body_cap, book=app.state.failures, on_authorised=on_authorised)

    @app.get("/v1/status")
    def status() -> dict[str, Any]:
        jobs = service.jobs()
        if hasattr(service, "workers"):
            workers = service.workers()
        else:
            workers = [{"id": 0, "device": None, "pid": service.worker_pid, "restarts": 0, "broken": "",
                        "running": next((j.id for j in jobs if j.state == "running"), None), "label": ""}]
        return {"schema": SCHEMA, "workers": workers, "queued": sum(j.state == "queued" for j in jobs),
                "running": sum(j.state == "running" for j in jobs)}

    @app.post("/v1/uploads", status_code=201)
    def new_upload() -> dict[str, Any]:
        try:
            return {"upload": book.new_upload()}
        except WireError as exc:
            raise HTTPException(429, str(exc)) from None

    @app.put("/v1/uploads/{upload}/{path:path}", status_code=201)
    async def put_file(upload: str, path: str, request: Request) -> dict[str, Any]:
        import re

        with book.cond:
            entry = book.uploads.get(upload) if re.fullmatch(UPLOAD_ID, upload) else None
        if entry is None:
            raise HTTPException(404, f"no open upload {upload[:40]}")
        try:
            parts = upload_path(path)
        except WireError as exc:
            raise HTTPException(422, str(exc)) from None
        want = request.headers.get("x-songbridge-sha256", "")
        if not re.fullmatch(r"[0-9a-f]{64}", want):
            raise HTTPException(422, "X-SongBridge-SHA256: expected the file's sha256 in hex")
        target = entry[0].joinpath(*parts)
        if any(p.exists() and not p.is_dir() for p in target.parents[: len(parts) - 1]) or target.is_dir():
            raise HTTPException(409, f"{path}: another file or folder of this upload is in the way")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.part")
        digest, n = hashlib.sha256(), 0
        try:
            with open(tmp, "wb") as fh:
                async for chunk in request.stream():
                    n += len(chunk)
                    with book.cond:
                        total = book.upload_bytes.get(upload, 0) + len(chunk)
                        book.upload_bytes[upload] = total
                    if total > MAX_UPLOAD:
                        raise HTTPException(413, f"upload over {MAX_UPLOAD} bytes")
                    digest.update(chunk)
                    fh.write(chunk)
            if digest.hexdigest() != want:
                raise HTTPException(422, f"{path}: the bytes do not match X-SongBridge-SHA256")
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
        return {"upload": upload, "path": "/".join(parts), "size": n}

    @app.delete("/v1/jobs/{job_id}/files")
    def drop_files(job_id: str) -> dict[str, Any]:
        with book.cond:
            ended = job_id in book.ended
        if not ended:
            raise HTTPException(409, f"job {job_id} has not ended (or is unknown)")
        return {"job": job_id, "deleted": book.drop_files(job_id)}

    @app.post("/v1/jobs", status_code=201)
    async def submit(request: Request) -> dict[str, Any]:
        body = await request.body()  # the guard cuts it off at MAX_BODY as it streams in
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
                "total": j.total, "error": j.error, "worker": getattr(j, "worker", None)}

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
        """The job's events from the ``after``-th on; ends after the last one, or as soon as the client leaves."""
        if app.state.streams >= MAX_STREAMS:
            await deny_websocket(ws.scope, ws.send, 429, f"{MAX_STREAMS} event streams are open already; close one "
                                 "or wait")
            return
        app.state.streams += 1
        leaving: asyncio.Task[Any] | None = None
        try:
            await ws.accept()
            after = ws.query_params.get("after", "0")
            sent = int(after) if after.isdigit() and len(after) < 19 else 0
            leaving = asyncio.ensure_future(ws.receive())
            while True:
                with book.cond:
                    known = book.events.get(job_id)
                    batch = list(known[sent:]) if known is not None else None
                    ended = bool(known) and known[-1]["type"] in ("finished", "failed", "cancelled")
                if batch is None:
                    await ws.send_json({"job": job_id, "type": "failed", "error": f"no job {job_id} on this engine"})
                    break
                for data in batch:
                    await ws.send_json(data)
                sent += len(batch)
                if ended:  # everything sent, or the client asked to start past the end
                    break
                await asyncio.wait({leaving}, timeout=STREAM_POLL_S)
                if leaving.done():
                    if leaving.result().get("type") == "websocket.disconnect":
                        return
                    leaving = asyncio.ensure_future(ws.receive())  # a client's message means nothing here
            await ws.close()
        except (WebSocketDisconnect, OSError, RuntimeError):
            return  # the client left while we wrote
        finally:
            app.state.streams -= 1
            if leaving is not None and not leaving.done():
                leaving.cancel()

    return app


def serve(service: Any, key: bytes, host: str, port: int, scratch: Path, *, certfile: str | None = None,
          keyfile: str | None = None, limits: Any = None) -> Any:
    """A uvicorn server for the app (call ``.run()``, or ``start_in_thread``); ``limits``: a
    ``connections.Limits`` (the defaults where None), its caps lowered to fit the open-file limit."""
    import uvicorn

    from .connections import ConnectionTable, Limits, protocol_class

    limits = limits or Limits()
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        room = limits.most if soft == resource.RLIM_INFINITY else max(16, soft - 128 - MAX_STREAMS)  # files, pipes
    except ImportError:  # pragma: no cover - Windows
        room = limits.most
    if limits.most > room:
        log.warning("the open-file limit allows %d connections, not %d (raise `ulimit -n`)", room, limits.most)
        limits = Limits(limits.header_s, limits.idle_s, room, min(limits.most_per_peer, room))
    table = ConnectionTable(limits)
    config = uvicorn.Config(create_app(service, key, scratch, on_authorised=table.authorise), host=host, port=port,
                            log_level="warning", ssl_certfile=certfile, ssl_keyfile=keyfile,
                            http=protocol_class(table), timeout_keep_alive=limits.idle_s,  # type: ignore[arg-type]
                            backlog=1024, limit_concurrency=None, ws_max_size=1 << 20, lifespan="on",
                            timeout_graceful_shutdown=10, proxy_headers=False)  # no X-Forwarded-For: no proxy
    server = uvicorn.Server(config)
    server.connections = table  # type: ignore[attr-defined]
    return server
