"""What a job is for: the typed record the session keeps for each job it queued (``Session.jobs``) and hands with
its events (``JobQueued.purpose``, ``JobEnded.purpose``), instead of a dict read through string keys.

A :class:`Purpose` says what kind of job it is and for which take and section, who asked (a :class:`Requester`, for a
job asked for over the DAW bridge: the host it counts against and where to answer), what follows it (the session's
follow-ups, ``followups.py``) and, for a landing's render, where its files go in the DAW (a :class:`Landing`, built by
the DAW layer's lander). Follow-up jobs carry the requester and the section of the job they follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .followups import FollowUp

#: generate: new takes (songs, edits, loops). split: stems of a take. grid: its beat grid. lock: its grid-locked copy.
#: render: its stems and mix through their chains. land: a render whose files go into the DAW. other: a job this
#: session did not queue (an engine shared with another program), or a job of no use case (a test's sleep job).
JobKind = Literal["generate", "split", "grid", "lock", "render", "land", "other"]
Origin = str  # "app", "daw", "cli": who asked, for history labels and the app's job list


@dataclass(frozen=True)
class Requester:
    """Who asked over the DAW bridge: ``client`` the host the job counts against (its per-host limits, who may cancel
    it), ``reply_to`` where its answers go (None: nowhere, e.g. MIDI), ``takes`` how many takes it may write."""

    client: str
    reply_to: tuple[str, int] | None = None
    takes: int = 1


@dataclass(frozen=True)
class Landing:
    """Where a landing's render goes: ``folder`` for the files, at ``bar`` (``start_s``..``end_s`` of the song, at
    ``bpm``) of ``section`` (a section's name, "song", or a loop clip's own track); ``track`` names a loop clip's own
    track; ``locked_bpm`` the DAW tempo a grid-locked take was locked to; ``comp`` the pieces of a comped song."""

    folder: str
    section: str
    bar: float
    bpm: float
    start_s: float
    end_s: float
    track: str | None = None
    locked_bpm: float | None = None
    comp: tuple[tuple[str, float, float], ...] = ()


@dataclass(frozen=True)
class Purpose:
    """One job's reason. ``take``: the take it works on (split, grid, lock, render, land) or edits (generate:
    ``base_take``); ``section``: the section it was for (a landing that follows lands there); ``pending``: the tag of
    a generate job's uncommitted takes; ``loop``/``land_at``: a loop and the bar it goes at; ``ranges``: an edit's
    time ranges."""

    kind: JobKind
    label: str = ""
    origin: Origin = "app"
    take: str | None = None
    section: str | None = None
    requester: Requester | None = None
    follow_ups: tuple[FollowUp, ...] = ()
    pending: str = ""
    base_take: str | None = None
    ranges: tuple[tuple[float, float], ...] = ()
    loop: bool = False
    land_at: float | None = None
    landing: Landing | None = None

    @property
    def reply_to(self) -> tuple[str, int] | None:
        return self.requester.reply_to if self.requester is not None else None

    @property
    def client(self) -> str | None:
        return self.requester.client if self.requester is not None else None


#: the purpose of a job the session did not queue
UNKNOWN = Purpose("other", "job")
