"""The engine service (DESIGN.md §4): one queue with priorities, one job at a time in a worker, events read
without blocking.

``EngineService(mode="process")`` spawns a worker process that owns the backends; ``mode="thread"`` runs the same
loop in a thread (tests). A monitor thread forwards the worker's events, dispatches the next job when one ends,
and notices a worker that died (killed, out of memory, a crashing plugin): that job fails with the reason, the
worker is restarted and the queue goes on. Clients call :meth:`events` (non-blocking) or :meth:`wait` (CLI).
"""

from __future__ import annotations

import heapq
import itertools
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
import uuid
from typing import Any

from engine.errors import SongBridgeError

from .events import TERMINAL, Cancelled, Event, EventSource, Failed, Finished, Progress, Queued, Started
from .jobs import GenerateJob, Job, JobInfo, RenderJob
from .worker import process_main, worker_loop


def describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped responding"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = {"SIGKILL": " (killed, or out of memory)", "SIGSEGV": " (a crash in native code, e.g. a plugin)"}
        return f"it was killed by {name}{hint.get(name, '')}"
    return f"it exited with status {code}"


def estimate(job: Job) -> tuple[float, int]:
    """Time and memory before the job runs (never loads a model)."""
    if isinstance(job, GenerateJob):
        from engine.backends import registry  # noqa: PLC0415
        from engine.estimates import estimate_seconds  # noqa: PLC0415

        try:
            backend = registry.create(job.backend, **dict(job.backend_settings))
            s, b = backend.estimate(job.requests[0])
        except Exception:  # noqa: BLE001 - an estimate must not block a submission
            return 0.0, 0
        guess = s * (1 if job.batch and len(job.requests) > 1 else len(job.requests))
        return estimate_seconds(job.backend, sum(r.duration_s for r in job.requests), guess), b
    if isinstance(job, RenderJob):
        return 3.0, 512 * 2**20
    return job.steps * job.step_s, 0


class _Worker:
    """A worker process (or thread) and its queues."""

    def __init__(self, mode: str, idle_release_s: float):
        self.mode = mode
        self.started = time.monotonic()
        if mode == "process":
            ctx = mp.get_context("spawn")
            self.commands: Any = ctx.Queue()
            self.events: Any = ctx.Queue()
            self.cancel_flag: Any = ctx.Event()
            self.handle: Any = ctx.Process(target=process_main, name="songbridge-engine",
                                           args=(self.commands, self.events, self.cancel_flag, idle_release_s,
                                                 os.getpid(),
                                                 threading.current_thread() is threading.main_thread()),
                                           daemon=True)
        elif mode == "thread":
            self.commands = queue.Queue()
            self.events = queue.Queue()
            self.cancel_flag = threading.Event()
            self.handle = threading.Thread(target=worker_loop, name="songbridge-engine",
                                           args=(self.commands, self.events, self.cancel_flag, idle_release_s),
                                           daemon=True)
        else:
            raise ValueError(f"mode must be 'process' or 'thread', got {mode!r}")
        self.handle.start()

    @property
    def pid(self) -> int | None:
        return self.handle.pid if self.mode == "process" else None

    def alive(self) -> bool:
        return self.handle.is_alive()

    def exitcode(self) -> int | None:
        return self.handle.exitcode if self.mode == "process" else None

    def stop(self, timeout: float = 5.0) -> None:
        try:
            self.commands.put(None)
        except (OSError, ValueError):
            pass
        self.handle.join(timeout)
        if self.mode == "process" and self.handle.is_alive():
            self.handle.kill()
            self.handle.join(timeout)


