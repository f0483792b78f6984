"""The song document as frozen dataclasses.

Edits make new values with :func:`dataclasses.replace` or the helpers on :class:`Song`; nothing is mutated in
place, so undo is a matter of keeping the old value. All times are seconds from the song start.
"""

from __future__ import annotations

import dataclasses
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .key import Key
from .loop_clip import Loop, is_loop_take, put_loop, split_loops
from .tempo import TempoMap

SAMPLE_RATE = 44100
#: The stems every backend writes, in mix order.
STEMS = ("drums", "bass", "keys", "vocal")
#: Every stem name an effect chain can sit on: the guide's four, and from stem separation "other" (guitars, synths,
#: keys: what is not drums, bass or vocal) and "instrumental" (all but the vocal).
STEM_SLOTS = (*STEMS, "other", "instrumental")
#: The effect-chain slot applied to the mix.
MASTER = "master"

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: A stem name becomes a file name (``stems/<name>.wav``): lower-case letters, digits, '_' and '-', 1-32 long.
_STEM_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def new_id(prefix: str) -> str:
    """A short unique id such as ``line-3f2a9c1b``."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise ValueError(f"{what} id must be 1-64 letters, digits, '.', '_' or '-', got {value!r}")
    return value


def check_stem(value: str, what: str = "stem") -> str:
    """A stem name as it may become a file name; the one rule for song.json, record.json, engines and OSC."""
    if not isinstance(value, str) or not _STEM_RE.match(value) or value == "mix":
        raise ValueError(f"{what} name must be 1-32 lower-case letters, digits, '_' or '-' (not 'mix'), "
                         f"got {value!r}")
    return value


def _check_time(value: float | None, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a time in seconds >= 0, got {value!r}")


class FrozenDict(dict):  # type: ignore[type-arg]
    """A read-only dict that pickles (MappingProxyType does not), for parameters on frozen dataclasses that
    travel to the engine worker."""

    def _readonly(self, *_: Any, **__: Any) -> None:
        raise TypeError("this mapping is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=lambda kv: kv[0])))

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))


def frozen_mapping(d: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return FrozenDict(d or {})


@dataclass(frozen=True)
class SongInfo:
    title: str = "Untitled"
    artist: str = ""
    sample_rate: int = SAMPLE_RATE

    def __post_init__(self) -> None:
        if self.sample_rate != SAMPLE_RATE:
            raise ValueError(f"sample rate must be {SAMPLE_RATE} Hz (the model's rate), got {self.sample_rate}")


@dataclass(frozen=True)
class Section:
    """A named span of the song (verse, chorus ...), in seconds; the UI shows and snaps it in bars."""

    id: str
    name: str
    start_s: float
    end_s: float
    color: str = ""

    def __post_init__(self) -> None:
        check_id(self.id, "section")
        _check_time(self.start_s, f"section {self.id} start")
        _check_time(self.end_s, f"section {self.id} end")
        if self.end_s <= self.start_s:
            raise ValueError(f"section {self.id} must end after it starts ({self.start_s} >= {self.end_s})")

    @property
    def kind(self) -> str:
        """The section's role without its number: ``"Verse 2"`` -> ``"verse"``."""
        return re.sub(r"[\s_-]*\d+$", "", self.name.strip().lower()) or "section"


@dataclass(frozen=True)
class WordTime:
    """A word and its start (and optional end) in seconds, from an enhanced LRC or a forced alignment."""

    start_s: float
    text: str
    end_s: float | None = None

    def __post_init__(self) -> None:
        _check_time(self.start_s, "word start")
        _check_time(self.end_s, "word end", optional=True)


@dataclass(frozen=True)
class LyricLine:
    """One lyric line. ``start_s`` None means untimed (auto-timing places it). Empty text is a break."""

    id: str
    text: str
    start_s: float | None = None
    end_s: float | None = None
    words: tuple[WordTime, ...] = ()
    section_id: str | None = None

    def __post_init__(self) -> None:
        check_id(self.id, "lyric line")
        _check_time(self.start_s, f"line {self.id} start", optional=True)
        _check_time(self.end_s, f"line {self.id} end", optional=True)
        if self.start_s is not None and self.end_s is not None and self.end_s < self.start_s:
            raise ValueError(f"line {self.id} ends before it starts ({self.end_s} < {self.start_s})")
        if "\n" in self.text:
            raise ValueError(f"line {self.id} text must be one line")

    @property
    def timed(self) -> bool:
        return self.start_s is not None


@dataclass(frozen=True)
class Style:
    """What the song should sound like: a text prompt, a saved preset, or reference audio."""

    prompt: str = ""
    preset: str | None = None
    reference_audio: str | None = None  # a path inside the project folder
    negative_prompt: str = ""


