"""The backend protocol: a backend turns a :class:`GenerationRequest` into a :class:`~engine.song.Take`.

Every backend writes the same take layout through :class:`~engine.backends.takes.TakeWriter`: ``mix.wav``,
``stems/<stem>.wav`` and ``record.json`` (backend, version, seed, every parameter, the LRC used, the style, parent
take and edited ranges). Backends report progress through ``on_progress(done, total)`` and check ``should_stop()``
at every step or chunk; stopping raises :class:`Cancelled` and leaves no half-written take.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from engine.errors import Cancelled as Cancelled  # re-exported: backends raise it
from engine.errors import SongBridgeError
from engine.song.key import Key
from engine.song.model import LyricLine, Section, Style, Take, TimeRange, frozen_mapping
from engine.song.tempo import TempoMap

ProgressFn = Callable[[int, int], None]
StopFn = Callable[[], bool]


class BackendUnavailable(SongBridgeError):
    """The backend cannot run here (no weights, no device); the message says what to do."""


@dataclass(frozen=True)
class EditSpec:
    """Regenerate ``ranges`` of ``source_take``, keeping everything else."""

    source_take: str
    ranges: tuple[TimeRange, ...]


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a backend needs, in seconds. ``lyrics`` are timed lines; ``params`` are backend options."""

    take_id: str
    out_dir: Path  # the take's folder (project/takes/<take_id>); the backend writes only there
    lyrics: tuple[LyricLine, ...]
    style: Style
    duration_s: float
    seed: int
    tempo: TempoMap = field(default_factory=TempoMap)
    key: Key = field(default_factory=Key)
    sections: tuple[Section, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    edit: EditSpec | None = None
    title: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", frozen_mapping(self.params))
        if not (0.5 <= self.duration_s <= 900.0):
            raise ValueError(f"duration must be 0.5..900 s, got {self.duration_s:.1f}")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be 0..4294967295, got {self.seed}")


@runtime_checkable
class Backend(Protocol):
    name: str
    version: str

    def available(self) -> tuple[bool, str]:
        """Whether this backend can run here, and why not (or what it will use)."""

    def estimate(self, request: GenerationRequest) -> tuple[float, int]:
        """Expected (seconds, peak bytes of memory) for the request, before it runs."""

    def generate(self, request: GenerationRequest, on_progress: ProgressFn, should_stop: StopFn) -> Take:
        """Render the take into ``request.out_dir`` and return it."""


@runtime_checkable
class ChecksRequests(Protocol):
    """A backend that can tell, from its installed files alone (no weights read, no torch), whether it can run a
    request's parameters (a task only one of its models was trained for)."""

    def check_request(self, params: Mapping[str, Any]) -> None:
        """Raise SongBridgeError naming what the installed files cannot do with ``params``."""


class Steps:
    """Counts the steps of a job: each call checks cancellation first (raising :class:`Cancelled`), then reports
    ``(done, total)``."""

    def __init__(self, total: int, on_progress: ProgressFn, should_stop: StopFn):
        self.total, self.done = total, 0
        self.on_progress, self.should_stop = on_progress, should_stop

    def __call__(self) -> None:
        if self.should_stop():
            raise Cancelled("cancelled")
        self.done += 1
        self.on_progress(self.done, self.total)


def no_progress(done: int, total: int) -> None:
    """A progress callback that ignores progress."""


def never_stop() -> bool:
    return False
