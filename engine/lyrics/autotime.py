"""Auto-timing: give untimed lyric lines start times on bar lines, weighted by their syllables.

Each line gets about ``bars_per_line`` bars (default 2), more when it has more syllables than the average line
of its section and fewer when it has less, rounded to whole bars.

Where lines go:

- a line that names its section (an LRC header matched by :func:`engine.lyrics.convert.match_headers`) goes to
  that section, instrumental kinds included (an intro ad-lib stays in the intro);
- lines without a section fill the vocal sections (not intros, solos, breaks, outros) that lie between the
  sections of their neighbours, in order, ``bars_per_line`` bars each; when there are more of them than those
  sections hold, they are shared out in proportion to the sections' lengths;
- so untimed lines keep their order in time.

When a section's lines get fewer bars than ``bars_per_line`` asks, they are placed on beats inside it; when they
get fewer than their syllables need (:mod:`engine.lyrics.phrasing`, the rule timed lines are judged by too), that
is a warning. A line is never moved into another section. Lines that are already timed keep their times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from engine.song.model import LyricLine, Section
from engine.song.tempo import Grid, TempoMap

from .phrasing import line_bars, squeeze_message

INSTRUMENTAL_KINDS = frozenset(
    {"intro", "outro", "instrumental", "inst", "solo", "interlude", "break", "breakdown", "drop", "ending", "end",
     "coda", "build", "buildup"}
)


def _quote(ln: LyricLine) -> str:
    return repr(ln.text if len(ln.text) <= 40 else ln.text[:37] + "...")


def _place(lines: list[LyricLine], start_bar: float, bars: float | None, tempo: TempoMap, bars_per_line: float,
           syllables: Callable[[str], int], where: str = "", warnings: list[str] | None = None,
           ) -> tuple[list[LyricLine], float]:
    """Times for ``lines`` from ``start_bar`` within ``bars`` (None: unbounded). Returns the next free bar."""
    if not lines:
        return [], start_bar
    counts = [max(1, syllables(ln.text)) if ln.text.strip() else 0 for ln in lines]
    sung = [c for c in counts if c]
    mean = sum(sung) / len(sung) if sung else 1.0
    lengths = [max(1.0, round(bars_per_line * c / mean)) if c else 1.0 for c in counts]
    total = sum(lengths)
    scale = 1.0 if bars is None or total <= bars else bars / total
    grid = Grid.BAR
    if scale < 1.0:  # squeezed: the coarsest of beats, eighths and sixteenths that gives every line a slot
        beats = bars * tempo.meter.numerator  # type: ignore[operator]
        grid = next((g for g, per_beat in ((Grid.BEAT, 1), (Grid.EIGHTH, 2), (Grid.SIXTEENTH, 4))
                     if len(lines) <= beats * per_beat), Grid.SIXTEENTH)
    end_s = None if bars is None else tempo.bars_to_seconds(start_bar + bars)
    # Placed closer than bars_per_line is fine while every line still has the bars its syllables need; beyond
    # that the section is squeezed, by the rule timed lines are judged by (engine.lyrics.phrasing).
    need = sum(line_bars(c, tempo) for c in counts if c)
    if scale < 1.0 and need > bars + 1e-6 and warnings is not None:  # type: ignore[operator]
        warnings.append(squeeze_message(where, bars, [ln.text for ln in lines if ln.text.strip()] or
                                        [ln.text for ln in lines], need, "onto beats"))
    out, pos = [], start_bar
    seen: dict[float, LyricLine] = {}
    for ln, length in zip(lines, lengths, strict=True):
        t = max(0.0, tempo.snap(tempo.bars_to_seconds(pos), grid))
        if end_s is not None and t >= end_s - 1e-9:  # rounded onto the next section: the last slot inside
            step_s = grid.step_quarters(tempo.meter) * 60.0 / tempo.bpm
            t = max(tempo.bars_to_seconds(start_bar), end_s - step_s)
        if t in seen and warnings is not None:
            warnings.append(f"line {_quote(ln)} does not fit in {where}: it shares a beat with {_quote(seen[t])}; "
                            "give the section more bars or time the lines by hand")
        seen.setdefault(t, ln)
        out.append(replace(ln, start_s=t))
        pos += length * scale
    return out, pos


def _share(n: int, capacities: list[int], bars: list[float]) -> list[int]:
    """How many of ``n`` lines each section takes: in order up to capacity, or in proportion when over."""
    if n <= sum(capacities):
        out, left = [], n
        for c in capacities:
            out.append(min(c, left))
            left -= out[-1]
        return out
    total = sum(bars)
    raw = [n * b / total for b in bars]
    out = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - out[i], reverse=True)[: n - sum(out)]:
        out[i] += 1
    return out


def auto_time(
    lines: Sequence[LyricLine],
    tempo: TempoMap,
    sections: Sequence[Section] = (),
    *,
    bars_per_line: float = 2.0,
    first_bar: int = 1,
    syllables: Callable[[str], int] | None = None,
    warnings: list[str] | None = None,
) -> list[LyricLine]:
    """Return ``lines`` with every untimed line timed. Order is kept; problems are appended to ``warnings``."""
    if bars_per_line <= 0:
        raise ValueError(f"bars per line must be > 0, got {bars_per_line}")
    if syllables is None:
        from .g2p import syllable_count as syllables
    untimed = [ln for ln in lines if ln.start_s is None]
    if not untimed:
        return list(lines)
    ordered = sorted(sections, key=lambda s: s.start_s)
    if not ordered:
        placed, _ = _place(untimed, float(first_bar), None, tempo, bars_per_line, syllables)
        by_id = {ln.id: ln for ln in placed}
        return [by_id.get(ln.id, ln) for ln in lines]
    index = {s.id: i for i, s in enumerate(ordered)}
    span = [(tempo.seconds_to_bars(s.start_s), tempo.seconds_to_bars(s.end_s) - tempo.seconds_to_bars(s.start_s))
            for s in ordered]
    # Runs of consecutive untimed lines: those with a section, and those without (None).
    runs: list[tuple[str | None, list[LyricLine]]] = []
    for ln in untimed:
        sid = ln.section_id if ln.section_id in index else None
        if runs and runs[-1][0] == sid:
            runs[-1][1].append(ln)
        else:
            runs.append((sid, [ln]))
    claimed = {sid for sid, _ in runs if sid is not None}
    per_section: dict[int, list[LyricLine]] = {}
    for r, (sid, run) in enumerate(runs):
        if sid is not None:
            per_section.setdefault(index[sid], []).extend(run)
            continue
        before = max((index[s] for s, _ in runs[:r] if s is not None), default=-1)
        after = min((index[s] for s, _ in runs[r + 1:] if s is not None), default=len(ordered))
        free = [i for i in range(before + 1, after)
                if ordered[i].kind not in INSTRUMENTAL_KINDS and ordered[i].id not in claimed]
        if not free:  # nowhere between the neighbours: stay with the previous section (or the next one)
            home = before if before >= 0 else min(after, len(ordered) - 1)
            if warnings is not None:
                warnings.append(f"lines {_quote(run[0])} to {_quote(run[-1])} have no section of their own and no "
                                f"free vocal section around them: they are placed in {ordered[home].name}")
            per_section.setdefault(home, []).extend(replace(ln, section_id=ordered[home].id) for ln in run)
            continue
        caps = [max(1, int(round(span[i][1] / bars_per_line))) for i in free]
        counts = _share(len(run), caps, [span[i][1] for i in free])
        pos = 0
        for i, k in zip(free, counts, strict=True):
            per_section.setdefault(i, []).extend(replace(ln, section_id=ordered[i].id) for ln in run[pos:pos + k])
            pos += k
    by_id: dict[str, LyricLine] = {}
    for i, group in per_section.items():
        start_bar, bars = span[i]
        placed, _ = _place(group, start_bar, bars, tempo, bars_per_line, syllables, ordered[i].name, warnings)
        by_id.update({ln.id: ln for ln in placed})
    return [by_id.get(ln.id, ln) for ln in lines]
