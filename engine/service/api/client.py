"""The client of the engine's network API, with the same facade as the local service (``submit``, ``cancel``,
``jobs``, ``events``/``wait``/``follow``, ``close``), used by the CLI, the app and the bridge.

Generation runs on the remote engine; to edit a take, its folder is uploaded first (each file with its size and
sha256). Rendering a take for the DAW works on the project's files, so render jobs run here, in a thread service
whose events join the remote ones.

Each job's events come over its own WebSocket on a thread; a dropped connection is retried (the server replays
what was missed, ``?after=N``) for ``reconnect_s`` before the job is reported failed. A ``finished`` event is
trusted no further than the job it answers (:mod:`.fetch`): only the takes the job asked for, each once and none
replacing a take, with valid stem names; its files are streamed to disk within size and time limits
(:class:`~.fetch.FetchLimits`), every path, size and sha256 checked, and the takes' folders appear only when all
arrived. A refused event becomes a ``Failed`` naming the engine and the take or file, and the project is left as it
was; nothing from the server is executed or deserialised beyond JSON.
"""

from __future__ import annotations

import hashlib
import json
import queue
import ssl
import threading
import time
from pathlib import Path, PurePosixPath
from typing import Any

from engine.errors import SongBridgeError
from engine.service.events import TERMINAL, EventSource, Failed, Finished, Started
from engine.service.jobs import LOCAL_JOBS, GenerateJob, JobInfo

from .auth import EngineKeyError
from .wire import WireError, event_from_json, job_to_json

UPLOAD_CHUNK = 1 << 20


class EngineApiError(SongBridgeError):
    """The remote engine refused a request or could not be reached; the message says which and why."""


def safe_target(root: Path, rel: str) -> Path:
    """``root/rel`` if ``rel`` is a plain relative path that stays inside ``root``; EngineApiError otherwise."""
    p = PurePosixPath(rel)
    if not rel or p.is_absolute() or ".." in p.parts or "//" in rel or "\\" in rel or "\0" in rel:
        raise EngineApiError(f"the engine sent a file path outside the take folder: {rel[:80]!r}")
    target = root.joinpath(*p.parts)
    if root.resolve() not in target.resolve().parents:
        raise EngineApiError(f"the engine sent a file path outside the take folder: {rel[:80]!r}")
    return target


