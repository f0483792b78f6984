"""The tempo that timed lyrics were written at, read off their timestamps.

Lines drafted on a timeline (ours, or a DAW's) start on bars, beats or eighths. When every stamp of an LRC sits on
one grid, the grid's period tells the tempo up to a power of two (lines on every second bar at 92 bpm sit on a
46 bpm beat grid as well); the octave is chosen closest to a prior tempo (the style's, or 100 bpm) within
60..200 bpm. The evidence must be strong: the chance that this many random stamps fit the grid by accident has to
be below one in a thousand, so three stamps at round seconds say nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TOLERANCE_S = 0.025  # LRC stamps have 10 ms resolution, and hand timing drifts a little
MIN_BPM, MAX_BPM = 60.0, 200.0


@dataclass(frozen=True)
class TempoGuess:
    bpm: float
    offset_s: float  # where the beat grid starts (0 when the stamps' grid passes through 0 s)
    lines: int  # how many distinct stamps support it
    worst_error_s: float  # the largest distance of a stamp from the grid


def _fits(d: np.ndarray, period: np.ndarray) -> np.ndarray:
    """d: [n] intervals, period: [p] -> [p] worst distance of any interval from a multiple of the period."""
    k = np.round(d[None, :] / period[:, None])
    return np.abs(d[None, :] - k * period[:, None]).max(axis=1)


def guess_tempo(starts_s: Sequence[float], prior_bpm: float | None = None, beats_per_bar: int = 4,
                tol_s: float = TOLERANCE_S) -> TempoGuess | None:
    """The tempo whose beat grid holds every stamp, or None when the stamps do not show one."""
    t = np.unique(np.round(np.asarray([s for s in starts_s if s is not None], dtype=np.float64), 3))
    if len(t) < 4:
        return None
    d = t[1:] - t[0]
    span = float(d.max())
    # The largest period that every interval is a multiple of (the stamps' "greatest common divisor"), scanned
    # from the shortest interval down on a geometric grid fine enough that no fitting period is stepped over.
    lo, hi = 60.0 / (2 * MAX_BPM), float(np.diff(t).min()) + tol_s
    if hi <= lo:
        return None
    ratio = 1.0 - tol_s / (4.0 * span)
    periods = hi * ratio ** np.arange(int(math.log(lo / hi) / math.log(ratio)) + 1)
    best = None
    for chunk in np.array_split(periods, max(1, len(periods) // 20000)):
        ok = np.nonzero(_fits(d, chunk) <= tol_s)[0]
        if len(ok):
            best = float(chunk[ok[0]])
            break
    if best is None:
        return None
    # Refine by least squares over the integer multiples, then weigh the evidence.
    k = np.round(d / best)
    period = float((d * k).sum() / (k * k).sum())
    worst = float(np.abs(d - k * period).max())
    if worst > tol_s or (2 * tol_s / min(period, 4.0)) ** len(d) > 1e-3:
        return None
    # A bar holds beats_per_bar beats; lines fall on bars, half bars, beats or eighths.
    base = 60.0 / period
    mults = sorted({m * 2.0 ** j for m in {1, beats_per_bar} for j in range(-4, 8)})
    options = [(base * m, m) for m in mults if MIN_BPM <= base * m <= MAX_BPM]
    if not options:
        return None
    prior = prior_bpm or 100.0
    bpm, mult = min(options, key=lambda o: abs(math.log2(o[0] / prior)))
    for nice in (float(round(bpm)), round(bpm * 2) / 2):  # people set whole (or half) tempos
        grid = 60.0 / nice * mult
        if np.abs(d - np.round(d / grid) * grid).max() <= tol_s:
            bpm = nice
            break
    beat = 60.0 / bpm
    offset = float(t[0] % beat)
    if offset > beat - tol_s or offset < tol_s:
        offset = 0.0
    return TempoGuess(bpm=bpm, offset_s=offset, lines=len(t), worst_error_s=worst)


def fits_tempo(starts_s: Sequence[float], bpm: float, tol_s: float = TOLERANCE_S) -> bool:
    """Whether the stamps sit on this tempo's grid (down to sixteenth notes), wherever the grid starts."""
    t = np.unique(np.asarray([s for s in starts_s if s is not None], dtype=np.float64))
    if len(t) < 2:
        return True
    sixteenth = 60.0 / bpm / 4
    return bool(_fits(t[1:] - t[0], np.array([sixteenth]))[0] <= tol_s)
