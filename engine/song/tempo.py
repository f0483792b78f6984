"""The tempo map: seconds <-> bars/beats/ticks and snapping.

Canonical time in SongBridge is seconds from the song start (what the model consumes). The tempo map turns it
into musical positions for display, snapping and the DAW. Tempo is in quarter notes per minute (as in MIDI,
REAPER and Live); a beat is one unit of the time signature's denominator (an eighth in 6/8). Segments start on
bar lines; bar 1 starts at ``bar1_s`` seconds (a pickup or pre-roll before it gives bars <= 0).
"""

from __future__ import annotations

import bisect
import enum
import math
from dataclasses import dataclass, field
from functools import cached_property

#: Ticks per quarter note, as in MIDI files and most DAWs.
PPQ = 960


@dataclass(frozen=True)
class TimeSignature:
    numerator: int = 4
    denominator: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.numerator <= 64:
            raise ValueError(f"time signature numerator must be 1..64, got {self.numerator}")
        if self.denominator not in (1, 2, 4, 8, 16, 32):
            raise ValueError(f"time signature denominator must be a power of two 1..32, got {self.denominator}")

    @classmethod
    def parse(cls, text: str) -> TimeSignature:
        """``"4/4"``, ``"6/8"``, ``"7/8"``."""
        try:
            num, den = text.strip().split("/")
            return cls(int(num), int(den))
        except ValueError as exc:
            raise ValueError(f"time signature must look like 4/4 or 6/8, got {text!r}") from exc

    @property
    def beat_quarters(self) -> float:
        """Length of one beat in quarter notes."""
        return 4.0 / self.denominator

    @property
    def bar_quarters(self) -> float:
        """Length of one bar in quarter notes."""
        return self.numerator * 4.0 / self.denominator

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


@dataclass(frozen=True)
class TempoSegment:
    """A tempo and meter in force from ``bar`` (1-based) until the next segment."""

    bar: int
    bpm: float
    meter: TimeSignature = field(default_factory=TimeSignature)

    def __post_init__(self) -> None:
        if not (isinstance(self.bpm, int | float) and math.isfinite(self.bpm) and 20.0 <= self.bpm <= 400.0):
            raise ValueError(f"tempo must be 20..400 bpm, got {self.bpm}")
        if self.bar < 1:
            raise ValueError(f"a tempo segment starts at bar 1 or later, got bar {self.bar}")


class Grid(enum.Enum):
    """Snap grids, from the user's point of view."""

    BAR = "bar"
    BEAT = "beat"
    EIGHTH = "1/8"
    SIXTEENTH = "1/16"
    QUARTER_TRIPLET = "1/4T"
    EIGHTH_TRIPLET = "1/8T"
    SIXTEENTH_TRIPLET = "1/16T"

    def step_quarters(self, meter: TimeSignature) -> float:
        """Grid step in quarter notes under ``meter``."""
        return {
            Grid.BAR: meter.bar_quarters,
            Grid.BEAT: meter.beat_quarters,
            Grid.EIGHTH: 0.5,
            Grid.SIXTEENTH: 0.25,
            Grid.QUARTER_TRIPLET: 2.0 / 3.0,
            Grid.EIGHTH_TRIPLET: 1.0 / 3.0,
            Grid.SIXTEENTH_TRIPLET: 1.0 / 6.0,
        }[self]


@dataclass(frozen=True)
class BarBeatTick:
    """A musical position: 1-based bar and beat, and ticks into the beat (``PPQ`` per quarter note)."""

    bar: int
    beat: int
    tick: int

    def __str__(self) -> str:
        return f"{self.bar}|{self.beat}|{self.tick:03d}"