class HttpEngine(EventSource):
    def __init__(self, url: str, key: bytes, *, cafile: str | None = None, timeout_s: float = 10.0,
                 reconnect_s: float = 30.0, limits: Any = None):
        """``limits``: a :class:`~.fetch.FetchLimits` for the takes' files (its defaults when None)."""
        import httpx

        from .fetch import FetchLimits

        self.url = url.rstrip("/")
        self.key = key
        self.reconnect_s = reconnect_s
        self.limits = limits if limits is not None else FetchLimits(connect_s=timeout_s)
        self._ssl = ssl.create_default_context(cafile=cafile) if self.url.startswith("https") else None
        self._http = httpx.Client(base_url=self.url, headers={"Authorization": "Bearer " + key.decode()},
                                  timeout=timeout_s, verify=self._ssl if self._ssl is not None else True)
        self._out: queue.Queue[Any] = queue.Queue()
        self._asked: dict[str, Any] = {}  # job id -> fetch.Asked: the takes it asked for, and where they go
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()
        self._mine: dict[str, JobInfo] = {}  # what this client submitted or attached to, as last heard
        self._local: Any = None  # renders run here, where the take's files are
        self._local_lock = threading.Lock()
        self.mode = f"remote {self.url}"
        self.status()  # a wrong key, address or certificate fails here, before anything is submitted

    def start(self) -> HttpEngine:
        return self

    def __enter__(self) -> HttpEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        if self._closed.is_set():
            raise EngineApiError(f"{method} {path}: this client of the engine at {self.url} was closed")
        try:
            r = self._http.request(method, path, **kw)
        except RuntimeError as exc:  # httpx's answer once close() ran on another thread
            raise EngineApiError(f"{method} {path}: this client of the engine at {self.url} was closed") from exc
        except httpx.ConnectError as exc:
            raise EngineApiError(f"cannot reach the engine at {self.url}: {exc}") from None
        except httpx.HTTPError as exc:
            raise EngineApiError(f"the engine at {self.url} did not answer: {exc}") from None
        if r.status_code == 401:
            raise EngineKeyError(f"the engine at {self.url} refused the key")
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail") or r.json().get("error")
            except ValueError:
                detail = r.text[:200]
            raise EngineApiError(f"the engine at {self.url} refused {method} {path}: {r.status_code} {detail}")
        return r

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/v1/status").json()

    def submit(self, job: Any) -> str:
        if isinstance(job, LOCAL_JOBS):  # renders and analyses work on the project's files, here
            job_id = self._local_service().submit(job)
            self._mine[job_id] = JobInfo(job_id, job.label or "render", "queued", job.priority)
            return job_id
        from .fetch import Asked

        requests = getattr(job, "requests", ())
        asked = Asked({r.take_id: r.out_dir for r in requests},
                      {r.take_id: r.edit.source_take if r.edit is not None else None for r in requests})
        uploads = self._upload_sources(job) if isinstance(job, GenerateJob) else {}
        body = {"job": job_to_json(job, uploads)}
        job_id = str(self._call("POST", "/v1/jobs", content=json.dumps(body)).json()["job"])
        self._mine[job_id] = JobInfo(job_id, getattr(job, "label", "") or type(job).__name__, "queued",
                                     job.priority)
        self._follow(job_id, asked)
        return job_id

    def _upload_sources(self, job: GenerateJob) -> dict[str, str]:
        """Upload the folder of every take the job edits; {take id: upload id}."""
        out: dict[str, str] = {}
        for r in job.requests:
            if r.edit is None or r.edit.source_take in out:
                continue
            src = r.out_dir.parent / r.edit.source_take
            files = sorted(p for p in src.rglob("*") if p.is_file() and not p.is_symlink()
                           and not any(part.startswith(".") for part in p.relative_to(src).parts))
            if not files:
                raise EngineApiError(f"{src}: the take to edit has no files")
            upload = str(self._call("POST", "/v1/uploads").json()["upload"])
            for path in files:
                digest = hashlib.sha256()
                with open(path, "rb") as fh:
                    while chunk := fh.read(UPLOAD_CHUNK):
                        digest.update(chunk)
                rel = path.relative_to(src).as_posix()
                with open(path, "rb") as fh:
                    self._call("PUT", f"/v1/uploads/{upload}/{rel}", content=fh,
                               headers={"X-SongBridge-SHA256": digest.hexdigest(),
                                        "Content-Length": str(path.stat().st_size)})
            out[r.edit.source_take] = upload
        return out

    def _local_service(self) -> Any:
        with self._local_lock:
            if self._local is None:
                from engine.service.local import EngineService

                self._local = EngineService("thread").start()
                t = threading.Thread(target=self._forward_local, args=(self._local,), name="engine-client-local",
                                     daemon=True)
                t.start()
                self._threads.append(t)
            return self._local

    def _forward_local(self, local: Any) -> None:
        while not self._closed.is_set():
            ev = local.wait(0.2)
            if ev is not None:
                self._note(ev)
                self._out.put(ev)

    def attach(self, job_id: str, take_dirs: dict[str, Path] | None = None) -> None:
        """Follow a job submitted earlier (by this program before a restart, or another): the server replays its
        events from the start; ``take_dirs`` names the takes it asked for and says where their files go (takes
        not named there are refused)."""
        from .fetch import Asked

        self._follow(job_id, Asked(dict(take_dirs or {})))

    def _follow(self, job_id: str, asked: Any) -> None:
        self._asked[job_id] = asked
        t = threading.Thread(target=self._follow_remote, args=(job_id,), name=f"engine-events-{job_id}",
                             daemon=True)
        t.start()
        self._threads.append(t)

    def cancel(self, job_id: str) -> bool:
        if self._local is not None and any(j.id == job_id for j in self._local.jobs()):
            return bool(self._local.cancel(job_id))
        return bool(self._call("POST", f"/v1/jobs/{job_id}/cancel").json().get("cancelling"))

    def jobs(self) -> list[JobInfo]:
        """This client's jobs with their state (the engine's answer where it can be reached, else the last
        heard), the renders running here included."""
        try:
            remote = {j.id: j for j in self.engine_jobs()}
        except EngineApiError:
            remote = {}
        local = {j.id: j for j in self._local.jobs()} if self._local is not None else {}
        return [local.get(i) or remote.get(i) or info for i, info in list(self._mine.items())]

    def engine_jobs(self) -> list[JobInfo]:
        """Every job on the engine, other clients' too (the shared queue)."""
        return [JobInfo(str(j["job"]), str(j.get("label", "")), str(j["state"]), int(j.get("priority", 0)),
                        int(j.get("step", 0)), int(j.get("total", 0)), str(j.get("error", "")), j.get("worker"))
                for j in self._call("GET", "/v1/jobs").json()]

    def workers(self) -> list[dict[str, Any]]:
        return list(self.status().get("workers", []))

    def _note(self, ev: Any) -> None:
        info = self._mine.get(ev.job_id)
        if info is None:
            return
        state = ("running" if isinstance(ev, Started) else
                 {"Finished": "finished", "Failed": "failed", "Cancelled": "cancelled"}.get(type(ev).__name__))
        step = getattr(ev, "step", info.step)
        total = getattr(ev, "total", info.total)
        self._mine[ev.job_id] = JobInfo(info.id, info.label, state or ("running" if hasattr(ev, "step") else
                                                                          info.state),
                                        info.priority, step, total, getattr(ev, "error", info.error), info.worker)

    def _follow_remote(self, job_id: str) -> None:
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        ws_url = "ws" + self.url[4:] + f"/v1/jobs/{job_id}/events"
        seen, lost_since = 0, None
        while not self._closed.is_set():
            try:
                with connect(f"{ws_url}?after={seen}", additional_headers={"Authorization": "Bearer " +
                                                                           self.key.decode()},
                             ssl=self._ssl, open_timeout=10, max_size=1 << 22) as ws:
                    lost_since = None
                    for raw in ws:
                        seen += 1
                        if self._deliver(job_id, raw):
                            return
            except (OSError, WebSocketException, TimeoutError):
                pass
            if self._closed.is_set():
                return
            lost_since = lost_since or time.monotonic()
            if time.monotonic() - lost_since > self.reconnect_s:
                lost = Failed(job_id, f"lost the engine at {self.url} for {self.reconnect_s:.0f} s; the job may "
                              f"still finish there ({job_id})")
                self._note(lost)
                self._out.put(lost)
                return
            time.sleep(0.5)

    def _deliver(self, job_id: str, raw: Any) -> bool:
        """Put one event on the queue (files first for finished ones); True when it ends the job."""
        try:
            ev, files = event_from_json(json.loads(raw))
        except (ValueError, WireError) as exc:
            failed = Failed(job_id, f"the engine at {self.url} sent a malformed event for job {job_id}: {exc}; "
                                    f"nothing was added")
            self._note(failed)
            self._out.put(failed)
            return True
        if ev.job_id != job_id:
            return False
        if isinstance(ev, Finished):
            try:
                self._fetch(job_id, ev, files)
            except (EngineApiError, OSError) as exc:
                failed = Failed(job_id, str(exc) if isinstance(exc, EngineApiError) else
                                f"fetching the takes of job {job_id} from the engine at {self.url}: {exc}; nothing "
                                f"was added")
                self._note(failed)
                self._out.put(failed)
                return True
            try:
                self._call("DELETE", f"/v1/jobs/{job_id}/files")  # fetched and checked: the engine keeps no copy
            except EngineApiError:
                pass  # it expires there on its own
        self._note(ev)
        self._out.put(ev)
        return isinstance(ev, TERMINAL)

    def _fetch(self, job_id: str, ev: Any, files: list[dict[str, Any]]) -> None:
        """Check the takes and files of a finished event against what the job asked for, then fetch them."""
        from .fetch import Asked, check_finished, fetch_takes

        where = f"the engine at {self.url}"
        asked = self._asked.get(job_id, Asked({}))
        plan = check_finished(where, job_id, ev.takes, files, asked, self.limits)
        if self._closed.is_set():
            raise EngineApiError(f"job {job_id}: this client of the engine at {self.url} was closed")
        fetch_takes(self.url, self.key, self._ssl, job_id, plan, asked, self.limits, where)

    def close(self) -> None:
        self._closed.set()
        self._http.close()
        if self._local is not None:
            self._local.close()
