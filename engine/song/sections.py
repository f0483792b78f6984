"""Sections from a compact spec such as ``"intro:4,verse:16,chorus:8"`` (names and lengths in bars)."""

from __future__ import annotations

import re

from .model import Section
from .tempo import TempoMap

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
