"""Section edits as pure functions (Song in, Song out), for every front-end that edits the arrangement: add, rename,
change kind, resize, move, split, merge and delete.

Times are seconds; callers snap them to bars first (the app snaps to the bar grid unless Shift is held). Sections
never overlap: a resize or a move stops at the neighbouring section. The lyric lines *inside* a section (its own
lines, and timed lines that start within it) follow a move (shifted by the same time) and a resize (mapped from the
old span onto the new one, so each keeps its place within the section), word stamps included, unless
``follow=False``. An impossible edit raises ValueError with a sentence saying why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace

from .model import LyricLine, Section, Song, WordTime
from .sections import SECTION_COLORS
from .tempo import Grid

#: The kinds the app offers (any name works; these get their colours and numbering).
KINDS = ("intro", "verse", "pre-chorus", "chorus", "bridge", "solo", "break", "outro")
MIN_SECTION_S = 0.1
DEFAULT_COLOR = "#607080"


def kind_title(kind: str) -> str:
    """``"pre-chorus"`` -> ``"Pre-Chorus"``."""
    return "-".join(part.capitalize() for part in kind.strip().lower().split("-"))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:56] or "section"


def _free_id(song: Song, name: str, taken: Iterable[str] = ()) -> str:
    used = {s.id for s in song.sections} | set(taken)
    base = _slug(name)
    sid, n = base, 2
    while sid in used:
        sid, n = f"{base}-{n}", n + 1
    return sid


def _ordered(sections: Iterable[Section]) -> tuple[Section, ...]:
    return tuple(sorted(sections, key=lambda s: s.start_s))


def renumber(sections: Iterable[Section], kinds: Iterable[str]) -> tuple[Section, ...]:
    """Sections of each kind in ``kinds`` numbered in time order ("Verse 1", "Verse 2"; one alone is "Verse").
    Only names the app gave (the kind, with or without a number) change; a name the producer chose stays."""
    out = list(_ordered(sections))
    for kind in {k.lower() for k in kinds}:
        title = kind_title(kind)
        auto = re.compile(rf"^{re.escape(title)}(\s+\d+)?$", re.IGNORECASE)
        mine = [i for i, s in enumerate(out) if s.kind == kind]
        for n, i in enumerate(mine, 1):
            if auto.match(out[i].name.strip()):
                out[i] = replace(out[i], name=title if len(mine) == 1 else f"{title} {n}")
    return tuple(out)


def lines_in(song: Song, section_id: str) -> set[str]:
    """Ids of the lines of a section: those assigned to it and the timed lines that start inside it."""
    sec = song.section(section_id)
    return {ln.id for ln in song.lyrics
            if ln.section_id == section_id or (ln.start_s is not None and ln.section_id is None
                                               and sec.start_s <= ln.start_s < sec.end_s)}


def _retime(line: LyricLine, f: Callable[[float], float]) -> LyricLine:
    if line.start_s is None:
        return line
    start = max(0.0, f(line.start_s))
    end = None if line.end_s is None else max(start, f(line.end_s))
    words = tuple(WordTime(max(0.0, f(w.start_s)), w.text, None if w.end_s is None else max(0.0, f(w.end_s)))
                  for w in line.words)
    return replace(line, start_s=start, end_s=end, words=words)


def _neighbours(song: Song, section_id: str) -> tuple[float, float]:
    """The free span a section may take: from the end of the section before it to the start of the one after."""
    sec = song.section(section_id)
    before = [s.end_s for s in song.sections if s.id != section_id and s.start_s < sec.start_s]
    after = [s.start_s for s in song.sections if s.id != section_id and s.start_s >= sec.start_s]
    return max(before, default=0.0), min(after, default=float("inf"))


def _with(song: Song, sections: Iterable[Section], lines: Iterable[LyricLine] | None = None,
          dropped: Iterable[str] = ()) -> Song:
    gone = set(dropped)
    accepted = {k: v for k, v in song.accepted.items() if k not in gone}
    lyrics = song.lyrics if lines is None else tuple(lines)
    lyrics = tuple(replace(ln, section_id=None) if ln.section_id in gone else ln for ln in lyrics)
    return song.replace(sections=_ordered(sections), lyrics=lyrics, accepted=accepted)


def add_section(song: Song, kind: str, start: float, end: float | None = None, *, bars: int = 4,
                name: str | None = None) -> Song:
    """A section of ``kind`` from ``start`` to ``end`` (or ``bars`` bars), trimmed to the gap it lands in; a start
    inside a section moves to that section's end. Sections of the kind are numbered again."""
    kind = kind.strip().lower()
    if not kind:
        raise ValueError("a section needs a kind or a name")
    tm = song.tempo
    if end is None:
        end = tm.bars_to_seconds(tm.seconds_to_bars(start) + bars)
    for s in _ordered(song.sections):
        if s.start_s <= start < s.end_s:
            start = s.end_s
        if start < s.start_s < end:
            end = s.start_s
    if end - start < MIN_SECTION_S:
        raise ValueError(f"no room for a section at {start:.2f} s: sections are there already")
    title = name.strip() if name and name.strip() else kind_title(kind)
    sec = Section(_free_id(song, title), title, max(0.0, start), end, SECTION_COLORS.get(kind, DEFAULT_COLOR))
    return _with(song, renumber((*song.sections, sec), [sec.kind]))


