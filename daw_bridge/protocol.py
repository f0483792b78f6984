"""The bridge's command set: frozen values shared by OSC, MIDI, the GUI and the headless server.

Adapters (OSC, MIDI) only translate bytes into these and enqueue them; a controller acts on them.
Times are seconds; bar numbers are 1-based and may be fractional; positions sent to DAWs are samples at 44.1 kHz.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

Address = tuple[str, int]  # (host, port) to reply to


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class BridgeStats:
    """How the bridge is coping: messages received, handled, coalesced, dropped by the kernel, replies unsent."""


@dataclass(frozen=True)
class Generate:
    """A whole song (no range) or one section, by name, bars or seconds."""

    section: str | None = None
    bars: tuple[float, float] | None = None  # [start, end) in 1-based bars
    seconds: tuple[float, float] | None = None
    takes: int = 1
    style: str | None = None
    style_preset: str | None = None  # "" clears it
    seed: int | None = None
    backend: str | None = None
    params: tuple[tuple[str, Any], ...] = ()  # backend options (checked by the session against the backend)


@dataclass(frozen=True)
class GenerateHere:
    """A section of ``bars`` bars starting at the bar the DAW (or the player) is on now."""

    bars: float = 8.0
    takes: int = 1


@dataclass(frozen=True)
class Edit:
    """Regenerate ranges (seconds), bars, sections or lyric lines of a take ("": the section's accepted take, else
    the song's, else the newest song take), optionally with new words for those lines; one job."""

    take: str
    ranges: tuple[tuple[float, float], ...] = ()
    line_ids: tuple[str, ...] = ()
    new_lyrics: tuple[tuple[str, str], ...] = ()  # (line id, text)
    seed: int | None = None
    sections: tuple[str, ...] = ()
    bars: tuple[tuple[float, float], ...] = ()  # [start, end) in 1-based bars
    takes: int = 1
    backend: str | None = None
    params: tuple[tuple[str, Any], ...] = ()  # backend options (checked by the session against the backend)
    extend_s: float = 0.0  # continue the take past its end by this many seconds
    extend_bars: float = 0.0  # ... or bars


@dataclass(frozen=True)
class Cancel:
    """Cancel a job of the sender's host ("*": all of them); with the bridge's admin token, any job."""

    job_id: str
    token: str | None = None


@dataclass(frozen=True)
class JobStatus:
    job_id: str | None = None  # None: every job


@dataclass(frozen=True)
class Audition:
    action: str  # play | pause | stop | seek | loop | ab
    seconds: float | None = None
    end_seconds: float | None = None
    take: str | None = None


@dataclass(frozen=True)
class Accept:
    take: str
    section: str | None = None


@dataclass(frozen=True)
class MakeLoop:
    """A loop of ``bars`` bars from ``prompt`` (empty: the song's style) at ``bpm`` (None: the DAW's tempo when
    following it, else the song's), landed at ``at_bar`` (None: the bar the DAW or the player is on) on a track
    named after the prompt."""

    prompt: str
    bars: float = 4.0
    bpm: float | None = None
    at_bar: float | None = None
    takes: int = 1


@dataclass(frozen=True)
class Split:
    """Split a take (None: the newest) into vocal, drums, bass and other (``two``: vocal and instrumental)."""

    take: str | None = None
    two: bool = False


@dataclass(frozen=True)
class AddPart:
    """Add one instrument over a take (None: the newest song take), or take it out alone (``alone``)."""

    track: str
    take: str | None = None
    alone: bool = False


@dataclass(frozen=True)
class Render:
    """Render a take (None: the song as comped, else the song's take) through its chains into the project's
    renders/ folder; ``settings``: format, bits, loudness, ceiling, fx (checked by the session)."""

    take: str | None = None
    settings: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class FindGrid:
    """Measure a take's beat grid (None: the newest); ``lock``: also put it on the grid (at ``bpm``, or the DAW's
    tempo when following it, else the song's) and hear it locked."""

    take: str | None = None
    lock: bool = False
    bpm: float | None = None


@dataclass(frozen=True)
class Land:
    take: str | None = None  # None: the accepted (or newest) take
    section: str | None = None  # None: the whole song
    folder: str | None = None  # a folder inside the project (generic adapter)


@dataclass(frozen=True)
class GetProperty:
    obj: str
    prop: str


@dataclass(frozen=True)
class SetProperty:
    obj: str
    prop: str
    value: Any


@dataclass(frozen=True)
class Listen:
    obj: str
    prop: str
    on: bool


@dataclass(frozen=True)
class FollowTransport:
    on: bool


@dataclass(frozen=True)
class TransportUpdate:
    """From a DAW (MIDI clock/SPP, OSC feedback): what its transport is doing."""

    playing: bool | None = None
    bpm: float | None = None
    position_beats: float | None = None
    position_samples: int | None = None
    tempo_known: bool | None = None  # False: the DAW's tempo is unknown for now (clock restarted; too few ticks)
    source: str | None = None  # where it came from: "Ardour OSC"; None: MIDI clock


@dataclass(frozen=True)
class DawSync:
    """``pull``: the DAW session's tempo map and markers into the song (one undoable edit, "from DAW"); ``push``:
    the song's sections and tempo into the session (``daw_bridge/daw_sync.py``)."""

    direction: str  # "pull" | "push"


@dataclass(frozen=True)
class DawOsc:
    """Where the DAW's OSC listens (host, port; port 0: find Ardour's); None: only answer where it is."""

    host: str | None = None
    port: int | None = None


@dataclass(frozen=True)
class BadRequest:
    """A request that could not be translated; the controller answers it with an error."""

    code: str  # unknown_address | bad_arguments | bad_value | refused_path | not_allowed
    message: str


Command = (Ping | Generate | GenerateHere | MakeLoop | Edit | Cancel | JobStatus | Audition | Accept | Split | FindGrid | Render | AddPart
           | Land
           | GetProperty | SetProperty
           | Listen | FollowTransport | TransportUpdate | BadRequest | BridgeStats | DawSync | DawOsc)


MAX_ERRORS_PER_DATAGRAM = 8  # error replies one datagram (a bundle) may cause; the rest are counted, not sent


class Datagram:
    """What the commands of one datagram share: a budget of error replies (a bundle of 2,000 bad messages is answered
    a few times, never 2,000). ``may_error`` counts with ``next`` on an ``itertools.count``, which is atomic, so any
    thread may ask."""

    __slots__ = ("_used", "errors")

    def __init__(self, errors: int = MAX_ERRORS_PER_DATAGRAM) -> None:
        self.errors = errors
        self._used = itertools.count()

    def may_error(self) -> bool:
        """May one more error reply be sent for this datagram? (Counts it.)"""
        return next(self._used) < self.errors


@dataclass(frozen=True)
class Envelope:
    """A command with where it came from: the request address (for errors), where to reply, until when that address
    is proven to receive what is sent to it (OSC's handshake; ``inf`` for MIDI and the app, 0 for an unproven
    address) and the datagram it came in."""

    command: Command
    address: str = ""
    reply_to: Address | None = None
    source: str = "osc"  # osc | midi | gui
    proven_until: float = math.inf
    datagram: Datagram | None = field(default=None, compare=False)
