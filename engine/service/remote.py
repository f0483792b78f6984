"""The remote engine: the service on a GPU machine, used from a laptop over an authenticated connection.

``RemoteEngineServer`` listens with ``multiprocessing.connection`` (HMAC challenge with a shared key before any
message is read; 127.0.0.1 unless told otherwise) and runs jobs in its own :class:`EngineService`. Takes are
rendered into a scratch folder on the server and their files are streamed back; ``RemoteEngine`` (the client, the
same facade as the local service) writes them into the client's project folder, atomically, before it reports
``Finished``. A client with a wrong key is refused and logged; the server keeps serving. Rendering a take (to land
it in the DAW) works on the take's files, which are on the client: ``RemoteEngine`` runs those jobs in a local
thread service and merges their events with the remote ones.

Messages are tuples: client -> server ``("submit", token, job)``, ``("upload", token, relpath, bytes)``,
``("cancel", job_id)``, ``("bye",)``; server -> client ``("submitted", token, job_id)``, ``("event", event)``,
``("file", job_id, take_id, relpath, bytes)``, ``("error", token, message)``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import shutil
import tempfile
import threading
import uuid
from multiprocessing.connection import AuthenticationError, Client, Connection, Listener
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError

from .events import TERMINAL, Event, EventSource, Failed, Finished
from .jobs import GenerateJob, Job, JobInfo, RenderJob, SleepJob
from .local import EngineService

log = logging.getLogger("songbridge.engine.remote")
KEY_ENV = "SONGBRIDGE_ENGINE_KEY"
CHUNK = 4 << 20


class EngineKeyError(SongBridgeError):
    """No key, or the engine refused it."""


def read_key(key_file: str | None = None) -> bytes:
    """The shared key from ``--key-file`` or ``SONGBRIDGE_ENGINE_KEY``."""
    if key_file:
        try:
            key = Path(key_file).read_bytes().strip()
        except OSError as exc:
            raise EngineKeyError(f"{key_file}: cannot read the engine key: {exc.strerror}") from None
    else:
        key = os.environ.get(KEY_ENV, "").strip().encode()
    if len(key) < 16:
        raise EngineKeyError(f"the engine needs a shared key of at least 16 characters: set {KEY_ENV} or pass "
                             "--key-file")
    return key


def parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise SongBridgeError(f"engine address must be HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


class RemoteEngineServer:
    def __init__(self, address: tuple[str, int], key: bytes, service: EngineService | None = None,
                 workdir: Path | None = None):
        self.listener = Listener(address, authkey=key)
        self.address = self.listener.address
        self.service = service or EngineService("process")
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="songbridge-engine-"))
        self._owners: dict[str, tuple[Connection, threading.Lock, Path]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.refused = 0

    def start(self) -> RemoteEngineServer:
        self.service.start()
        threading.Thread(target=self._accept_loop, name="engine-accept", daemon=True).start()
        threading.Thread(target=self._event_loop, name="engine-events", daemon=True).start()
        return self

    def close(self) -> None:
        self._stop.set()
        try:
            self.listener.close()
        except OSError:
            pass
        self.service.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn = self.listener.accept()
            except AuthenticationError:
                self.refused += 1
                log.warning("refused a client with a wrong engine key")
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            threading.Thread(target=self._serve, args=(conn,), name="engine-client", daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        client_dir = self.workdir / uuid.uuid4().hex[:8]
        send_lock = threading.Lock()
        try:
            while not self._stop.is_set():
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    return
                kind = msg[0]
                if kind == "bye":
                    return
                if kind == "upload":
                    _, token, rel, data = msg
                    target = (client_dir / rel).resolve()
                    if client_dir.resolve() not in target.parents:
                        with send_lock:
                            conn.send(("error", token, f"refused upload path {rel!r}"))
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with open(target, "ab") as fh:
                        fh.write(data)
                elif kind == "submit":
                    _, token, job = msg
                    try:
                        job = self._localise(job, client_dir)
                        job_id = self.service.submit(job)
                    except Exception as exc:  # noqa: BLE001 - tell the client, keep serving
                        with send_lock:
                            conn.send(("error", token, str(exc)))
                        continue
                    with self._lock:
                        self._owners[job_id] = (conn, send_lock, client_dir)
                    with send_lock:
                        conn.send(("submitted", token, job_id))
                elif kind == "cancel":
                    self.service.cancel(msg[1])
        finally:
            conn.close()

    @staticmethod
    def _localise(job: Job, client_dir: Path) -> Job:
        """Point the job's take folders at this server's scratch copy of the client's project."""
        if isinstance(job, SleepJob):
            return job
        if not isinstance(job, GenerateJob):
            raise SongBridgeError(f"{type(job).__name__} jobs run where the project is; this engine runs generation")
        reqs = tuple(dataclasses.replace(r, out_dir=client_dir / "takes" / r.take_id) for r in job.requests)
        return dataclasses.replace(job, requests=reqs)

    def _event_loop(self) -> None:
        while not self._stop.is_set():
            ev = self.service.wait(0.2)
            if ev is None:
                continue
            with self._lock:
                owner = self._owners.get(ev.job_id)
            if owner is None:
                continue
            conn, send_lock, client_dir = owner
            try:
                with send_lock:
                    if isinstance(ev, Finished):
                        for take in ev.takes:
                            folder = client_dir / "takes" / take.id
                            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                                rel = str(path.relative_to(folder))
                                with open(path, "rb") as fh:
                                    while data := fh.read(CHUNK):
                                        conn.send(("file", ev.job_id, take.id, rel, data))
                            shutil.rmtree(folder, ignore_errors=True)
                    conn.send(("event", ev))
            except (OSError, EOFError, BrokenPipeError):
                log.warning("client went away before job %s was delivered", ev.job_id)
            if isinstance(ev, TERMINAL):
                with self._lock:
                    self._owners.pop(ev.job_id, None)


