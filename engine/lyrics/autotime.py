"""Auto-timing: give untimed lyric lines start times on bar lines, weighted by their syllables.

Each line gets about ``bars_per_line`` bars (default 2), more when it has more syllables than the average line
of its section and fewer when it has less, rounded to whole bars. Lines go into the song's vocal sections in
order (intro, solos, breaks and outros stay instrumental); a line that names its section (from an LRC header
such as ``[chorus]``) goes to that section. When a section's lines need more bars than it has, they are
squeezed onto beats. Lines that are already timed keep their times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from engine.song.model import LyricLine, Section
from engine.song.tempo import Grid, TempoMap

INSTRUMENTAL_KINDS = frozenset(
    {"intro", "outro", "instrumental", "inst", "solo", "interlude", "break", "breakdown", "drop", "ending", "end",
     "coda", "build", "buildup"}
)


def _place(lines: list[LyricLine], start_bar: float, bars: float | None, tempo: TempoMap, bars_per_line: float,
           syllables: Callable[[str], int]) -> tuple[list[LyricLine], float]:
    """Times for ``lines`` from ``start_bar`` within ``bars`` (None: unbounded). Returns the next free bar."""
    if not lines:
        return [], start_bar
    counts = [max(1, syllables(ln.text)) if ln.text.strip() else 0 for ln in lines]
    sung = [c for c in counts if c]
    mean = sum(sung) / len(sung) if sung else 1.0
    lengths = [max(1.0, round(bars_per_line * c / mean)) if c else 1.0 for c in counts]
    total = sum(lengths)
    scale = 1.0 if bars is None or total <= bars else bars / total
    grid = Grid.BAR if scale == 1.0 else Grid.BEAT
    out, pos = [], start_bar
    for ln, length in zip(lines, lengths, strict=True):
        t = tempo.snap(tempo.bars_to_seconds(pos), grid)
        out.append(replace(ln, start_s=max(0.0, t)))
        pos += length * scale
    return out, pos


def auto_time(
    lines: Sequence[LyricLine],
    tempo: TempoMap,
    sections: Sequence[Section] = (),
    *,
    bars_per_line: float = 2.0,
    first_bar: int = 1,
    syllables: Callable[[str], int] | None = None,
) -> list[LyricLine]:
    """Return ``lines`` with every untimed line timed. Order is kept."""
    if bars_per_line <= 0:
        raise ValueError(f"bars per line must be > 0, got {bars_per_line}")
    if syllables is None:
        from .g2p import syllable_count as syllables  # noqa: PLC0415
    untimed = [ln for ln in lines if ln.start_s is None]
    if not untimed:
        return list(lines)
    timed_by_id: dict[str, LyricLine] = {}
    vocal = [s for s in sorted(sections, key=lambda s: s.start_s) if s.kind not in INSTRUMENTAL_KINDS]
    if not vocal:
        placed, _ = _place(untimed, float(first_bar), None, tempo, bars_per_line, syllables)
        timed_by_id = {ln.id: ln for ln in placed}
    else:
        # Lines that name a section go there; the rest fill vocal sections in order, bars_per_line each.
        assigned: dict[str, list[LyricLine]] = {s.id: [] for s in vocal}
        free = [ln for ln in untimed if ln.section_id not in assigned]
        for ln in untimed:
            if ln.section_id in assigned:
                assigned[ln.section_id].append(ln)
        queue = list(free)
        for s in vocal:
            if assigned[s.id] or not queue:
                continue
            bars = tempo.seconds_to_bars(s.end_s) - tempo.seconds_to_bars(s.start_s)
            take = max(1, int(round(bars / bars_per_line)))
            assigned[s.id] = [replace(ln, section_id=s.id) for ln in queue[:take]]
            queue = queue[take:]
        for s in vocal:
            start_bar = tempo.seconds_to_bars(s.start_s)
            bars = tempo.seconds_to_bars(s.end_s) - start_bar
            placed, _ = _place(assigned[s.id], start_bar, bars, tempo, bars_per_line, syllables)
            timed_by_id.update({ln.id: ln for ln in placed})
        last_bar = tempo.seconds_to_bars(max(x.end_s for x in sections))
        if queue:  # more lines than the sections hold: carry on after the last section
            placed, _ = _place(queue, round(last_bar), None, tempo, bars_per_line, syllables)
            timed_by_id.update({ln.id: ln for ln in placed})
    return [timed_by_id.get(ln.id, ln) for ln in lines]
