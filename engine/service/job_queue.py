"""The one priority queue of jobs, shared by the local service (``local.EngineService``) and the Ray ingress
(``api.cluster.RayEngine``).

Both facades ask the same things of it: queue a job (higher priority first, then first come), cancel a job that
has not started, hand out the next job to a free worker, record each job's state for ``jobs()``, and forget the
oldest ended jobs so a service that runs for weeks keeps a bounded table. The caller holds ``lock`` around every
call (the facades also guard their own worker slots with it); events go out through the facade, never from here.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import uuid
from collections import OrderedDict
from typing import Any

from .events import Cancelled, Event, Failed, Finished, Queued
from .jobs import JobInfo

#: how many ended jobs ``jobs()`` still lists; older ones are forgotten
KEEP_ENDED = 1000

_ENDED_STATE = {Finished: "finished", Failed: "failed", Cancelled: "cancelled"}


class JobQueue:
    """Waiting jobs in priority order and every job's :class:`JobInfo`. Not thread-safe by itself: hold ``lock``."""

    def __init__(self, keep_ended: int = KEEP_ENDED):
        self.lock = threading.RLock()
        self.keep_ended = keep_ended
        self._heap: list[tuple[int, int, str]] = []
        self._seq = itertools.count()
        self._jobs: dict[str, Any] = {}  # waiting jobs only
        self._info: dict[str, JobInfo] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()

    def add(self, job: Any, estimate_s: float, estimate_bytes: int) -> tuple[str, Queued]:
        """Queue ``job``; its id and the :class:`Queued` event to send (with its place in the queue)."""
        job_id = uuid.uuid4().hex[:12]
        self._jobs[job_id] = job
        self._info[job_id] = JobInfo(job_id, job.label or type(job).__name__, "queued", job.priority)
        entry = (-job.priority, next(self._seq), job_id)
        heapq.heappush(self._heap, entry)
        position = sorted(self._heap).index(entry)
        return job_id, Queued(job_id, position, estimate_s, estimate_bytes)

    def state(self, job_id: str) -> str | None:
        info = self._info.get(job_id)
        return info.state if info is not None else None

    def label(self, job_id: str) -> str:
        info = self._info.get(job_id)
        return info.label if info is not None else ""

    def cancel_waiting(self, job_id: str) -> Cancelled | None:
        """Take a job that has not started out of the queue; its :class:`Cancelled` event, or None if it is not
        waiting."""
        if self.state(job_id) != "queued":
            return None
        self._heap = [e for e in self._heap if e[2] != job_id]
        heapq.heapify(self._heap)
        self._jobs.pop(job_id, None)
        event = Cancelled(job_id)
        self.end(event)
        return event

    def has_waiting(self) -> bool:
        return bool(self._heap)

    def next(self, worker: int) -> tuple[str, Any]:
        """The next job for ``worker`` (marked running); call only when :meth:`has_waiting`."""
        _, _, job_id = heapq.heappop(self._heap)
        self.set(job_id, "running", worker=worker)
        return job_id, self._jobs.pop(job_id)

    def drain(self) -> list[str]:
        """Every waiting job's id in queue order, taken out of the queue (for a service that can no longer run
        them: the caller fails each)."""
        ids = [e[2] for e in sorted(self._heap)]
        self._heap.clear()
        for job_id in ids:
            self._jobs.pop(job_id, None)
        return ids

    def set(self, job_id: str, state: str, **kw: Any) -> None:
        """Update a known job's state and any of step, total, error, worker."""
        old = self._info.get(job_id)
        if old is None:
            return
        self._info[job_id] = JobInfo(old.id, old.label, state, old.priority, kw.get("step", old.step),
                                     kw.get("total", old.total), kw.get("error", old.error),
                                     kw.get("worker", old.worker))

    def end(self, event: Event) -> None:
        """Record a job's end (a Finished, Failed or Cancelled event) and forget the oldest ended jobs past
        ``keep_ended``."""
        if event.job_id not in self._info:
            return
        self.set(event.job_id, _ENDED_STATE[type(event)], error=getattr(event, "error", ""))
        self._ended[event.job_id] = None
        while len(self._ended) > self.keep_ended:
            old, _ = self._ended.popitem(last=False)
            self._info.pop(old, None)

    def infos(self) -> list[JobInfo]:
        return list(self._info.values())


__all__ = ["KEEP_ENDED", "JobQueue"]
