"""What happens to a job's takes when the job ends: lock them (to a tempo), split them, land them in the DAW.

A follow-up is data carried by the job's purpose (``purpose["follow_ups"]``, a tuple of :class:`FollowUp`), run by
the session when the job finishes, whoever asked for it (the app, the command line, the DAW): the first follow-up
becomes the next job, which carries the rest. ``lock(100) then land()`` from the bridge and from a plain session call
queue the same jobs.

Landing is the DAW's business (``daw_bridge``, a layer above the session): the front-end that can land registers a
:class:`Lander` with the session (``Session.set_lander``); without one a landing is refused, naming why.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from engine.errors import SongBridgeError

if TYPE_CHECKING:
    from engine.song.model import Take

    from .core import Session
    from .events import JobEnded

log = logging.getLogger("songbridge.session")
Action = Literal["lock", "land", "split"]
ACTIONS = ("lock", "land", "split")
#: what a follow-up's job keeps of the job it follows: where to answer, whose it is, which section it was for
CARRIED = ("reply_to", "client", "section")


@dataclass(frozen=True)
class FollowUp:
    """One thing to do with a finished job's takes.

    ``lock``: lock the take to the grid at ``bpm`` (None: the song's tempo) and hear it locked (``song.locked``).
    ``land``: land the take in the DAW, in ``section`` (None: the section the job was for, else the whole song) and
    ``folder`` (None: the lander's). ``split``: split the take into stems. ``every_take``: each take the job made
    (loops), else its first."""

    action: Action
    bpm: float | None = None
    section: str | None = None
    folder: str | None = None
    every_take: bool = False

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise SongBridgeError(f"follow-up: no action {self.action!r}; actions: {', '.join(ACTIONS)}")
        if self.bpm is not None and (self.action != "lock" or not math.isfinite(self.bpm)
                                     or not 20 <= self.bpm <= 400):
            raise SongBridgeError(f"follow-up {self.action}: bpm must be 20..400 and only for a lock, got {self.bpm}")
        if (self.section is not None or self.folder is not None) and self.action != "land":
            raise SongBridgeError(f"follow-up {self.action}: a section or folder is only for a landing")


def lock(bpm: float | None = None) -> FollowUp:
    return FollowUp("lock", bpm=bpm)


def land(section: str | None = None, folder: str | None = None, every_take: bool = False) -> FollowUp:
    return FollowUp("land", section=section, folder=folder, every_take=every_take)


def split() -> FollowUp:
    return FollowUp("split")


def checked(follow_ups: Sequence[Any]) -> tuple[FollowUp, ...]:
    """``follow_ups`` as a tuple, refused whole (naming the bad entry) when one is not a FollowUp."""
    out = tuple(follow_ups)
    for i, up in enumerate(out):
        if not isinstance(up, FollowUp):
            raise SongBridgeError(f"follow_ups[{i}]: expected a FollowUp, got {type(up).__name__}")
    return out


class Lander(Protocol):
    """Lands takes in the DAW: registered with the session by the front-end that links one (the bridge)."""

    def land(self, session: Session, take: str | None, section: str | None, folder: str | None, origin: str,
             purpose: dict[str, Any]) -> list[str]:
        """Check, then queue the landing of ``take`` (None: the section's or song's accepted take) in ``section``
        (None: the whole song, its loop clips too) into ``folder``; ``purpose`` is what its jobs carry (where to
        answer). Returns the queued jobs' ids; raises SongBridgeError, changing nothing, when it cannot."""
        ...


@dataclass(frozen=True)
class FollowUpFailed:
    """A follow-up could not be started (published by the session; the job it follows had finished)."""

    job_id: str
    take: str
    action: str
    error: str
    purpose: dict[str, Any]


def switch_lock_on(session: Session, ev: JobEnded) -> None:
    """A lock job's takes are heard locked once their locked copy is there (one undoable edit)."""
    purpose = ev.purpose
    if purpose.get("kind") != "lock" or ev.state != "finished":
        return
    song = session.song
    new = tuple(t.id for t in ev.takes if t.id not in song.locked)
    if new:
        where = " (from DAW)" if purpose.get("origin") == "daw" else ""
        session.edit(song.replace(locked=(*song.locked, *new)), f"Lock {', '.join(new)} to the grid{where}",
                     purpose.get("origin", "app"))


def run(session: Session, ev: JobEnded) -> list[str]:
    """Start the first follow-up of a finished job on its takes (it carries the rest); returns the jobs queued."""
    purpose = ev.purpose
    ups: tuple[FollowUp, ...] = tuple(purpose.get("follow_ups") or ())
    if ev.state != "finished" or not ev.takes or not ups:
        return []
    first, rest = ups[0], ups[1:]
    carried = {k: purpose[k] for k in CARRIED if purpose.get(k) is not None}
    carried["follow_ups"] = rest
    origin = purpose.get("origin", "app")
    ids: list[str] = []
    for take in ev.takes if first.every_take else ev.takes[:1]:
        try:
            ids += start(session, first, take, dict(carried), origin)
        except SongBridgeError as exc:
            log.warning("%s: could not %s %s: %s", ev.job_id, first.action, take.id, exc)
            session._publish(FollowUpFailed(ev.job_id, take.id, first.action, str(exc), purpose))
    return ids


def start(session: Session, up: FollowUp, take: Take, purpose: dict[str, Any], origin: str) -> list[str]:
    if up.action == "lock":
        return [session.find_grid(take.id, lock=True, bpm=up.bpm, origin=origin, purpose=purpose)]
    if up.action == "split":
        return [session.split(take.id, origin=origin, purpose=purpose)]
    section = up.section if up.section is not None else purpose.get("section")
    return session.land(take.id, section, up.folder, origin=origin, purpose=purpose)
