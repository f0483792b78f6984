"""Regenerate: the one implementation of "make new takes of parts of a take". The app's Regenerate
selection / Regenerate lines, the bridge's ``/songbridge/job/generate_{section,bars,seconds}``, ``/job/edit`` and
their MIDI commands, and ``songbridge edit`` all build a :class:`Regenerate` and call
:meth:`engine.session.Session.regenerate`, which calls :func:`plan` here.

:func:`plan` is pure (a song in, a :class:`Plan` out) and checks the whole request before anything changes: the
base take (named, else the section's accepted take, else the song's, else the newest take that is not a loop), every
region against that take's end, the lines and the new words. Every region becomes a time range of one
:class:`~engine.backends.base.EditSpec` (overlapping and touching ranges merged), so several regions are one model
pass with seams crossfaded at each range's edges by the backend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from engine.errors import SongBridgeError
from engine.song.model import Section, Song, Style, Take, TimeRange, frozen_mapping

#: A request's end may pass the take's end by this much (a take's length is whole samples; a section's end is a bar
#: line): within it the range is clipped to the take, beyond it the request is refused.
END_SLACK_S = 0.05
MAX_RANGES = 256
MAX_LINES = 1000
MAX_TAKES = 16
MAX_LYRIC = 500
MAX_EXTEND = 600.0  # seconds, or bars
MIN_EXTEND_S, MIN_EXTEND_BARS = 0.5, 0.25  # less is no continuation (a latent frame is 0.04 s)


@dataclass(frozen=True)
class Regenerate:
    """What to regenerate (any mix of sections, bars, seconds and lyric lines: one job) and from which take.

    ``sections``: names ("Chorus 1", any case) or ids. ``bars``: [start, end) 1-based bar numbers in the song's tempo.
    ``seconds``: [start, end) in seconds. ``lines``: lyric line ids; a line spans from its start to its end time
    when it has one, else to the next timed line's start (else the take's end). ``take``: the take to edit (None: the
    section's accepted take, else the song's, else the newest song take; never a loop). ``lyrics``: (line id, new
    words) applied to the song, as one undoable edit, before the job is queued. ``style``: the song's style from now
    on (None: unchanged). ``backend``: None means the base take's backend."""

    sections: tuple[str, ...] = ()
    bars: tuple[tuple[float, float], ...] = ()
    seconds: tuple[tuple[float, float], ...] = ()
    lines: tuple[str, ...] = ()
    take: str | None = None
    lyrics: tuple[tuple[str, str], ...] = ()
    takes: int = 1
    seed: int | None = None
    backend: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    style: Style | None = None
    #: continue the take past its end by this many seconds / bars (at the song's tempo): a new take that keeps the
    #: take and makes what follows (a backend that can continue a take: ``registry.CONTINUES``)
    extend_s: float = 0.0
    extend_bars: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", frozen_mapping(self.params))


@dataclass(frozen=True)
class Plan:
    """A checked request: the edit to queue, the song to set first (new words, style) and how to name the job."""

    base: Take
    edit: Any  # engine.backends.base.EditSpec
    song: Song
    backend: str
    label: str
    section: str | None  # the one section asked for by name (where the DAW lands the result), else None
    duration_s: float | None = None  # the new take's length when it continues the take, else the take's


def is_loop(take: Take) -> bool:
    """A loop take (``songbridge loop``, the Loops panel): made by a Stable Audio backend for a number of bars. It
    is not a song take: regenerating parts of it would edit a few bars of loop, not the song. A song keeps loops
    apart (``Song.loops``); this is the same rule (``engine.song.model.is_loop_take``) for a take found by id."""
    from engine.song.model import is_loop_take

    return is_loop_take(take)


def find_section(song: Song, name: str) -> Section:
    for s in song.sections:
        if name in (s.id, s.name) or name.strip().lower() == s.name.lower():
            return s
    raise SongBridgeError(f"section: no section {name!r}; sections: "
                          + (", ".join(s.name for s in song.sections) or "none"))


def base_take(song: Song, take_id: str | None, section: Section | None = None) -> Take:
    """The take a regeneration edits: ``take_id`` (never a loop), else the section's accepted take, else the song's,
    else the newest take that is not a loop."""
    if take_id is not None:
        try:
            take = song.take(take_id)
        except KeyError as exc:
            raise SongBridgeError(f"take: {exc.args[0]}") from None
        if is_loop(take):
            raise SongBridgeError(f"take: {take.id} is a loop ({take.backend}, {take.params.get('bars', '?')} bars), not a "
                                  "song take; name a song take to regenerate parts of")
        return take
    for key in ((section.id,) if section is not None else ()) + ("",):
        chosen = song.accepted.get(key)
        if chosen and not is_loop(song.take(chosen)):
            return song.take(chosen)
    for take in reversed(song.takes):
        if is_song_take(take):
            return take
    raise SongBridgeError("take: there is no song take to regenerate parts of; generate the song first")


