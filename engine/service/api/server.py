"""The engine served over HTTP (FastAPI on uvicorn): JSON requests, a WebSocket of job events, take files as bytes.

Every request needs ``Authorization: Bearer KEY`` (compared in constant time; the WebSocket takes the same header).
Ten failed attempts from one address within a minute block that address for a minute (429). Bodies are capped
(``MAX_BODY``); uvicorn's timeouts drop clients that stall. Jobs run in this process's :class:`EngineService`;
their takes are written into a scratch folder per job, and ``finished`` events carry a manifest of the files
(relative path, size, sha256) that the client fetches and checks. Events are kept per job, so a client that
reconnects replays the stream from the start (``?after=N`` skips what it already has).

Endpoints (``docs/engine-api.md``): ``GET /v1/status``, ``POST /v1/jobs``, ``GET /v1/jobs``, ``GET /v1/jobs/{id}``,
``POST /v1/jobs/{id}/cancel``, ``GET /v1/jobs/{id}/files/{take}/{path}``, ``DELETE /v1/jobs/{id}/files``,
``POST /v1/uploads``, ``PUT /v1/uploads/{upload}/{path}``, ``WS /v1/jobs/{id}/events``.

A take to edit is uploaded first (its folder, file by file, each with its sha256, streamed to disk with a cap per
upload); the job that edits it names the upload, which moves into that job's folder. Uploads not used within
``KEEP_S`` and finished jobs' files not fetched within ``KEEP_S`` are deleted.
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

from .wire import SCHEMA, UPLOAD_ID, WireError, edit_uploads, event_to_json, job_from_json

log = logging.getLogger("songbridge.engine.api")
MAX_BODY = 4 << 20
MAX_UPLOAD = 4 << 30  # one take folder (a 15-minute take's stems and latents fit well under it)
MAX_UPLOADS = 32  # open uploads at once
KEEP_S = 3600.0
FAIL_WINDOW_S, FAIL_LIMIT = 60.0, 10


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
        from uuid import uuid4  # noqa: PLC0415

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
        from uuid import uuid4  # noqa: PLC0415

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
        from engine.service.events import Finished  # noqa: PLC0415

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
        cap = MAX_UPLOAD if request.method == "PUT" and request.url.path.startswith("/v1/uploads/") else MAX_BODY
        if size is not None and (not size.isdigit() or int(size) > cap):
            return JSONResponse({"error": f"request body over {cap} bytes"}, status_code=413)
        return await call_next(request)

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
        import re  # noqa: PLC0415
        from pathlib import PurePosixPath  # noqa: PLC0415

        with book.cond:
            entry = book.uploads.get(upload) if re.fullmatch(UPLOAD_ID, upload) else None
        if entry is None:
            raise HTTPException(404, f"no open upload {upload[:40]}")
        rel = PurePosixPath(path)
        if (not path or rel.is_absolute() or ".." in rel.parts or "\\" in path or "\0" in path
                or len(path) > 300 or len(rel.parts) > 4):
            raise HTTPException(422, f"upload path {path[:80]!r}: expected a plain relative path inside the take")
        want = request.headers.get("x-songbridge-sha256", "")
        if not re.fullmatch(r"[0-9a-f]{64}", want):
            raise HTTPException(422, "X-SongBridge-SHA256: expected the file's sha256 in hex")
        target = entry[0].joinpath(*rel.parts)
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
        return {"upload": upload, "path": rel.as_posix(), "size": n}

    @app.delete("/v1/jobs/{job_id}/files")
    def drop_files(job_id: str) -> dict[str, Any]:
        with book.cond:
            ended = job_id in book.ended
        if not ended:
            raise HTTPException(409, f"job {job_id} has not ended (or is unknown)")
        return {"job": job_id, "deleted": book.drop_files(job_id)}

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