def rename_section(song: Song, section_id: str, name: str) -> Song:
    name = name.strip()
    if not name:
        raise ValueError("a section's name cannot be empty")
    if "\n" in name or len(name) > 64:
        raise ValueError("a section's name is one line of at most 64 characters")
    old = song.section(section_id)
    sections = [replace(s, name=name) if s.id == section_id else s for s in song.sections]
    kind = re.sub(r"[\s_-]*\d+$", "", name.lower())
    if kind in SECTION_COLORS and old.kind != kind:
        sections = [replace(s, color=SECTION_COLORS[kind]) if s.id == section_id else s for s in sections]
    return _with(song, sections)


def set_kind(song: Song, section_id: str, kind: str) -> Song:
    """The section becomes a ``kind`` (its name and colour); both kinds are numbered again."""
    kind = kind.strip().lower()
    if not kind:
        raise ValueError("choose a kind such as verse or chorus")
    old = song.section(section_id)
    sections = [replace(s, name=kind_title(kind), color=SECTION_COLORS.get(kind, DEFAULT_COLOR))
                if s.id == section_id else s for s in song.sections]
    return _with(song, renumber(sections, [old.kind, kind]))


def resize_section(song: Song, section_id: str, start: float, end: float, *, follow: bool = True) -> Song:
    """New bounds (stopping at the neighbours); with ``follow`` the section's lines keep their place in it."""
    sec = song.section(section_id)
    lo, hi = _neighbours(song, section_id)
    start, end = max(lo, start), min(hi, end)
    if end - start < MIN_SECTION_S:
        raise ValueError(f"{sec.name} would be too short ({end - start:.2f} s)")
    new = replace(sec, start_s=start, end_s=end)
    sections = [new if s.id == section_id else s for s in song.sections]
    if not follow:
        return _with(song, sections)
    inside = lines_in(song, section_id)
    scale = (end - start) / (sec.end_s - sec.start_s)

    def f(t: float) -> float:
        return start + (t - sec.start_s) * scale

    return _with(song, sections, (_retime(ln, f) if ln.id in inside else ln for ln in song.lyrics))


def move_section(song: Song, section_id: str, start: float, *, follow: bool = True) -> Song:
    """The section starts at ``start`` (kept within the gap between its neighbours), its length kept; with
    ``follow`` its lines move with it."""
    sec = song.section(section_id)
    length = sec.end_s - sec.start_s
    lo, hi = _neighbours(song, section_id)
    if hi - lo < length - 1e-9:
        raise ValueError(f"{sec.name} does not fit between its neighbours")
    start = min(max(lo, start), hi - length)
    dt = start - sec.start_s
    sections = [replace(s, start_s=start, end_s=start + length) if s.id == section_id else s for s in song.sections]
    if not follow or dt == 0:
        return _with(song, sections)
    inside = lines_in(song, section_id)
    return _with(song, sections, (_retime(ln, lambda t: t + dt) if ln.id in inside else ln for ln in song.lyrics))


def split_section(song: Song, section_id: str, at: float) -> Song:
    """Two sections of the same kind, the second from ``at``; lines from ``at`` on go to the second."""
    sec = song.section(section_id)
    if not sec.start_s + MIN_SECTION_S <= at <= sec.end_s - MIN_SECTION_S:
        raise ValueError(f"split {sec.name} inside it ({sec.start_s:.2f}-{sec.end_s:.2f} s), not at {at:.2f} s")
    inside = lines_in(song, section_id)
    second = Section(_free_id(song, sec.name), sec.name, at, sec.end_s, sec.color)
    sections = [replace(s, end_s=at) if s.id == section_id else s for s in song.sections] + [second]
    lines = (replace(ln, section_id=second.id) if ln.id in inside and ln.start_s is not None and ln.start_s >= at
             else ln for ln in song.lyrics)
    return _with(song, renumber(sections, [sec.kind]), lines)


def merge_sections(song: Song, section_id: str) -> Song:
    """The section and the one after it become one (the first's name, up to the second's end); the second's
    lines join the first."""
    ordered = _ordered(song.sections)
    i = next(i for i, s in enumerate(ordered) if s.id == section_id)
    if i + 1 >= len(ordered):
        raise ValueError(f"{ordered[i].name} is the last section: there is none after it to merge with")
    first, second = ordered[i], ordered[i + 1]
    sections = [replace(s, end_s=second.end_s) if s.id == first.id else s for s in ordered if s.id != second.id]
    lines = (replace(ln, section_id=first.id) if ln.section_id == second.id else ln for ln in song.lyrics)
    return _with(song, renumber(sections, [second.kind]), lines, dropped=[second.id])


def delete_section(song: Song, section_id: str) -> Song:
    """The section goes; its lines stay where they are, in no section."""
    sec = song.section(section_id)
    rest = [s for s in song.sections if s.id != section_id]
    return _with(song, renumber(rest, [sec.kind]), dropped=[section_id])


def snap_bar(song: Song, t: float) -> float:
    """``t`` on the nearest bar line."""
    return max(0.0, song.tempo.snap(t, Grid.BAR))