def is_song_take(take: Take) -> bool:
    """Whether a take can stand for the song when none is named: not a loop, and not one instrument taken out of a
    take alone (ACE-Step's extract: a part, which the newest-take defaults must pass over)."""
    return not is_loop(take) and take.params.get("task") != "extract"


def _check_pair(a: Any, b: Any, what: str) -> tuple[float, float]:
    try:
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        raise SongBridgeError(f"{what}: start and end must be numbers") from None
    if not (a == a and b == b) or a in (float("inf"), float("-inf")) or b in (float("inf"), float("-inf")):
        raise SongBridgeError(f"{what}: start and end must be finite")
    if b <= a:
        raise SongBridgeError(f"{what}: the end must come after the start")
    return a, b


def _inside(a: float, b: float, take: Take, what: str, *, clip: bool = False) -> tuple[float, float]:
    """[a, b) within the take: refused when it starts at or after the take's end, or (unless ``clip``: a span the
    song implies, such as a line's) ends past it."""
    end = take.duration_s
    if a < 0:
        raise SongBridgeError(f"{what}: starts before the song ({a:g} s)")
    if a >= end:
        raise SongBridgeError(f"{what}: starts at {a:.2f} s, at or after the end of {take.id} ({end:.2f} s)")
    if b > end + END_SLACK_S and not clip:
        raise SongBridgeError(f"{what}: ends at {b:.2f} s, past the end of {take.id} ({end:.2f} s); ranges past the "
                              "song's end are refused")
    return a, min(b, end)


def _line_spans(song: Song, ids: tuple[str, ...], take: Take) -> list[tuple[float, float]]:
    timed = song.timed_lines()
    index = {ln.id: i for i, ln in enumerate(timed)}
    known = {ln.id for ln in song.lyrics}
    out = []
    for lid in ids:
        if lid not in index:
            raise SongBridgeError(f"lines: {lid!r} is " + ("not timed yet; place it first" if lid in known else
                                                            "not a lyric line of the song (its lines: "
                                                            + _some(ln.id for ln in timed) + ")"))
        i = index[lid]
        ln = timed[i]
        if ln.end_s is not None:
            end = ln.end_s
        elif i + 1 < len(timed):
            end = timed[i + 1].start_s or 0.0
        else:
            end = take.duration_s
        if end <= (ln.start_s or 0.0):
            raise SongBridgeError(f"lines: {lid!r} has no length (it ends where it starts, {end:.2f} s)")
        out.append(_inside(float(ln.start_s or 0.0), float(end), take, f"lines: {lid!r}", clip=True))
    return out


def _some(ids: Any, most: int = 12) -> str:
    ids = list(ids)
    return ", ".join(ids[:most]) + (f" … {len(ids)} in all" if len(ids) > most else "") if ids else "none"


def merge(spans: list[tuple[float, float]]) -> tuple[TimeRange, ...]:
    """Sorted, with overlapping and touching spans joined: one range per seam pair."""
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple(TimeRange(a, b) for a, b in out)