class EngineService(EventSource):
    def __init__(self, mode: str = "process", idle_release_s: float = 300.0):
        self.mode, self.idle_release_s = mode, idle_release_s
        self._lock = threading.RLock()
        self._heap: list[tuple[int, int, str]] = []
        self._seq = itertools.count()
        self._jobs: dict[str, Job] = {}
        self._info: dict[str, JobInfo] = {}
        self._running: str | None = None
        self._out: queue.Queue[Event] = queue.Queue()
        self._worker: _Worker | None = None
        self._monitor: threading.Thread | None = None
        self._closed = threading.Event()
        self._quick_deaths = 0
        self._broken = ""
        self.restarts = 0

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> EngineService:
        with self._lock:
            if self._worker is None:
                self._worker = _Worker(self.mode, self.idle_release_s)
                self._monitor = threading.Thread(target=self._watch, name="songbridge-engine-monitor", daemon=True)
                self._monitor.start()
        return self

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            if self._running and self._worker is not None:
                self._worker.cancel_flag.set()
            worker = self._worker
        if self._monitor is not None:
            self._monitor.join(5.0)
        if worker is not None:
            worker.stop()

    def __enter__(self) -> EngineService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid if self._worker is not None else None

    # -- the facade --------------------------------------------------------------------------------------------
    def submit(self, job: Job) -> str:
        if self._closed.is_set():
            raise SongBridgeError(self._broken or "the engine service is closed")
        self.start()
        job_id = uuid.uuid4().hex[:12]
        est_s, est_b = estimate(job)
        with self._lock:
            self._jobs[job_id] = job
            label = job.label or type(job).__name__
            self._info[job_id] = JobInfo(job_id, label, "queued", job.priority)
            heapq.heappush(self._heap, (-job.priority, next(self._seq), job_id))
            position = sorted(self._heap).index((-job.priority, self._seq_of(job_id), job_id))
        self._out.put(Queued(job_id, position, est_s, est_b))
        self._dispatch()
        return job_id

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued job at once, or a running one at its next step. False if it already ended."""
        with self._lock:
            info = self._info.get(job_id)
            if info is None or info.state not in ("queued", "running"):
                return False
            if info.state == "queued":
                self._heap = [e for e in self._heap if e[2] != job_id]
                heapq.heapify(self._heap)
                self._set(job_id, "cancelled")
                self._out.put(Cancelled(job_id))
                return True
            assert self._worker is not None
            self._worker.cancel_flag.set()
            return True

    def jobs(self) -> list[JobInfo]:
        with self._lock:
            return list(self._info.values())

    # -- internals ---------------------------------------------------------------------------------------------
    def _seq_of(self, job_id: str) -> int:
        return next(e[1] for e in self._heap if e[2] == job_id)

    def _set(self, job_id: str, state: str, **kw: Any) -> None:
        old = self._info[job_id]
        self._info[job_id] = JobInfo(old.id, old.label, state, old.priority, kw.get("step", old.step),
                                     kw.get("total", old.total), kw.get("error", old.error))

    def _dispatch(self) -> None:
        with self._lock:
            if self._running is not None or not self._heap or self._worker is None:
                return
            _, _, job_id = heapq.heappop(self._heap)
            self._running = job_id
            self._worker.cancel_flag.clear()
            self._set(job_id, "running")
            self._worker.commands.put((job_id, self._jobs[job_id]))

    def _finish(self, event: Event) -> None:
        state = {Finished: "finished", Failed: "failed", Cancelled: "cancelled"}[type(event)]
        with self._lock:
            if event.job_id in self._info:
                self._set(event.job_id, state, error=getattr(event, "error", ""))
            if self._running == event.job_id:
                self._running = None
            self._jobs.pop(event.job_id, None)
        self._out.put(event)
        self._dispatch()

    def _watch(self) -> None:
        while not self._closed.is_set():
            worker = self._worker
            assert worker is not None
            try:
                ev = worker.events.get(timeout=0.2)
            except queue.Empty:
                ev = None
            except (EOFError, OSError):
                ev = None
            if ev is not None:
                if isinstance(ev, TERMINAL):
                    self._finish(ev)
                else:
                    if isinstance(ev, Progress):
                        with self._lock:
                            if ev.job_id in self._info:
                                self._set(ev.job_id, "running", step=ev.step, total=ev.total)
                    self._out.put(ev)
                continue
            if not worker.alive() and not self._closed.is_set():
                self._restart(worker)

    def _restart(self, dead: _Worker) -> None:
        reason = describe_exit(dead.exitcode())
        with self._lock:
            job_id = self._running
            quick = time.monotonic() - dead.started < 10.0
            self._quick_deaths = self._quick_deaths + 1 if quick else 0
            if self._quick_deaths >= 3:
                # It dies as soon as it starts: restarting again would loop. Fail everything, clearly.
                self._broken = f"the engine worker cannot start ({reason})"
                pending = [job_id] if job_id else []
                pending += [e[2] for e in sorted(self._heap)]
                self._heap.clear()
                self._running = None
                for jid in pending:
                    self._set(jid, "failed", error=self._broken)
                    self._out.put(Failed(jid, self._broken, f"exit code {dead.exitcode()}"))
                self._closed.set()
                return
            self._worker = _Worker(self.mode, self.idle_release_s)
            self.restarts += 1
        if job_id is not None:
            self._finish(Failed(job_id, f"the engine worker died while running this job: {reason}; "
                                        "it was restarted", f"exit code {dead.exitcode()}"))
        else:
            self._dispatch()


__all__ = ["EngineService", "Started", "describe_exit", "estimate"]
