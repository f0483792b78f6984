"""The engine as a Ray Serve application, for a studio with more GPUs than one machine holds
(``pip install ".[cluster]"``).

The same HTTP/WebSocket API (``server.create_app``) runs in one ingress replica; behind it, one ``EngineReplica``
per GPU (``num_gpus=1`` each; Ray places them on the cluster's machines and restarts one that dies), each running
the worker loop in its own process so its models stay loaded between jobs. The ingress keeps the one priority queue
(``RayEngine``, the service facade the API already speaks to) and sends a job to a replica only when one is free,
so a section asked for from the DAW still jumps a batch. Between ingress and replicas travel JSON jobs and events
(the wire schema) and file bytes with their sha256, never Python objects of ours; what Ray itself sends between the
nodes of a cluster is Ray's business, so the cluster's own network must be trusted (Ray's security guide). Cancel
cancels the replica's request (Serve raises CancelledError in it) and the worker stops at its next step.

``songbridge serve --engine --ray ADDRESS`` deploys it (``local`` starts a one-machine Ray; ``auto`` joins the
cluster ``ray start`` made); ``serve run engine.service.api.cluster:app_builder replicas=4`` works too.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import queue
import shutil
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from engine.service.events import (
    TERMINAL,
    Cancelled,
    EventSource,
    Failed,
    Finished,
    Progress,
    Queued,
    Started,
)
from engine.service.job_queue import JobQueue
from engine.service.jobs import GenerateJob, JobInfo

from .wire import WireError, event_from_json, event_to_json, job_from_json, job_to_json

log = logging.getLogger("songbridge.engine.cluster")
APP_NAME = "songbridge-engine"
REPLICA = "EngineReplica"
_PLACEHOLDER_UPLOAD = "0" * 32  # the replica gets the source files with the job, not through an upload


def _take_files(root: Path) -> list[tuple[str, Path]]:
    return [(p.relative_to(root).as_posix(), p) for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()]


class EngineReplica:
    """One worker on one GPU (deployed with ``num_gpus=1``, ``max_ongoing_requests=1``)."""

    def __init__(self, idle_release_s: float = 300.0):
        from engine.service.local import EngineService

        self.service = EngineService("thread", idle_release_s).start()
        self.scratch = Path(tempfile.mkdtemp(prefix="songbridge-replica-"))
        self.where = {"pid": os.getpid(), "device": os.environ.get("CUDA_VISIBLE_DEVICES") or None,
                      "node": _node_ip()}

    def describe(self) -> dict[str, Any]:
        return dict(self.where)

    async def run(self, job: dict[str, Any], sources: dict[str, list[tuple[str, str, bytes]]]) -> AsyncIterator[Any]:
        """Run one job; yields {"replica": ...}, then event JSON and {"file": ..., "data": bytes} chunks (a finished
        take's files come before its finished event)."""
        from engine.service.api.client import safe_target

        folder = self.scratch / uuid.uuid4().hex[:12]
        try:
            for source, files in sources.items():
                root = folder / "takes" / source
                root.mkdir(parents=True, exist_ok=True)
                for rel, sha, data in files:
                    if hashlib.sha256(data).hexdigest() != sha:
                        yield {"job": "?", "type": "failed", "error": f"{source}/{rel}: damaged on the way"}
                        return
                    target = safe_target(root, rel)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
            parsed = job_from_json(job, folder)
            dirs = {r.take_id: r.out_dir for r in getattr(parsed, "requests", ())}
            job_id = self.service.submit(parsed)
            yield {"replica": self.where}
            try:
                while True:
                    ev = await asyncio.to_thread(self.service.wait, 0.2)
                    if ev is None or ev.job_id != job_id or isinstance(ev, Queued):
                        continue
                    manifest = []
                    if isinstance(ev, Finished):
                        for take in ev.takes:
                            for rel, p in _take_files(dirs.get(take.id, folder / "none")):
                                data = p.read_bytes()
                                entry = {"take": take.id, "path": rel, "size": len(data),
                                         "sha256": hashlib.sha256(data).hexdigest()}
                                manifest.append(entry)
                                yield {"file": entry, "data": data}
                    yield event_to_json(ev, manifest)
                    if isinstance(ev, TERMINAL):
                        return
            except (asyncio.CancelledError, GeneratorExit):
                self.service.cancel(job_id)  # the worker stops at its next step, before the next job runs
                raise
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _node_ip() -> str | None:
    try:
        import ray

        return str(ray.util.get_node_ip_address())
    except Exception:  # noqa: BLE001 - only for the status display
        return None


class RayEngine(EventSource):
    """The service facade over the replicas: one priority queue here, at most ``capacity`` jobs out at once."""

    def __init__(self, handle: Any, capacity: int):
        self.handle, self.capacity = handle, max(1, capacity)
        self._queue = JobQueue()
        self._lock = self._queue.lock
        self._running: dict[str, Any] = {}  # job id -> the replica's response generator (None until it starts)
        self._where: dict[str, dict[str, Any]] = {}
        self._cancelled: set[str] = set()
        self._out: queue.Queue[Any] = queue.Queue()
        self.mode = "ray"

    def start(self) -> RayEngine:
        return self

    def close(self) -> None:
        with self._lock:
            for job_id in list(self._running):
                self.cancel(job_id)

    @property
    def worker_pid(self) -> int | None:
        return None

    def submit(self, job: Any) -> str:
        from engine.service.local import estimate

        est_s, est_b = estimate(job)
        with self._lock:
            job_id, queued = self._queue.add(job, est_s, est_b)
        self._out.put(queued)
        self._dispatch()
        return job_id

    def cancel(self, job_id: str) -> bool:
        with self._lock:
            if self._queue.state(job_id) not in ("queued", "running"):
                return False
            cancelled = self._queue.cancel_waiting(job_id)
            if cancelled is not None:
                self._out.put(cancelled)
                return True
            self._cancelled.add(job_id)
            gen = self._running.get(job_id)
        if gen is not None:
            gen.cancel()
        return True

    def jobs(self) -> list[JobInfo]:
        with self._lock:
            return self._queue.infos()

    def workers(self) -> list[dict[str, Any]]:
        """The replicas running a job now (pid, GPU, node) and the free places, ``capacity`` in all."""
        with self._lock:
            out = []
            for i, job_id in enumerate(self._running):
                w = self._where.get(job_id, {})
                out.append({"id": i, "device": w.get("device"), "pid": w.get("pid"), "node": w.get("node"),
                            "running": job_id, "label": self._queue.label(job_id), "restarts": 0, "broken": ""})
            for i in range(len(out), self.capacity):
                out.append({"id": i, "device": None, "pid": None, "node": None, "running": None, "label": "",
                            "restarts": 0, "broken": ""})
            return out

    def _dispatch(self) -> None:
        with self._lock:
            while self._queue.has_waiting() and len(self._running) < self.capacity:
                job_id, job = self._queue.next(len(self._running))
                self._running[job_id] = None
                threading.Thread(target=self._run, args=(job_id, job), daemon=True,
                                 name=f"ray-job-{job_id}").start()

    def _payload(self, job: Any) -> tuple[dict[str, Any], dict[str, list[tuple[str, str, bytes]]]]:
        sources: dict[str, list[tuple[str, str, bytes]]] = {}
        if isinstance(job, GenerateJob):
            for r in job.requests:
                if r.edit is not None and r.edit.source_take not in sources:
                    root = r.out_dir.parent / r.edit.source_take
                    files = []
                    for rel, p in _take_files(root):
                        data = p.read_bytes()
                        files.append((rel, hashlib.sha256(data).hexdigest(), data))
                    sources[r.edit.source_take] = files
        return job_to_json(job, dict.fromkeys(sources, _PLACEHOLDER_UPLOAD)), sources

    def _run(self, job_id: str, job: Any) -> None:
        from engine.service.api.client import safe_target

        dirs = {r.take_id: r.out_dir for r in getattr(job, "requests", ())}
        end: Any = None
        try:
            data, sources = self._payload(job)
            gen = self.handle.options(stream=True).run.remote(data, sources)
            with self._lock:
                self._running[job_id] = gen
                cancel_now = job_id in self._cancelled
            if cancel_now:
                gen.cancel()
            for chunk in gen:
                if "replica" in chunk:
                    with self._lock:
                        self._where[job_id] = dict(chunk["replica"])
                    continue
                if "file" in chunk:
                    f, payload = chunk["file"], chunk["data"]
                    if hashlib.sha256(payload).hexdigest() != f["sha256"] or f["take"] not in dirs:
                        raise WireError(f"{f['take']}/{f['path']}: damaged on the way from the replica")
                    target = safe_target(dirs[f["take"]], f["path"])
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(payload)
                    continue
                ev, _ = event_from_json({**chunk, "job": job_id})
                if isinstance(ev, Progress):
                    with self._lock:
                        self._queue.set(job_id, "running", step=ev.step, total=ev.total)
                if isinstance(ev, TERMINAL):
                    end = ev
                    break
                if isinstance(ev, Started | Progress):
                    self._out.put(ev)
        except Exception as exc:  # noqa: BLE001 - a replica that dies or a broken message fails this job only
            with self._lock:
                cancelled = job_id in self._cancelled
            if cancelled:
                end = Cancelled(job_id)
            else:
                log.warning("job %s on Ray: %s", job_id, exc)
                end = Failed(job_id, f"the engine replica failed while running this job: {_short(exc)}", repr(exc))
        if end is None:
            end = Failed(job_id, "the engine replica stopped without an answer")
        with self._lock:
            self._queue.end(end)
            self._running.pop(job_id, None)
            self._where.pop(job_id, None)
            self._cancelled.discard(job_id)
        self._out.put(end)
        self._dispatch()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def replica_options(gpus_per_replica: float, replicas: int, env: dict[str, str]) -> dict[str, Any]:
    return {"num_replicas": replicas, "max_ongoing_requests": 1, "graceful_shutdown_timeout_s": 10,
            "ray_actor_options": {"num_gpus": gpus_per_replica, "num_cpus": 0, "runtime_env": {"env_vars": env}}}


def build(key: bytes, replicas: int, gpus_per_replica: float = 1.0, env: dict[str, str] | None = None) -> Any:
    """The Serve application: the API ingress and ``replicas`` engine replicas."""
    from ray import serve

    env = dict(env if env is not None else {k: v for k, v in os.environ.items()
                                            if k.startswith("SONGBRIDGE_") and k != "SONGBRIDGE_ENGINE_KEY"})
    replica = serve.deployment(EngineReplica, name=REPLICA, **replica_options(gpus_per_replica, replicas, env))

    def asgi_app() -> Any:
        from engine.service.api.server import create_app

        handle = serve.get_deployment_handle(REPLICA, app_name=APP_NAME)
        scratch = Path(tempfile.mkdtemp(prefix="songbridge-ingress-"))
        return create_app(RayEngine(handle, replicas), key, scratch)

    class Ingress:
        def __init__(self, replica_handle: Any):
            self.replica_handle = replica_handle  # keeps the replicas part of this application

    ingress = serve.deployment(serve.ingress(asgi_app)(Ingress), name="EngineIngress", num_replicas=1,
                               ray_actor_options={"num_cpus": 0, "runtime_env": {"env_vars": env}})
    return ingress.bind(replica.bind())


def app_builder(args: dict[str, str]) -> Any:
    """For ``serve run engine.service.api.cluster:app_builder replicas=N [gpus_per_replica=1] [key_file=F]``."""
    from .auth import read_key

    return build(read_key(args.get("key_file")), int(args.get("replicas", "1")),
                 float(args.get("gpus_per_replica", "1")))


def deploy(key: bytes, host: str, port: int, replicas: int, gpus_per_replica: float = 1.0) -> None:
    """Start Serve's HTTP proxy on host:port and run the application (Ray must be initialised)."""
    from ray import serve

    serve.start(http_options={"host": host, "port": port})
    serve.run(build(key, replicas, gpus_per_replica), name=APP_NAME, route_prefix="/")
