"""A piecewise-linear map between two time lines (seconds), e.g. a take's downbeats -> the project's bar lines.
Beyond its first and last anchors it goes on at the slope of its end segments. numpy only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TimeMap:
    src: tuple[float, ...]
    dst: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.src) != len(self.dst) or len(self.src) < 2:
            raise ValueError("a time map needs at least two anchors, as many in both time lines")
        if np.any(np.diff(self.src) <= 0) or np.any(np.diff(self.dst) <= 0):
            raise ValueError("time map anchors must increase in both time lines")

    @classmethod
    def linear(cls, ratio: float, offset: float = 0.0) -> TimeMap:
        """dst = offset + ratio x src."""
        return cls((0.0, 1.0), (offset, offset + ratio))

    def _along(self, t: np.ndarray | float, a: tuple[float, ...], b: tuple[float, ...]) -> np.ndarray:
        x, y = np.asarray(a), np.asarray(b)
        t = np.asarray(t, dtype=np.float64)
        out = np.interp(t, x, y)
        lo, hi = t < x[0], t > x[-1]
        out = np.where(lo, y[0] + (t - x[0]) * (y[1] - y[0]) / (x[1] - x[0]), out)
        return np.where(hi, y[-1] + (t - x[-1]) * (y[-1] - y[-2]) / (x[-1] - x[-2]), out)

    def to_dst(self, t: np.ndarray | float) -> np.ndarray:
        return self._along(t, self.src, self.dst)

    def to_src(self, t: np.ndarray | float) -> np.ndarray:
        return self._along(t, self.dst, self.src)

    def as_rows(self) -> list[list[float]]:
        return [[round(a, 6), round(b, 6)] for a, b in zip(self.src, self.dst, strict=True)]


def varispeed(audio: np.ndarray, sample_rate: int, tmap: TimeMap, frames: int) -> np.ndarray:
    """audio [n, ch] played along ``tmap`` like tape (pitch follows speed): output sample at time t is the input
    at ``tmap.to_src(t)``, linearly interpolated; ``frames`` long."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    t = np.arange(frames) / sample_rate
    pos = tmap.to_src(t) * sample_rate
    i = np.clip(np.floor(pos).astype(np.int64), 0, len(x) - 2)
    f = np.clip(pos - i, 0.0, 1.0)[:, None].astype(np.float32)
    out = x[i] * (1 - f) + x[i + 1] * f
    out[(pos < 0) | (pos > len(x) - 1)] = 0.0
    return out