@dataclass(frozen=True)
class TimeRange:
    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        _check_time(self.start_s, "range start")
        _check_time(self.end_s, "range end")
        if self.end_s <= self.start_s:
            raise ValueError(f"a time range must end after it starts ({self.start_s} >= {self.end_s})")


@dataclass(frozen=True)
class Take:
    """A rendered take. ``record.json`` beside its audio repeats all of this, so a take can be reproduced."""

    id: str
    backend: str
    seed: int
    name: str = ""
    created: str = ""  # ISO 8601, UTC
    model_id: str = ""
    weights_sha256: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    lrc: str = ""
    style: Style = field(default_factory=Style)
    parent: str | None = None
    edited_ranges: tuple[TimeRange, ...] = ()
    duration_s: float = 0.0
    stems: tuple[str, ...] = STEMS
    starred: bool = False
    #: What was measured or made from the take afterwards: "separation" (the model that split it into its stems),
    #: "grid" (beats, downbeats, tempo), "lock" (the time map of its grid-locked copy in ``locked/``).
    analysis: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_id(self.id, "take")
        if isinstance(self.stems, str) or len(set(self.stems)) != len(tuple(self.stems)):
            raise ValueError(f"take {self.id}: stems must be a list of distinct names, got {self.stems!r}")
        for stem in self.stems:
            check_stem(stem, f"take {self.id}: stem")
        object.__setattr__(self, "stems", tuple(self.stems))
        object.__setattr__(self, "params", frozen_mapping(self.params))
        object.__setattr__(self, "analysis", frozen_mapping(self.analysis))

    @property
    def folder(self) -> str:
        """Folder of this take relative to the project folder."""
        return f"takes/{self.id}"


@dataclass(frozen=True)
class EffectSlot:
    """The effect chain on one stem (or on the master): a preset name or a chain file in the project."""

    preset: str | None = None
    bypass: bool = False
    overrides: Mapping[str, Any] = field(default_factory=dict)  # "plugin_index.param" -> value

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", frozen_mapping(self.overrides))


@dataclass(frozen=True)
class DawLink:
    """How this song talks to the DAW."""

    adapter: str = "generic"  # generic | ardour | reaper | live | bitwig
    host: str = "127.0.0.1"
    port: int = 0  # the DAW's OSC port; 0 = the adapter's default
    render_folder: str = ""  # generic adapter: where stamped files go; "" = renders/ in the project
    session: str = ""  # ardour: the session folder to land stems in (while Ardour is closed)
    track_prefix: str = "SB"
    follow_transport: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")


