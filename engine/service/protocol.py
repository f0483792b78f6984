"""The engine as the session sees it: the one interface the local service (``EngineService``), the HTTP client
(``api.client.HttpEngine``) and the Ray ingress (``api.cluster.RayEngine``) implement.

A session queues jobs with :meth:`Engine.submit`, cancels them, lists them for the jobs strip and the DAW's
status, and reads their events without blocking (``events``) or by waiting (``wait``, on its own pump thread,
never on a GUI thread). ``tests/engine/service/test_engine_protocol.py`` checks that every implementation has
these methods with these parameters.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from .events import Event
from .jobs import JobInfo


@runtime_checkable
class Engine(Protocol):
    """What runs jobs: a local queue with workers, a remote engine over HTTP, or a Ray cluster."""

    mode: str  # "process", "thread", "remote" or "ray": shown in the status bar

    def start(self) -> Engine:
        """Make it ready (spawn workers, connect); returns itself."""
        ...

    def close(self) -> None:
        """Stop: running jobs are cancelled, workers and connections closed."""
        ...

    def submit(self, job: Any) -> str:
        """Queue ``job`` (a ``GenerateJob``, ``RenderJob``, ``SplitJob``, ``GridJob``...); its id."""
        ...

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued job at once or a running one at its next step; False if it had already ended."""
        ...

    def jobs(self) -> list[JobInfo]:
        """Every job it knows, with its state and progress."""
        ...

    def workers(self) -> list[dict[str, Any]]:
        """Each worker: id, device, pid, running job and label, restarts, and why it is broken if it is."""
        ...

    def events(self, max_events: int | None = None) -> list[Event]:
        """Every event since the last call, without blocking."""
        ...

    def wait(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to ``timeout`` seconds (None when none came)."""
        ...


__all__ = ["Engine"]