class RemoteEngine(EventSource):
    """Client: the :class:`EngineService` facade for an engine on another machine."""

    def __init__(self, address: str, key: bytes, timeout_s: float = 10.0):
        self.address = parse_address(address)
        try:
            self.conn = Client(self.address, authkey=key)
        except AuthenticationError:
            raise EngineKeyError(f"the engine at {address} refused the key") from None
        except (ConnectionRefusedError, OSError) as exc:
            raise SongBridgeError(f"no engine listening at {address} ({exc.strerror or exc})") from None
        self.timeout_s = timeout_s
        self._send = threading.Lock()
        self._replies: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._out: queue.Queue[Event] = queue.Queue()
        self._dest: dict[str, dict[str, Path]] = {}  # job id -> take id -> local take folder
        self._info: dict[str, JobInfo] = {}
        self._closed = threading.Event()
        self._local: EngineService | None = None  # renders run here, where the take's files are
        self._local_lock = threading.Lock()
        threading.Thread(target=self._reader, name="engine-client-reader", daemon=True).start()

    def start(self) -> RemoteEngine:
        return self

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            try:
                with self._send:
                    self.conn.send(("bye",))
            except OSError:
                pass
            self.conn.close()
            if self._local is not None:
                self._local.close()

    def _local_service(self) -> EngineService:
        """A service on this machine for the jobs that work on the project's files (rendering a take to land it);
        its events join the remote engine's."""
        with self._local_lock:
            if self._local is None:
                self._local = EngineService("thread").start()
                threading.Thread(target=self._forward_local, args=(self._local,), name="engine-client-local",
                                 daemon=True).start()
            return self._local

    def _forward_local(self, local: EngineService) -> None:
        while not self._closed.is_set():
            ev = local.wait(0.2)
            if ev is not None:
                self._out.put(ev)

    def submit(self, job: Job) -> str:
        if isinstance(job, RenderJob):
            job_id = self._local_service().submit(job)
            self._info[job_id] = JobInfo(job_id, getattr(job, "label", ""), "queued", job.priority)
            return job_id
        token = uuid.uuid4().hex
        dest: dict[str, Path] = {}
        if isinstance(job, GenerateJob):
            dest = {r.take_id: r.out_dir for r in job.requests}
            edit = job.requests[0].edit if job.requests else None
            if edit is not None:  # the server needs the source take to edit it
                src = job.requests[0].out_dir.parent / edit.source_take
                for path in sorted(p for p in src.rglob("*") if p.is_file()):
                    rel = f"takes/{edit.source_take}/{path.relative_to(src)}"
                    with open(path, "rb") as fh:
                        while data := fh.read(CHUNK):
                            with self._send:
                                self.conn.send(("upload", token, rel, data))
        with self._send:
            self.conn.send(("submit", token, job))
        try:
            reply = self._replies.get(timeout=self.timeout_s)
        except queue.Empty:
            raise SongBridgeError(f"the engine at {self.address[0]}:{self.address[1]} did not answer") from None
        if reply[0] == "error":
            raise SongBridgeError(f"the engine refused the job: {reply[2]}")
        job_id = reply[2]
        self._dest[job_id] = dest
        self._info[job_id] = JobInfo(job_id, getattr(job, "label", ""), "queued", job.priority)
        return job_id

    def cancel(self, job_id: str) -> bool:
        if self._local is not None and any(j.id == job_id for j in self._local.jobs()):
            return self._local.cancel(job_id)
        with self._send:
            self.conn.send(("cancel", job_id))
        return True

    def jobs(self) -> list[JobInfo]:
        local = {j.id: j for j in self._local.jobs()} if self._local is not None else {}
        return [local.get(job_id, info) for job_id, info in self._info.items()]

    def _staging(self, job_id: str, take_id: str) -> Path:
        final = self._dest[job_id][take_id]
        return final.with_name(f".{final.name}.remote-partial")

    def _reader(self) -> None:
        while not self._closed.is_set():
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                if not self._closed.is_set():
                    for job_id, info in self._info.items():
                        if info.state in ("queued", "running"):
                            self._out.put(Failed(job_id, "lost the connection to the remote engine"))
                return
            kind = msg[0]
            if kind in ("submitted", "error"):
                self._replies.put(msg)
            elif kind == "file":
                _, job_id, take_id, rel, data = msg
                target = self._staging(job_id, take_id) / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "ab") as fh:
                    fh.write(data)
            elif kind == "event":
                ev = msg[1]
                if isinstance(ev, Finished):
                    takes = []
                    for take in ev.takes:
                        staging, final = self._staging(ev.job_id, take.id), self._dest[ev.job_id][take.id]
                        final.parent.mkdir(parents=True, exist_ok=True)
                        staging.rename(final)
                        takes.append(take)
                    ev = Finished(ev.job_id, tuple(takes), ev.render)
                state = {"Finished": "finished", "Failed": "failed", "Cancelled": "cancelled",
                         "Started": "running"}.get(type(ev).__name__)
                if state and ev.job_id in self._info:
                    old = self._info[ev.job_id]
                    self._info[ev.job_id] = dataclasses.replace(old, state=state)
                self._out.put(ev)
