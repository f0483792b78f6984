"""What the engine service tells its clients. Small, picklable, immutable; large results stay on disk."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.song.model import Take


@dataclass(frozen=True)
class Event:
    job_id: str


@dataclass(frozen=True)
class Queued(Event):
    position: int  # 0 = next to run
    estimate_s: float
    estimate_bytes: int


@dataclass(frozen=True)
class Started(Event):
    pass


@dataclass(frozen=True)
class Progress(Event):
    step: int
    total: int
    eta_s: float | None


@dataclass(frozen=True)
class Finished(Event):
    takes: tuple[Take, ...] = ()
    render: dict[str, Any] = field(default_factory=dict)  # render summary (files, loudness) for render jobs

    @property
    def take(self) -> Take | None:
        return self.takes[0] if self.takes else None


@dataclass(frozen=True)
class Failed(Event):
    error: str  # one line for the user
    detail: str = ""  # traceback or worker exit status, for the log


@dataclass(frozen=True)
class Cancelled(Event):
    pass


TERMINAL = (Finished, Failed, Cancelled)


class EventSource:
    """The client side of the facade: events read without blocking (``events``), or waited for by the CLI and
    tests (``wait``, ``follow``; never on a GUI thread). Subclasses put events on ``self._out``."""

    _out: queue.Queue[Event]

    def events(self, max_events: int | None = None) -> list[Event]:
        """Every event since the last call, without blocking."""
        out: list[Event] = []
        while max_events is None or len(out) < max_events:
            try:
                out.append(self._out.get_nowait())
            except queue.Empty:
                break
        return out

    def wait(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to ``timeout`` seconds."""
        try:
            return self._out.get(timeout=timeout)
        except queue.Empty:
            return None

    def follow(self, job_id: str, timeout: float | None = None) -> Iterator[Event]:
        """Events of one job until it ends (other jobs' events are dropped)."""
        from engine.errors import SongBridgeError

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ev = self.wait(left if left is not None else 1.0)
            if ev is None:
                if deadline is not None and time.monotonic() >= deadline:
                    raise SongBridgeError(f"job {job_id} did not finish in {timeout:.0f} s")
                continue
            if ev.job_id != job_id:
                continue
            yield ev
            if isinstance(ev, TERMINAL):
                return
