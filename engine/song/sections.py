"""Sections from a compact spec such as ``"intro:4,verse:16,chorus:8"`` (names and lengths in bars), or from the
lyrics' section headers (:func:`sections_from_lyrics`)."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from .model import Section
from .tempo import TempoMap

if TYPE_CHECKING:
    from engine.lyrics.lrc import LrcDocument, LrcLine

#: Colours the timeline uses for section kinds (dark-theme friendly).
SECTION_COLORS = {
    "intro": "#5b6b8c", "verse": "#4f8a6b", "pre-chorus": "#8a7a4f", "prechorus": "#8a7a4f", "chorus": "#a8564f",
    "hook": "#a8564f", "bridge": "#7a5b8c", "solo": "#4f7f8a", "instrumental": "#4f7f8a", "break": "#666666",
    "outro": "#5b6b8c",
}
_ITEM = re.compile(r"^\s*([A-Za-z][A-Za-z _-]*?)\s*(\d+)?\s*:\s*(\d+)\s*$")


def parse_sections(spec: str, tempo: TempoMap, first_bar: int = 1) -> tuple[Section, ...]:
    """``"intro:4,verse:16,chorus:8,verse:16"`` -> sections laid end to end from ``first_bar``.

    Repeated kinds are numbered ("Verse 1", "Verse 2"). Raises ValueError naming the bad item.
    """
    items = [x for x in spec.split(",") if x.strip()]
    if not items:
        raise ValueError("sections: give at least one item such as 'verse:16'")
    parsed = []
    for item in items:
        m = _ITEM.match(item)
        if not m:
            raise ValueError(f"sections: {item.strip()!r} must be NAME:BARS, such as 'chorus:8'")
        name, bars = m.group(1).strip().lower(), int(m.group(3))
        if not 1 <= bars <= 512:
            raise ValueError(f"sections: {item.strip()!r} must last 1..512 bars")
        parsed.append((name, bars))
    totals: dict[str, int] = {}
    for name, _ in parsed:
        totals[name] = totals.get(name, 0) + 1
    counters: dict[str, int] = {}
    out, bar = [], first_bar
    for name, bars in parsed:
        counters[name] = counters.get(name, 0) + 1
        title = name.title() + (f" {counters[name]}" if totals[name] > 1 else "")
        sid = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        out.append(Section(sid, title, tempo.bars_to_seconds(bar), tempo.bars_to_seconds(bar + bars),
                           SECTION_COLORS.get(name, "#607080")))
        bar += bars
    return tuple(out)


def section_bars(section: Section, tempo: TempoMap) -> tuple[float, float]:
    """(first bar, number of bars) of a section."""
    a = tempo.seconds_to_bars(section.start_s)
    return a, tempo.seconds_to_bars(section.end_s) - a


# -- sections from the lyrics' headers ----------------------------------------------------------------------
#: Bars for a header with no lines under it (``[solo]``, ``[intro]``), by kind; others get ``_EMPTY_BARS``.
_EMPTY_BARS = 8
_EMPTY_BARS_BY_KIND = {"intro": 4, "outro": 4, "ending": 4, "end": 4, "coda": 4, "tag": 4, "break": 4, "build": 4,
                       "buildup": 4}
#: Lengths a section is rounded up to when it is close to one (in bars).
PREFERRED_BARS = (4, 8, 16)


def _preferred(bars: int) -> int:
    """``bars`` rounded up to 4, 8 or 16: up to 4 always, beyond when that adds at most a third (6 -> 8,
    12 -> 16), else kept (5, 10, 20)."""
    if bars <= PREFERRED_BARS[0]:
        return PREFERRED_BARS[0]
    for p in PREFERRED_BARS:
        if bars <= p and p - bars <= bars // 3:
            return p
    return bars


def _display(header: str) -> tuple[str, str]:
    """``"pre-chorus 2"`` -> (``"prechorus"``, ``"Pre-Chorus"``): the kind headers are matched by, and its name."""
    from engine.lyrics.convert import split_header

    kind, _ = split_header(header)
    m = re.fullmatch(r"\s*(.*?)[\s_-]*(\d+)?\s*", header)
    words = (m.group(1) if m and m.group(1).strip() else header).strip()
    return kind, re.sub(r"[A-Za-z]+", lambda w: w.group(0).capitalize(), words) or "Section"


def sections_from_lyrics(lyrics: LrcDocument | str, tempo: TempoMap, *,
                         duration_s: float | None = None) -> tuple[list[Section], list[str]]:
    """The sections the lyrics' headers (``[verse]``, ``[Chorus 2]``, ``[bridge]``) describe, laid on bars.

    ``lyrics`` is a parsed LRC document or lyrics text (parsed here; a malformed stamp raises
    :class:`engine.errors.LyricsError`). Every header makes a section in song order, named and numbered as
    :func:`engine.lyrics.convert.match_headers` matches headers to sections ("Verse 1", "Verse 2", "Chorus"), so
    ``lines_from_lrc(doc, sections)`` puts every line under its own header's section.

    Lengths, in whole bars of ``tempo``:

    - timed lyrics: a section starts on the bar of its first line's stamp (a stamp up to a beat early, a pickup,
      counts for the next bar) and ends where the next one starts; a gap before the first line becomes an
      "Intro"; the last section ends after its last line has been sung;
    - untimed lyrics (and headers whose lines have no stamps): each line gets the whole bars its syllables need
      at the tempo (:func:`engine.lyrics.phrasing.line_bars`), and the section's total is rounded up to 4, 8 or
      16 bars when that is close; a header with no lines (``[solo]``) gets 8 bars (4 for intros, outros, breaks).

    ``duration_s`` (seconds): the song's length when it is known; time left after the last section becomes an
    "Outro"; sections that run past it are kept (their lines keep their places) and named in a warning. Lyrics
    without headers give no sections.

    Returns (sections in time order, warnings: one sentence each, for the terminal or the app).
    """
    from engine.lyrics.g2p import syllable_count
    from engine.lyrics.lrc import LrcDocument as _Doc
    from engine.lyrics.lrc import LrcHeader, parse
    from engine.lyrics.phrasing import line_bars

    doc = parse(lyrics) if isinstance(lyrics, str) else lyrics
    if not isinstance(doc, _Doc):
        raise TypeError(f"lyrics must be an LrcDocument or text, got {type(lyrics).__name__}")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"the song's duration must be > 0 s, got {duration_s!r}")
    warnings: list[str] = []
    headers = list(doc.headers) or [LrcHeader(b, name, 0) for b, name in
                                    dict.fromkeys((ln.block, ln.section) for ln in doc.lines if ln.section)]
    if not headers:
        return [], warnings
    names = {h.block: h.name for h in headers}
    per_bar = tempo.meter.numerator

    def bar_of(t: float) -> int:  # a stamp up to a beat before a bar line sings a pickup into that bar
        return math.floor(tempo.seconds_to_bars(t) + 1.0 / per_bar + 1e-6)

    def needed(lines: list[LrcLine]) -> int:
        return sum(line_bars(syllable_count(ln.text) if ln.text.strip() else 0, tempo) for ln in lines)

    # Segments in song order: (block, lines, first bar if pinned by a stamp).
    segments: list[tuple[int, list[LrcLine], int | None]] = []
    timed = [ln for ln in doc.lines if ln.time_ms is not None]
    if timed:
        for ln in timed:  # runs of consecutive lines under one header (a repeated chorus is a run each time)
            if segments and segments[-1][0] == ln.block:
                segments[-1][1].append(ln)
            else:
                segments.append((ln.block, [ln], bar_of(ln.time_ms / 1000)))
        placed = {b for b, _, _ in segments}
        for block in sorted({h.block for h in headers} | {0}):
            if block in placed:
                continue
            lines = [ln for ln in doc.lines if ln.block == block]
            if block == 0 and not lines:
                continue
            after = max((i for i, (b, _, _) in enumerate(segments) if b < block), default=-1,
                        key=lambda i: (segments[i][0], -i))
            segments.insert(after + 1, (block, lines, None))
            placed.add(block)
    else:
        for block in sorted({h.block for h in headers} | {0}):
            lines = [ln for ln in doc.lines if ln.block == block]
            if lines or block:
                segments.append((block, lines, None))
    # Lines before the first header are sung at the start of the section after them (or the one before).
    k = 0
    while k < len(segments):
        block, lines, pinned = segments[k]
        if block == 0 and len(segments) > 1:
            if k + 1 < len(segments):
                nb, nl, np_ = segments[k + 1]
                segments[k + 1] = (nb, lines + nl, pinned if pinned is not None else np_)
            else:
                pb, pl, pp = segments[k - 1]
                segments[k - 1] = (pb, pl + lines, pp)
            del segments[k]
            continue
        k += 1

    # Bars: pinned segments keep their first bar; the others follow on with the bars their lines need.
    spans: list[tuple[int, list[LrcLine], int, int]] = []  # (block, lines, first bar, bars)
    i = 0
    bar = 1
    while i < len(segments):
        block, lines, pinned = segments[i]
        j = i + 1
        while j < len(segments) and segments[j][2] is None:
            j += 1
        nxt = segments[j][2] if j < len(segments) else None  # the next pinned bar, if any
        start = pinned if pinned is not None else bar
        if spans:
            start = max(start, spans[-1][2] + spans[-1][3])  # never before the previous section's end
        group = segments[i:j]
        wants = []
        for k, (b, ls, p) in enumerate(group):
            if not ls:
                kind = _display(names.get(b, "section"))[0]
                wants.append(_EMPTY_BARS_BY_KIND.get(kind, _EMPTY_BARS))
            elif k == 0 and p is not None:
                last = ls[-1]
                sung = bar_of(last.time_ms / 1000) - start + needed([last])
                wants.append(_preferred(max(1, sung)))
            else:
                wants.append(_preferred(needed(ls)))
        if nxt is not None:
            # Each takes what it needs while the room lasts; the time left (an instrumental gap) goes to the last.
            left = max(0, nxt - start)
            alloc: list[int] = []
            for want in wants:
                if left <= 0:
                    break
                alloc.append(min(want, left))
                left -= alloc[-1]
            if alloc:
                alloc[-1] += left
            for b, ls, _ in group[len(alloc):]:
                warnings.append(f"[{names.get(b, 'section')}] has no room before the next timed line (bar {nxt}): "
                                "it makes no section" + (f"; its {len(ls)} line(s) are sung in the section before"
                                                         if ls else ""))
            group, wants = group[:len(alloc)], alloc
        for (b, ls, _), n in zip(group, wants, strict=True):
            spans.append((b, ls, start, n))
            start += n
        bar = start
        i = j
    if not spans:
        return [], warnings

    # A lead-in before the first line is an intro (the first section's own when it is one).
    first_bar = 1
    kinds = [_display(names[b])[0] for b, _, _, _ in spans]
    if spans[0][2] > first_bar:
        b, ls, s, n = spans[0]
        if kinds[0] == "intro":
            spans[0] = (b, ls, first_bar, n + s - first_bar)
        else:
            spans.insert(0, (-1, [], first_bar, s - first_bar))
            kinds.insert(0, "intro")

    # Names: a kind is numbered when the song has it more than once or its header gives a number; a header's own
    # number is kept ("[Verse 3]" -> "Verse 3") unless an earlier header of its kind has it, and the others take
    # the smallest numbers left, in order.
    from engine.lyrics.convert import split_header

    labels = [("intro", "Intro") if b == -1 else _display(names[b]) for b, _, _, _ in spans]
    wanted = [split_header(names[b])[1] if b > 0 else None for b, _, _, _ in spans]
    totals: dict[str, int] = {}
    for kind, _ in labels:
        totals[kind] = totals.get(kind, 0) + 1
    given: dict[int, int] = {}  # span index -> its header's number, where it is the first to ask for it
    claimed: dict[str, set[int]] = {}
    for i, ((kind, _), n) in enumerate(zip(labels, wanted, strict=True)):
        if n is not None and n not in claimed.setdefault(kind, set()):
            claimed[kind].add(n)
            given[i] = n
    out: list[Section] = []
    used: set[str] = set()
    for i, ((_b, _ls, s, n), (kind, title)) in enumerate(zip(spans, labels, strict=True)):
        if i in given:
            number: int | None = given[i]
        elif totals[kind] > 1 or wanted[i] is not None:
            taken = claimed.setdefault(kind, set())
            number = next(k for k in range(1, len(spans) + 2) if k not in taken)
            taken.add(number)
        else:
            number = None
        name = title + (f" {number}" if number is not None else "")
        sid = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "section"
        base, k = sid, 2
        while sid in used:
            sid, k = f"{base}-{k}", k + 1
        used.add(sid)
        start_s, end_s = max(0.0, tempo.bars_to_seconds(s)), tempo.bars_to_seconds(s + n)
        if end_s <= start_s:
            continue
        out.append(Section(sid, name, start_s, end_s, SECTION_COLORS.get(_color_kind(kind), "#607080")))

    if duration_s is not None:
        out = _fit_duration(out, duration_s, tempo, warnings)
    return out, warnings


def _color_kind(kind: str) -> str:
    return {"prechorus": "pre-chorus", "inst": "instrumental"}.get(kind, kind)


def _fit_duration(sections: list[Section], duration_s: float, tempo: TempoMap, warnings: list[str]) -> list[Section]:
    """An Outro for the time after the sections; sections past ``duration_s`` are kept (the lines keep their
    places) and named in a warning, since they will not be heard."""
    late = [s.name for s in sections if s.end_s > duration_s + 1e-6]
    if late:
        warnings.append(f"the lyrics' sections run to {sections[-1].end_s:.1f} s, past the song's end "
                        f"({duration_s:.1f} s): {', '.join(late)} {'are' if len(late) > 1 else 'is'} not heard "
                        "whole")
        return sections
    end = sections[-1].end_s if sections else 0.0
    if duration_s - end >= tempo.bar_length_s(max(1, math.floor(tempo.seconds_to_bars(end)))) - 1e-6:
        used = {s.id for s in sections}
        sid = "outro" if "outro" not in used else "outro-end"
        name = "Outro" if not any(s.kind == "outro" for s in sections) else "Outro 2"
        sections = [*sections, Section(sid, name, end, duration_s, SECTION_COLORS["outro"])]
    return sections