@dataclass(frozen=True)
class TempoMap:
    """Tempo segments (the first at bar 1) and the position of bar 1 in seconds."""

    segments: tuple[TempoSegment, ...] = (TempoSegment(1, 120.0),)
    bar1_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.segments:
            raise ValueError("a tempo map needs at least one segment")
        if self.segments[0].bar != 1:
            raise ValueError(f"the first tempo segment must start at bar 1, got bar {self.segments[0].bar}")
        bars = [s.bar for s in self.segments]
        if any(b2 <= b1 for b1, b2 in zip(bars, bars[1:], strict=False)):
            raise ValueError(f"tempo segments must start on increasing bars, got {bars}")
        if not math.isfinite(self.bar1_s) or self.bar1_s < 0:
            raise ValueError(f"bar 1 position must be >= 0 s, got {self.bar1_s}")

    @classmethod
    def constant(cls, bpm: float, meter: TimeSignature | str = "4/4", bar1_s: float = 0.0) -> TempoMap:
        if isinstance(meter, str):
            meter = TimeSignature.parse(meter)
        return cls((TempoSegment(1, float(bpm), meter),), float(bar1_s))

    # -- the first segment's values, which is what the UI edits today ------------------------------------
    @property
    def bpm(self) -> float:
        return self.segments[0].bpm

    @property
    def meter(self) -> TimeSignature:
        return self.segments[0].meter

    # -- segment table ---------------------------------------------------------------------------------
    @cached_property
    def _table(self) -> tuple[list[float], list[float]]:
        """Start of each segment in seconds and in quarter notes since bar 1."""
        starts_s, starts_q = [self.bar1_s], [0.0]
        for prev, seg in zip(self.segments, self.segments[1:], strict=False):
            q = (seg.bar - prev.bar) * prev.meter.bar_quarters
            starts_q.append(starts_q[-1] + q)
            starts_s.append(starts_s[-1] + q * 60.0 / prev.bpm)
        return starts_s, starts_q

    def _segment_at_seconds(self, t: float) -> int:
        return max(0, bisect.bisect_right(self._table[0], t) - 1)

    def _segment_at_quarters(self, q: float) -> int:
        return max(0, bisect.bisect_right(self._table[1], q) - 1)

    def _segment_at_bar(self, bar: float) -> int:
        return max(0, bisect.bisect_right([s.bar for s in self.segments], bar) - 1)

    # -- conversions -------------------------------------------------------------------------------------
    def seconds_to_quarters(self, t: float) -> float:
        """Quarter notes since the start of bar 1 (negative before it)."""
        i = self._segment_at_seconds(t)
        s0, q0 = self._table[0][i], self._table[1][i]
        return q0 + (t - s0) * self.segments[i].bpm / 60.0

    def quarters_to_seconds(self, q: float) -> float:
        i = self._segment_at_quarters(q)
        s0, q0 = self._table[0][i], self._table[1][i]
        return s0 + (q - q0) * 60.0 / self.segments[i].bpm

    def seconds_to_bars(self, t: float) -> float:
        """Fractional 1-based bar number: 1.0 is the downbeat of bar 1, 1.5 half-way through it."""
        q = self.seconds_to_quarters(t)
        i = self._segment_at_quarters(q)
        seg = self.segments[i]
        return seg.bar + (q - self._table[1][i]) / seg.meter.bar_quarters

    def bars_to_seconds(self, bar: float) -> float:
        """Seconds at a fractional 1-based bar number."""
        i = self._segment_at_bar(bar)
        seg = self.segments[i]
        q = self._table[1][i] + (bar - seg.bar) * seg.meter.bar_quarters
        return self.quarters_to_seconds(q)

    def meter_at(self, t: float) -> TimeSignature:
        return self.segments[self._segment_at_seconds(t)].meter

    def bpm_at(self, t: float) -> float:
        return self.segments[self._segment_at_seconds(t)].bpm

    def bar_length_s(self, bar: int) -> float:
        return self.bars_to_seconds(bar + 1) - self.bars_to_seconds(bar)

    def seconds_to_bbt(self, t: float) -> BarBeatTick:
        """Bar, beat and tick of ``t``; ticks are rounded to the nearest tick."""
        q = self.seconds_to_quarters(t)
        i = self._segment_at_quarters(q)
        seg = self.segments[i]
        rel = q - self._table[1][i]
        ticks_per_beat = round(PPQ * seg.meter.beat_quarters)
        ticks_per_bar = ticks_per_beat * seg.meter.numerator
        total = round(rel * PPQ)
        bar_idx, in_bar = divmod(total, ticks_per_bar)
        beat_idx, tick = divmod(in_bar, ticks_per_beat)
        return BarBeatTick(seg.bar + bar_idx, beat_idx + 1, tick)

    def bbt_to_seconds(self, bar: int, beat: int = 1, tick: int = 0) -> float:
        i = self._segment_at_bar(bar)
        seg = self.segments[i]
        q = (
            self._table[1][i]
            + (bar - seg.bar) * seg.meter.bar_quarters
            + (beat - 1) * seg.meter.beat_quarters
            + tick / PPQ
        )
        return self.quarters_to_seconds(q)

    def snap(self, t: float, grid: Grid) -> float:
        """The grid line nearest to ``t``; grids restart at every tempo segment (they start on bar lines)."""
        q = self.seconds_to_quarters(t)
        i = self._segment_at_quarters(q)
        q0 = self._table[1][i]
        step = grid.step_quarters(self.segments[i].meter)
        snapped = q0 + round((q - q0) / step) * step
        if i + 1 < len(self.segments):
            snapped = min(snapped, self._table[1][i + 1])
        return self.quarters_to_seconds(snapped)

    def grid_lines(self, t0: float, t1: float, grid: Grid) -> list[float]:
        """Grid lines in seconds within ``[t0, t1]``, for rulers and auto-timing."""
        out: list[float] = []
        t = self.snap(t0, grid)
        if t < t0 - 1e-9:
            t = self._next_line(t, grid)
        while t <= t1 + 1e-9:
            out.append(t)
            t = self._next_line(t, grid)
        return out

    def _next_line(self, t: float, grid: Grid) -> float:
        q = self.seconds_to_quarters(t)
        i = self._segment_at_quarters(q + 1e-9)
        step = grid.step_quarters(self.segments[i].meter)
        nxt = self.snap(self.quarters_to_seconds(q + step), grid)
        return nxt if nxt > t + 1e-9 else self.quarters_to_seconds(q + step)
