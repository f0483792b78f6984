"""The engine service: one queue with priorities, one job at a time in each worker (one worker per
GPU, or one), events read without blocking.

``EngineService(mode="process")`` spawns a worker process that owns the backends; ``mode="thread"`` runs the same
loop in a thread (tests). A monitor thread per worker forwards the worker's events, dispatches the next job when one ends,
and notices a worker that died (killed, out of memory, a crashing plugin): that job fails with the reason, the
worker is restarted and the queue goes on. Clients call :meth:`events` (non-blocking) or :meth:`wait` (CLI).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from typing import Any

from engine.errors import SongBridgeError

from .events import TERMINAL, Event, EventSource, Failed, Progress, Started
from .job_queue import JobQueue
from .jobs import GenerateJob, GridJob, Job, JobInfo, RenderJob, SplitJob
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
        from engine.backends import registry
        from engine.estimates import estimate_seconds

        try:
            backend = registry.create(job.backend, **dict(job.backend_settings))
            s, b = backend.estimate(job.requests[0])
        except Exception:  # noqa: BLE001 - an estimate must not block a submission
            return 0.0, 0
        guess = s * (1 if job.batch and len(job.requests) > 1 else len(job.requests))
        return estimate_seconds(job.backend, sum(r.duration_s for r in job.requests), guess), b
    if isinstance(job, RenderJob):
        return 3.0, 512 * 2**20
    if isinstance(job, GridJob):
        return (20.0 if job.lock else 3.0), 512 * 2**20
    if isinstance(job, SplitJob):
        return 60.0, 2 * 2**30
    return job.steps * job.step_s, 0


class _Worker:
    """A worker process (or thread) and its queues. ``device`` is the GPU it owns (its ``CUDA_VISIBLE_DEVICES``;
    inside it that GPU is ``cuda:0``), or None for whatever the machine has."""

    def __init__(self, mode: str, idle_release_s: float, device: str | None = None):
        self.mode, self.device = mode, device
        self.started = time.monotonic()
        if mode == "process":
            ctx = mp.get_context("spawn")
            self.commands: Any = ctx.Queue()
            self.events: Any = ctx.Queue()
            self.cancel_flag: Any = ctx.Event()
            self.handle: Any = ctx.Process(target=process_main, name="songbridge-engine",
                                           args=(self.commands, self.events, self.cancel_flag, idle_release_s,
                                                 os.getpid(),
                                                 threading.current_thread() is threading.main_thread(), device),
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


class _Slot:
    """One place a job can run: a worker, the job it runs, and its restart history."""

    def __init__(self, index: int, device: str | None):
        self.index, self.device = index, device
        self.worker: _Worker | None = None
        self.monitor: threading.Thread | None = None
        self.running: str | None = None
        self.quick_deaths = 0
        self.restarts = 0
        self.broken = ""


def parse_gpus(spec: str | None, visible: int | None = None) -> list[str | None]:
    """``--gpus``: ``0,1`` (those GPUs, one worker each), ``all`` (every visible GPU, or one worker without GPU
    when there is none), ``N`` workers sharing the machine with ``cpu:N``; None means one worker."""
    if spec in (None, ""):
        return [None]
    spec = spec.strip()
    if spec.startswith("cpu:"):
        n = spec[4:]
        if not n.isdigit() or not 1 <= int(n) <= 64:
            raise SongBridgeError(f"--gpus {spec}: expected cpu:N with N from 1 to 64")
        return [None] * int(n)
    if spec == "all":
        listed = [x.strip() for x in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if x.strip()]
        if visible is None:
            visible = _visible_gpus()
        ids = listed[:visible] if listed else [str(i) for i in range(visible)]
        return list(ids) or [None]
    ids = [x.strip() for x in spec.split(",")]
    if not ids or any(not x.isdigit() for x in ids) or len(set(ids)) != len(ids):
        raise SongBridgeError(f"--gpus {spec}: expected GPU numbers like 0,1 (each once), 'all' or cpu:N")
    return list(ids)


def _visible_gpus() -> int:
    """How many NVIDIA GPUs the machine has (``nvidia-smi -L``; the service never imports torch itself: the
    workers do, each with its own ``CUDA_VISIBLE_DEVICES``)."""
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in out.splitlines())


class EngineService(EventSource):
    """The queue and its workers: ``devices`` gives one worker per entry (a GPU id, or None), all fed from one
    priority queue, each job on one worker; models stay loaded per worker."""

    def __init__(self, mode: str = "process", idle_release_s: float = 300.0,
                 devices: list[str | None] | tuple[str | None, ...] = (None,)):
        self.mode, self.idle_release_s = mode, idle_release_s
        self._queue = JobQueue()
        self._lock = self._queue.lock
        self._out: queue.Queue[Event] = queue.Queue()
        self._slots = [_Slot(i, d) for i, d in enumerate(devices or (None,))]
        self._started = False
        self._closed = threading.Event()
        self._broken = ""

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> EngineService:
        with self._lock:
            if not self._started:
                self._started = True
                for slot in self._slots:
                    slot.worker = _Worker(self.mode, self.idle_release_s, slot.device)
                    slot.monitor = threading.Thread(target=self._watch, args=(slot,), daemon=True,
                                                    name=f"songbridge-engine-monitor-{slot.index}")
                    slot.monitor.start()
        return self

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            for slot in self._slots:
                if slot.running and slot.worker is not None:
                    slot.worker.cancel_flag.set()
            workers = [s.worker for s in self._slots]
        for worker in workers:  # wake a thread worker's monitor now, not at its next 0.2 s poll
            if worker is not None and worker.mode == "thread":
                worker.events.put(None)
        for slot in self._slots:
            if slot.monitor is not None:
                slot.monitor.join(5.0)
        for worker in workers:
            if worker is not None:
                worker.stop()

    def __enter__(self) -> EngineService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def worker_pid(self) -> int | None:
        """The first worker's process id (None in thread mode or before start)."""
        w = self._slots[0].worker
        return w.pid if w is not None else None

    @property
    def restarts(self) -> int:
        return sum(s.restarts for s in self._slots)

    def workers(self) -> list[dict[str, Any]]:
        """Each worker: its number, GPU, process id, the job it runs (id and label), restarts, and why it stopped
        if it cannot start."""
        with self._lock:
            out = []
            for s in self._slots:
                out.append({"id": s.index, "device": s.device, "pid": s.worker.pid if s.worker else None,
                            "running": s.running, "label": self._queue.label(s.running) if s.running else "",
                            "restarts": s.restarts,
                            "broken": s.broken})
            return out

    # -- the facade --------------------------------------------------------------------------------------------
    def submit(self, job: Job) -> str:
        if self._closed.is_set():
            raise SongBridgeError(self._broken or "the engine service is closed")
        self.start()
        est_s, est_b = estimate(job)
        with self._lock:
            job_id, queued = self._queue.add(job, est_s, est_b)
        self._out.put(queued)
        self._dispatch()
        return job_id

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued job at once, or a running one at its next step. False if it already ended."""
        with self._lock:
            state = self._queue.state(job_id)
            if state not in ("queued", "running"):
                return False
            cancelled = self._queue.cancel_waiting(job_id)
            if cancelled is not None:
                self._out.put(cancelled)
                return True
            for slot in self._slots:
                if slot.running == job_id and slot.worker is not None:
                    slot.worker.cancel_flag.set()
            return True

    def jobs(self) -> list[JobInfo]:
        with self._lock:
            return self._queue.infos()

    # -- internals ---------------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        with self._lock:
            for slot in self._slots:
                if not self._queue.has_waiting():
                    return
                if slot.running is not None or slot.worker is None or slot.broken:
                    continue
                job_id, job = self._queue.next(slot.index)
                slot.running = job_id
                slot.worker.cancel_flag.clear()
                slot.worker.commands.put((job_id, job))

    def _finish(self, slot: _Slot | None, event: Event) -> None:
        with self._lock:
            self._queue.end(event)
            if slot is not None and slot.running == event.job_id:
                slot.running = None
        self._out.put(event)
        self._dispatch()

    def _watch(self, slot: _Slot) -> None:
        while not self._closed.is_set() and not slot.broken:
            worker = slot.worker
            assert worker is not None
            try:
                ev = worker.events.get(timeout=0.2)
            except queue.Empty:
                ev = None
            except (EOFError, OSError):
                ev = None
            if ev is not None:
                if isinstance(ev, TERMINAL):
                    self._finish(slot, ev)
                else:
                    if isinstance(ev, Progress):
                        with self._lock:
                            self._queue.set(ev.job_id, "running", step=ev.step, total=ev.total)
                    self._out.put(ev)
                continue
            if not worker.alive() and not self._closed.is_set():
                self._restart(slot, worker)

    def _restart(self, slot: _Slot, dead: _Worker) -> None:
        reason = describe_exit(dead.exitcode())
        where = f" (worker {slot.index}{', GPU ' + slot.device if slot.device is not None else ''})" \
            if len(self._slots) > 1 else ""
        with self._lock:
            job_id = slot.running
            quick = time.monotonic() - dead.started < 10.0
            slot.quick_deaths = slot.quick_deaths + 1 if quick else 0
            if slot.quick_deaths >= 3:
                # It dies as soon as it starts: restarting again would loop. Take it out, clearly.
                slot.broken = f"the engine worker{where} cannot start ({reason})"
                slot.running = None
                pending = [job_id] if job_id else []
                if all(s.broken for s in self._slots):  # nothing left to run the queue: fail it all
                    self._broken = slot.broken
                    pending += self._queue.drain()
                    self._closed.set()
                for jid in pending:
                    failed = Failed(jid, slot.broken, f"exit code {dead.exitcode()}")
                    self._queue.end(failed)
                    self._out.put(failed)
                return
            slot.worker = _Worker(self.mode, self.idle_release_s, slot.device)
            slot.restarts += 1
        if job_id is not None:
            self._finish(slot, Failed(job_id, f"the engine worker{where} died while running this job: {reason}; "
                                              "it was restarted", f"exit code {dead.exitcode()}"))
        else:
            self._dispatch()


__all__ = ["EngineService", "Started", "describe_exit", "estimate", "parse_gpus"]
