"""Job descriptions: picklable values the service sends to its worker (or over the network)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.backends.base import GenerationRequest

#: A section asked for from the DAW jumps ahead of a batch of takes.
PRIORITY_SECTION = 10
PRIORITY_INTERACTIVE = 5
PRIORITY_BATCH = 0


@dataclass(frozen=True)
class GenerateJob:
    """Render ``requests`` (one per take; several takes of one request may run as one batch)."""

    backend: str
    requests: tuple[GenerationRequest, ...]
    backend_settings: dict[str, Any] = field(default_factory=dict)
    priority: int = PRIORITY_BATCH
    label: str = ""
    batch: bool = True


@dataclass(frozen=True)
class RenderJob:
    """Render a take's stems and mix for the DAW (``engine.render.render_take``)."""

    project: Path
    take_id: str
    settings: Any  # engine.render.RenderSettings
    time_reference_s: float = 0.0
    priority: int = PRIORITY_INTERACTIVE
    label: str = ""
    out_name: str | None = None  # renders/<out_name>/ instead of renders/<take>/


@dataclass(frozen=True)
class GridJob:
    """Measure a take's beat grid (``engine.grid.takes``); with ``lock``, also write its grid-locked copy, at
    ``bpm`` when given (else ``tempo``, the song's). ``models``: the folder to look for a Beat This! checkpoint in.
    The job carries the take and the tempo map: the worker reads only the take's audio, never song.json."""

    project: Path
    take: Any  # engine.song.Take
    tempo: Any  # engine.song.TempoMap
    lock: bool = False
    bpm: float | None = None
    models: Path | None = None
    priority: int = PRIORITY_INTERACTIVE
    label: str = ""


@dataclass(frozen=True)
class SplitJob:
    """Split a take into vocal, drums, bass and other with HTDemucs (``engine.stems``); ``two`` gives vocal and
    instrumental instead."""

    project: Path
    take: Any  # engine.song.Take
    models: Path | None = None
    two: bool = False
    priority: int = PRIORITY_INTERACTIVE
    label: str = ""


@dataclass(frozen=True)
class SleepJob:
    """A job that only waits, stepping ``steps`` times (``step_s`` each), checking cancellation every step; tests
    and benchmarks use it to measure the service itself."""

    steps: int = 10
    step_s: float = 0.05
    priority: int = PRIORITY_BATCH
    label: str = "sleep"
    crash: str = ""  # "raise" | "exit" : fail on purpose (tests)


Job = GenerateJob | RenderJob | GridJob | SplitJob | SleepJob
#: jobs that read and write a project's files where they are (never sent to a remote engine)
LOCAL_JOBS = (RenderJob, GridJob, SplitJob)


@dataclass(frozen=True)
class JobInfo:
    id: str
    label: str
    state: str  # queued | running | finished | failed | cancelled
    priority: int
    step: int = 0
    total: int = 0
    error: str = ""
    worker: int | None = None  # the worker that runs (or ran) it
