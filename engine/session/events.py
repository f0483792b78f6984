"""What the session publishes to its front-ends. Subscribers are called on the thread that made the change (the
GUI thread, the bridge's control thread or the session's engine pump), so they must only copy or enqueue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.song.model import Song, Take

from .purpose import UNKNOWN, Purpose


@dataclass(frozen=True)
class SongChanged:
    """The document changed: ``kind`` is edit, undo, redo, takes or accept; ``origin`` who asked (app, daw, cli)."""

    before: Song
    after: Song
    label: str
    origin: str
    kind: str = "edit"
    version: int = 0

    def changed(self) -> set[str]:
        """The song properties that differ (names as the OSC bridge uses them)."""
        b, a = self.before, self.after
        out = set()
        pairs = {"title": (b.info, a.info), "tempo": (b.tempo.bpm, a.tempo.bpm),
                 "time_signature": (str(b.tempo.meter), str(a.tempo.meter)), "key": (b.key, a.key),
                 "style": (b.style, a.style), "sections": (b.sections, a.sections), "lyrics": (b.lyrics, a.lyrics),
                 "takes": (b.takes, a.takes), "length": (b.duration_s, a.duration_s),
                 "accepted": (dict(b.accepted), dict(a.accepted)), "effects": (dict(b.effects), dict(a.effects))}
        for name, (x, y) in pairs.items():
            if x != y:
                out.add(name)
        return out


@dataclass(frozen=True)
class JobQueued:
    job_id: str
    label: str
    origin: str
    purpose: Purpose = UNKNOWN


@dataclass(frozen=True)
class JobProgress:
    job_id: str
    step: int
    total: int
    eta_s: float | None


@dataclass(frozen=True)
class TakesAdded:
    """Takes committed to the song (ids given at commit), and the job that made them."""

    job_id: str
    takes: tuple[Take, ...]


@dataclass(frozen=True)
class JobEnded:
    """A job is over: ``state`` finished, failed or cancelled; ``takes`` the takes it committed; ``render`` a render
    job's summary; ``purpose`` what the job was for (as given at submit)."""

    job_id: str
    state: str
    takes: tuple[Take, ...] = ()
    render: dict[str, Any] | None = None
    error: str = ""
    purpose: Purpose = UNKNOWN


@dataclass(frozen=True)
class SaveFailed:
    version: int
    error: str