@dataclass(frozen=True)
class Song:
    info: SongInfo = field(default_factory=SongInfo)
    tempo: TempoMap = field(default_factory=TempoMap)
    key: Key = field(default_factory=Key)
    sections: tuple[Section, ...] = ()
    lyrics: tuple[LyricLine, ...] = ()
    style: Style = field(default_factory=Style)
    takes: tuple[Take, ...] = ()
    effects: Mapping[str, EffectSlot] = field(default_factory=dict)
    daw: DawLink = field(default_factory=DawLink)
    #: The take the producer chose per section id ("" = the whole song); the bridge lands and edits these.
    accepted: Mapping[str, str] = field(default_factory=dict)
    #: Takes heard, rendered and landed from their grid-locked copy (``takes/<id>/locked/``); undoable.
    locked: tuple[str, ...] = ()
    #: Loop clips at their bars (a loops lane, tracks of their own in the DAW); never among ``takes``.
    loops: tuple[Loop, ...] = ()

    def __post_init__(self) -> None:
        split_loops(self)
        object.__setattr__(self, "effects", frozen_mapping(self.effects))
        object.__setattr__(self, "accepted", frozen_mapping(self.accepted))
        for kind, items in (("section", self.sections), ("lyric line", self.lyrics),
                            ("take or loop", (*self.takes, *self.loops))):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    raise ValueError(f"duplicate {kind} id {item.id!r}")
                seen.add(item.id)
        section_ids = {s.id for s in self.sections}
        for line in self.lyrics:
            if line.section_id is not None and line.section_id not in section_ids:
                raise ValueError(f"line {line.id} refers to unknown section {line.section_id!r}")
        take_ids = {t.id for t in self.takes}
        for take in self.takes:
            if take.parent is not None and take.parent not in take_ids:
                raise ValueError(f"take {take.id} has unknown parent take {take.parent!r}")
        for where, take_id in self.accepted.items():
            if take_id not in take_ids:
                raise ValueError(f"accepted take {take_id!r} (for {where or 'the song'}) is not one of the takes")
            if where and where not in section_ids:
                raise ValueError(f"accepted take {take_id!r} is for unknown section {where!r}")
        for slot in self.effects:
            if slot not in (*STEM_SLOTS, MASTER):
                raise ValueError(f"effect slot must be one of {', '.join((*STEM_SLOTS, MASTER))}, got {slot!r}")
        for take_id in self.locked:
            if take_id not in take_ids and not any(lp.id == take_id for lp in self.loops):
                raise ValueError(f"locked take {take_id!r} is not one of the takes")

    # -- queries -------------------------------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        """The song's length: the end of the last section, else a bar after the last timed lyric line."""
        ends = [s.end_s for s in self.sections]
        timed = [ln.end_s or ln.start_s for ln in self.lyrics if ln.start_s is not None]
        if timed:
            last = max(timed)
            ends.append(self.tempo.bars_to_seconds(math.floor(self.tempo.seconds_to_bars(last)) + 2))
        return max(ends, default=0.0)

    def section(self, section_id: str) -> Section:
        for s in self.sections:
            if s.id == section_id:
                return s
        raise KeyError(f"no section {section_id!r}")

    def section_at(self, t: float) -> Section | None:
        for s in self.sections:
            if s.start_s <= t < s.end_s:
                return s
        return None

    def take(self, take_id: str) -> Take:
        """The take with this id: a song take, else the audio record of a loop (so a loop renders, lands and plays
        by its id; :func:`engine.session.regenerate.base_take` refuses it as the base of an edit)."""
        for t in self.takes:
            if t.id == take_id:
                return t
        for lp in self.loops:
            if lp.id == take_id:
                return lp.take
        raise KeyError(f"no take {take_id!r}; the project has {', '.join(t.id for t in self.takes) or 'none'}")

    def loop(self, loop_id: str) -> Loop:
        for lp in self.loops:
            if lp.id == loop_id:
                return lp
        raise KeyError(f"no loop {loop_id!r}; the project has {', '.join(lp.id for lp in self.loops) or 'none'}")

    def timed_lines(self) -> list[LyricLine]:
        """Timed lines sorted by start."""
        return sorted((ln for ln in self.lyrics if ln.start_s is not None), key=lambda ln: ln.start_s or 0.0)

    # -- edits (each returns a new Song) ----------------------------------------------------------------
    def replace(self, **changes: Any) -> Song:
        return dataclasses.replace(self, **changes)

    def with_lyrics(self, lines: Iterable[LyricLine]) -> Song:
        return self.replace(lyrics=tuple(lines))

    def with_take(self, take: Take) -> Song:
        """``take`` added at the end, or put in place of the take with its id (renaming or starring a take keeps
        its place, so "the newest take" stays the newest)."""
        locked = self.locked if "lock" in take.analysis else tuple(t for t in self.locked if t != take.id)
        if any(lp.id == take.id for lp in self.loops) or is_loop_take(take):  # a loop: a clip, kept at its bar
            return self.replace(loops=put_loop(self.loops, take), locked=locked)
        if any(t.id == take.id for t in self.takes):
            return self.replace(takes=tuple(take if t.id == take.id else t for t in self.takes), locked=locked)
        return self.replace(takes=(*self.takes, take), locked=locked)

    def without_take(self, take_id: str) -> Song:
        return self.replace(takes=tuple(t for t in self.takes if t.id != take_id),
                            loops=tuple(lp for lp in self.loops if lp.id != take_id),
                            accepted={k: v for k, v in self.accepted.items() if v != take_id},
                            locked=tuple(t for t in self.locked if t != take_id))

    def with_accepted(self, section_id: str, take_id: str) -> Song:
        """``take_id`` becomes the accepted take of ``section_id`` ("" = the whole song)."""
        return self.replace(accepted={**self.accepted, section_id: take_id})

    def base_take(self) -> Take | None:
        """The take a section request edits: the accepted take of the song, else the newest take."""
        chosen = self.accepted.get("")
        if chosen:
            return self.take(chosen)
        return self.takes[-1] if self.takes else None

    def with_loop_at(self, loop_id: str, bar: float) -> Song:
        """The loop moved to ``bar`` (1-based)."""
        moved = dataclasses.replace(self.loop(loop_id), bar=bar)
        return self.replace(loops=tuple(moved if lp.id == loop_id else lp for lp in self.loops))

    def keeping_loops_of(self, current: Song) -> Song:
        """This document (an undo or redo target) with ``current``'s loops, each at the bar this document has it
        at: moving a loop is undone, a loop that arrived since is kept."""
        mine = {lp.id: lp for lp in self.loops}
        return self.replace(loops=tuple(mine.get(lp.id, lp) for lp in current.loops))