def plan(song: Song, req: Regenerate, backends: tuple[str, ...] | None = None) -> Plan:
    """Check ``req`` against ``song`` whole; raise SongBridgeError naming the field at fault, or return the plan."""
    from engine.backends.base import EditSpec

    for name, x in (("extend_s", req.extend_s), ("extend_bars", req.extend_bars)):
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x) or not 0 <= x <= MAX_EXTEND:
            raise SongBridgeError(f"{name}: must be 0..{MAX_EXTEND:g}, got {x!r}")
    if req.extend_s and req.extend_bars:
        raise SongBridgeError("extend: give seconds or bars, not both")
    if 0 < req.extend_s < MIN_EXTEND_S or 0 < req.extend_bars < MIN_EXTEND_BARS:
        raise SongBridgeError(f"extend: at least {MIN_EXTEND_S:g} s or {MIN_EXTEND_BARS:g} bar, got "
                              f"{req.extend_s or req.extend_bars:g}")
    if not (req.sections or req.bars or req.seconds or req.lines or req.extend_s or req.extend_bars):
        raise SongBridgeError("nothing to regenerate: give a section, bars, seconds or lyric lines (or extend)")
    if len(req.sections) + len(req.bars) + len(req.seconds) > MAX_RANGES or len(req.lines) > MAX_LINES:
        raise SongBridgeError(f"at most {MAX_RANGES} ranges and {MAX_LINES} lines in one regeneration")
    if not isinstance(req.takes, int) or not 1 <= req.takes <= MAX_TAKES:
        raise SongBridgeError(f"takes: must be 1..{MAX_TAKES}, got {req.takes!r}")
    if req.seed is not None and (not isinstance(req.seed, int) or not 0 <= req.seed < 2**32):
        raise SongBridgeError(f"seed: must be 0..4294967295, got {req.seed!r}")
    sections = [find_section(song, name) for name in req.sections]
    bars = [_check_pair(a, b, "bars") for a, b in req.bars]
    for a, b in bars:
        if a < 1:
            raise SongBridgeError(f"bars {a:g}-{b:g}: bars count from 1")
    seconds = [_check_pair(a, b, "seconds") for a, b in req.seconds]
    # The default take is the accepted take of the section asked for: by name, else the first line's, else the one
    # the first range starts in.
    anchor = sections[0] if sections else None
    if anchor is None and req.lines:
        first = next((ln for ln in song.lyrics if ln.id == req.lines[0]), None)
        if first is not None and first.section_id is not None:
            anchor = song.section(first.section_id)
    if anchor is None and (bars or seconds):
        anchor = song.section_at(song.tempo.bars_to_seconds(bars[0][0]) if bars else seconds[0][0])
    take = base_take(song, req.take, anchor)
    spans = [_inside(s.start_s, s.end_s, take, f"section {s.name!r}") for s in sections]
    for a, b in bars:
        what = f"bars {a:g}-{b:g}"
        last = song.tempo.seconds_to_bars(take.duration_s)
        if song.tempo.bars_to_seconds(b) > take.duration_s + END_SLACK_S:
            raise SongBridgeError(f"{what}: past the end of {take.id}, which ends at bar {last:.4g} "
                                  f"({take.duration_s:.2f} s); ranges past the song's end are refused")
        spans.append(_inside(song.tempo.bars_to_seconds(a), song.tempo.bars_to_seconds(b), take, what))
    spans += [_inside(a, b, take, f"seconds {a:g}-{b:g}") for a, b in seconds]
    spans += _line_spans(song, req.lines, take)
    duration, extend = None, ""
    if req.extend_s or req.extend_bars:
        end = take.duration_s
        more = req.extend_s or (song.tempo.bars_to_seconds(song.tempo.seconds_to_bars(end) + req.extend_bars) - end)
        spans.append((end, end + more))
        duration = end + more
        extend = f"{req.extend_bars:g} bars" if req.extend_bars else f"{req.extend_s:g} s"
    new_song = song
    if req.lyrics:
        known = {ln.id for ln in song.lyrics}
        for lid, text in req.lyrics:
            if lid not in known:
                raise SongBridgeError(f"lyrics: {lid!r} is not a lyric line of the song")
            if not isinstance(text, str) or "\n" in text or len(text) > MAX_LYRIC:
                raise SongBridgeError(f"lyrics: the new words for {lid!r} must be one line of at most {MAX_LYRIC} "
                                      "characters")
        texts = dict(req.lyrics)
        new_song = song.with_lyrics(replace(ln, text=texts[ln.id].strip()) if ln.id in texts else ln
                                    for ln in song.lyrics)
    if req.style is not None:
        new_song = new_song.replace(style=req.style)
    backend = req.backend or take.backend
    if duration is not None and take.backend == "guide":  # a neural backend makes a cover of a draft, whole
        raise SongBridgeError(f"extend: {take.id} is a guide draft; a song backend remakes a draft whole (a cover): "
                              "make a take of it first, then continue that take")
    if duration is not None and not req.backend:  # continuing, no backend named: the take's if it can continue
        from engine.backends import registry

        backend = take.backend if take.backend in registry.CONTINUES else registry.CONTINUES[0]
    if backends is not None and backend not in backends:
        raise SongBridgeError(f"backend: no backend {backend!r}; backends: {', '.join(backends)}")
    if duration is not None and backends is not None:
        from engine.backends import registry

        if backend not in registry.CONTINUES:
            raise SongBridgeError(f"extend: the {backend} backend cannot continue a take past its end; backends that "
                                  f"can: {', '.join(registry.CONTINUES)} (give backend)")
    if req.params and backends is not None:  # named, typed and in range for that backend
        from engine.backends import registry

        registry.check_request_params(backend, req.params, "parameter {name}")
    parts = [s.name for s in sections]
    parts += [f"bars {a:g}-{b:g}" for a, b in bars] + [f"{a:g}-{b:g} s" for a, b in seconds]
    parts += [f"{len(req.lines)} line{'s' if len(req.lines) > 1 else ''}"] if req.lines else []
    label = f"{', '.join(parts)} of {take.id}" if parts else ""
    if extend:
        label = f"{label} and " if label else ""
        label += f"continue {take.id} by {extend}"
    section = sections[0].name if len(sections) == 1 and not (bars or seconds or req.lines or extend) else None
    return Plan(take, EditSpec(take.id, merge(spans)), new_song, backend, label, section, duration)
