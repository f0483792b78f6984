"""The worker loop: runs one job at a time, owns the backends (models stay loaded between jobs and are released
after an idle timeout), reports progress, and checks the cancel flag at every step. The same loop runs in a
process (default) or a thread (tests)."""

from __future__ import annotations

import os
import queue
import time
import traceback
from collections.abc import Callable
from typing import Any

from engine.errors import Cancelled as CancelledError
from engine.errors import SongBridgeError

from .events import Cancelled, Failed, Finished, Progress, Started
from .jobs import GenerateJob, GridJob, Job, RenderJob, SleepJob, SplitJob


class Backends:
    """Backend instances by (name, settings); each keeps its model loaded until released."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}
        self.last_used = time.monotonic()

    def get(self, name: str, settings: dict[str, Any]) -> Any:
        from engine.backends import registry

        key = (name, tuple(sorted((k, str(v)) for k, v in settings.items())))
        if key not in self._items:
            # Another model needs the memory: release the others first (one GPU model at a time).
            self.release_all()
            self._items[key] = registry.create(name, **settings)
        self.last_used = time.monotonic()
        return self._items[key]

    def release_all(self) -> None:
        for backend in self._items.values():
            release = getattr(backend, "release", None)
            if release is not None:
                release()
        self._items.clear()


class _Progress:
    def __init__(self, job_id: str, emit: Callable[[Any], None]):
        self.job_id, self.emit = job_id, emit
        self.t0 = time.monotonic()
        self.last = 0.0

    def __call__(self, step: int, total: int) -> None:
        now = time.monotonic()
        if step < total and now - self.last < 0.05:
            return  # at most 20 events a second
        self.last = now
        eta = (now - self.t0) / step * (total - step) if step > 0 else None
        self.emit(Progress(self.job_id, step, total, eta))


def run_job(job_id: str, job: Job, backends: Backends, emit: Callable[[Any], None],
            should_stop: Callable[[], bool]) -> Any:
    progress = _Progress(job_id, emit)
    if isinstance(job, SleepJob):
        for i in range(job.steps):
            if should_stop():
                raise CancelledError("cancelled")
            if job.crash == "exit" and i == job.steps // 2:
                os._exit(3)
            if job.crash == "raise" and i == job.steps // 2:
                raise RuntimeError("deliberate failure")
            time.sleep(job.step_s)
            progress(i + 1, job.steps)
        return Finished(job_id)
    if isinstance(job, GenerateJob):
        from engine.estimates import record_job

        began = time.monotonic()
        backend = backends.get(job.backend, dict(job.backend_settings))
        for r in job.requests:
            r.out_dir.parent.mkdir(parents=True, exist_ok=True)
        if job.batch and len(job.requests) > 1 and hasattr(backend, "generate_many"):
            takes = backend.generate_many(list(job.requests), progress, should_stop)
        else:
            takes = []
            n = len(job.requests)
            for i, req in enumerate(job.requests):
                takes.append(backend.generate(req, lambda d, t, i=i: progress(i * t + d, n * t), should_stop))
        record_job(job.backend, sum(r.duration_s for r in job.requests), time.monotonic() - began)
        return Finished(job_id, tuple(takes))
    if isinstance(job, RenderJob):
        from engine.render import render_summary, render_take
        from engine.song.project import Project

        project = Project.open(job.project)
        result = render_take(project, job.take_id, job.settings, progress, should_stop, job.time_reference_s,
                             job.out_name)
        return Finished(job_id, (), render_summary(result))
    if isinstance(job, GridJob):
        from engine.backends.takes import update_record
        from engine.grid.takes import grid_take, lock_take

        progress(0, 5)
        take, _grid = grid_take(job.project, job.take, job.tempo, models=job.models, should_stop=should_stop)
        if should_stop():
            raise CancelledError("cancelled")
        progress(1, len(take.stems) + 2 if job.lock else 1)
        if job.lock:
            take = lock_take(job.project, take, job.tempo, bpm=job.bpm, should_stop=should_stop,
                             on_progress=lambda i, n: progress(1 + i, 1 + n))
        update_record(job.project / "takes" / take.id, take)
        return Finished(job_id, (take,), {"grid": dict(take.analysis["grid"]),
                                          **({"lock": dict(take.analysis["lock"])} if job.lock else {})})
    if isinstance(job, SplitJob):
        from engine.stems.split import split_take

        take = split_take(job.project, job.take, models=job.models, two=job.two, on_progress=progress,
                          should_stop=should_stop)
        return Finished(job_id, (take,), {"separation": dict(take.analysis["separation"])})
    raise SongBridgeError(f"unknown job type {type(job).__name__}")


def worker_loop(commands: Any, events: Any, cancel_flag: Any, idle_release_s: float = 300.0) -> None:
    """Read (job_id, job) from ``commands`` until None; put events on ``events``."""
    backends = Backends()
    while True:
        try:
            msg = commands.get(timeout=0.5)
        except queue.Empty:
            if backends._items and time.monotonic() - backends.last_used > idle_release_s:
                backends.release_all()
            continue
        if msg is None:
            break
        job_id, job = msg
        events.put(Started(job_id))
        try:
            result = run_job(job_id, job, backends, events.put, cancel_flag.is_set)
            events.put(result)
        except CancelledError:
            events.put(Cancelled(job_id))
        except SongBridgeError as exc:
            events.put(Failed(job_id, str(exc), ""))
        except MemoryError:
            events.put(Failed(job_id, "out of memory", traceback.format_exc()))
        except Exception as exc:  # noqa: BLE001 - a failing job must never take the worker down
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "out of memory" in message.lower():
                backends.release_all()
            events.put(Failed(job_id, f"{type(exc).__name__}: {message}", traceback.format_exc()))
        finally:
            backends.last_used = time.monotonic()
    backends.release_all()


def die_with_parent(parent: int, deathsig: bool) -> None:
    """The worker must not outlive the program that started it, however that program ends (``kill -9``
    included): on Linux the kernel sends SIGKILL when the parent dies (PR_SET_PDEATHSIG; only when the worker was
    started from the parent's main thread, since the signal follows the thread that started it); everywhere a
    watchdog thread checks the parent every half second."""
    import signal
    import sys
    import threading

    if deathsig and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the call above
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="songbridge-parent-watch", daemon=True).start()


def process_main(commands: Any, events: Any, cancel_flag: Any, idle_release_s: float,
                 parent: int | None = None, deathsig: bool = False, device: str | None = None) -> None:
    """Entry point of the worker process (spawned). ``device``: the one GPU this worker owns, set before anything
    initialises CUDA (it is then ``cuda:0`` here)."""
    if device is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = device
    if parent is not None:
        die_with_parent(parent, deathsig)
    try:
        worker_loop(commands, events, cancel_flag, idle_release_s)
    except KeyboardInterrupt:
        pass
