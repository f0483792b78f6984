"""What the engine service tells its clients. Small, picklable, immutable; large results stay on disk."""

from __future__ import annotations

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
