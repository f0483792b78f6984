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
    from .purpose import Purpose

log = logging.getLogger("songbridge.session")
Action = Literal["lock", "land", "split"]
ACTIONS = ("lock", "land", "split")


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

    def land(self, session: Session, take: str | None, section: str | None, folder: str | None,
             purpose: Purpose) -> list[str]:
        """Check, then queue the landing of ``take`` (None: the section's or song's accepted take) in ``section``
        (None: the whole song, its loop clips too) into ``folder``; each job's purpose is ``purpose`` with where its
        files go (``Purpose.landing``). Returns the queued jobs' ids; raises SongBridgeError, changing nothing, when
        it cannot."""
        ...


@dataclass(frozen=True)
class FollowUpFailed:
    """A follow-up could not be started (published by the session; the job it follows had finished)."""

    job_id: str
    take: str
    action: str
    error: str
    purpose: Purpose


def switch_lock_on(session: Session, ev: JobEnded) -> None:
    """A lock job's takes are heard locked once their locked copy is there (one undoable edit)."""
    purpose = ev.purpose
    if purpose.kind != "lock" or ev.state != "finished":
        return
    song = session.song
    new = tuple(t.id for t in ev.takes if t.id not in song.locked)
    if new:
        where = " (from DAW)" if purpose.origin == "daw" else ""
        session.edit(song.replace(locked=(*song.locked, *new)), f"Lock {', '.join(new)} to the grid{where}",
                     purpose.origin)


def run(session: Session, ev: JobEnded) -> list[str]:
    """Start the first follow-up of a finished job on its takes (it carries the rest, who asked and the section it
    was for); returns the jobs queued."""
    purpose = ev.purpose
    ups = purpose.follow_ups
    if ev.state != "finished" or not ev.takes or not ups:
        return []
    first, rest = ups[0], ups[1:]
    ids: list[str] = []
    for take in ev.takes if first.every_take else ev.takes[:1]:
        try:
            ids += start(session, first, take, purpose, rest)
        except SongBridgeError as exc:
            log.warning("%s: could not %s %s: %s", ev.job_id, first.action, take.id, exc)
            session._publish(FollowUpFailed(ev.job_id, take.id, first.action, str(exc), purpose))
    return ids


def start(session: Session, up: FollowUp, take: Take, after: Purpose, rest: tuple[FollowUp, ...]) -> list[str]:
    """Queue ``up`` on ``take`` for the job ``after`` ended; the new job carries ``rest``."""
    carried: dict[str, Any] = {"origin": after.origin, "requester": after.requester, "follow_ups": rest}
    if up.action == "lock":
        return [session.find_grid(take.id, lock=True, bpm=up.bpm, section=after.section, **carried)]
    if up.action == "split":
        return [session.split(take.id, section=after.section, **carried)]
    section = up.section if up.section is not None else after.section
    return session.land(take.id, section, up.folder, **carried)
