"""Tempo lock: move a take's audio onto the project's grid, pitch kept (Rubber Band through pedalboard).

The map: the take's measured downbeats -> the project's bar lines (the first downbeat goes to the nearest bar
line). When one straight line fits every downbeat within ``WHOLE_TOLERANCE_S`` the take is stretched as a whole
(one ratio: fewer artefacts); otherwise bar by bar, anchored at each downbeat.

The audio: Rubber Band's offline stretch keeps its length but lets timing wander by a few ms over seconds, so the
take is always processed one bar at a time: each bar's source (with ``MARGIN_S`` either side) is stretched to its
target length and laid at its exact target sample, neighbours crossfaded over ``FADE_S`` just before the bar line
(so the downbeat's attack comes whole from the bar it starts). Every
stem goes through the same map and comes out exactly ``frames`` long.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.backends.base import Cancelled
from engine.errors import SongBridgeError

from .timemap import TimeMap

WHOLE_TOLERANCE_S = 0.002
MARGIN_S = 0.08
FADE_S = 0.012
FADE_BEFORE_S = 0.03  # the crossfade ends this long before the bar line: the downbeat's attack is never blended


class LockError(SongBridgeError):
    """Audio cannot be locked to the grid (too few downbeats, a grid that does not fit); the message says why."""


@dataclass(frozen=True)
class LockPlan:
    tmap: TimeMap  # take time -> project time (seconds)
    mode: str  # "whole" | "bars"
    frames: int  # output length in samples
    sample_rate: int
    ratio: float  # average output/input duration ratio
    drift_pct: float  # largest bar-to-bar tempo departure from the project's, in per cent
    first_bar: int  # the project bar (0-based) the first downbeat went to

    def describe(self) -> str:
        how = "as a whole" if self.mode == "whole" else "bar by bar"
        return (f"stretched {how} by {self.ratio:.4f} on average (largest tempo departure {self.drift_pct:.1f} %), "
                f"{self.frames} samples")


def plan(downbeats: np.ndarray, bar_lines: np.ndarray, sample_rate: int, frames: int | None = None,
         source_s: float | None = None) -> LockPlan:
    """``downbeats`` of the take (seconds), ``bar_lines`` of the project (seconds, every bar, enough to cover the
    take); ``frames``: the output length (default: the mapped length of ``source_s``)."""
    d = np.asarray(downbeats, dtype=np.float64)
    g = np.asarray(bar_lines, dtype=np.float64)
    if d.size < 2:
        raise LockError(f"found {d.size} downbeat(s); locking needs at least two bars of audio with a clear beat")
    if g.size < 2:
        raise LockError("the project grid has fewer than two bar lines")
    k0 = int(np.argmin(np.abs(g - d[0])))
    if k0 + d.size > g.size:
        raise LockError(f"the take has {d.size} bars from the project's bar {k0 + 1}, beyond the {g.size} bar lines "
                        "given")
    target = g[k0:k0 + d.size]
    seg_in, seg_out = np.diff(d), np.diff(target)
    if np.any(seg_in <= 0.05):
        raise LockError("downbeats closer than 50 ms: the beat grid is not usable")
    drift = float(np.max(np.abs(seg_in / seg_out - 1.0)) * 100.0)
    slope, offset = np.polyfit(d, target, 1)
    residual = float(np.max(np.abs(offset + slope * d - target)))
    if residual <= WHOLE_TOLERANCE_S:
        tmap, mode = TimeMap((float(d[0]), float(d[-1])), (float(offset + slope * d[0]),
                                                          float(offset + slope * d[-1]))), "whole"
    else:
        tmap, mode = TimeMap(tuple(map(float, d)), tuple(map(float, target))), "bars"
    if frames is None:
        if source_s is None:
            raise LockError("give the output length or the source duration")
        frames = int(round(float(tmap.to_dst(source_s)) * sample_rate))
    ratio = float((target[-1] - target[0]) / (d[-1] - d[0]))
    return LockPlan(tmap, mode, int(frames), sample_rate, ratio, drift, k0)


def pieces(p: LockPlan, source_frames: int) -> list[tuple[float, float, float, float]]:
    """(src start, src end, dst start, dst end) seconds for each piece the audio is stretched in: the map's own
    segments (for a whole-take ratio, cuts about every 2 s), extended at both ends to cover the output."""
    sr = p.sample_rate
    out_end = p.frames / sr
    src_end = source_frames / sr
    anchors = list(p.tmap.src)
    if p.mode == "whole" and len(anchors) == 2:  # one ratio, but still laid in pieces of about a bar
        n = max(1, int(round((anchors[1] - anchors[0]) / 2.0)))
        anchors = list(np.linspace(anchors[0], anchors[1], n + 1))
    start_src = float(p.tmap.to_src(0.0))
    end_src = float(p.tmap.to_src(out_end))
    cuts = sorted({*(a for a in anchors if start_src < a < end_src), start_src, end_src})
    result = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        if b - a < 1e-4 or a >= src_end:
            continue
        result.append((a, b, float(p.tmap.to_dst(a)), float(p.tmap.to_dst(b))))
    return result


def apply(p: LockPlan, audio: np.ndarray, should_stop: Callable[[], bool] | None = None,
          on_piece: Callable[[int, int], None] | None = None) -> np.ndarray:
    """audio [n, ch] float32 at ``p.sample_rate`` -> [p.frames, ch], locked."""
    import pedalboard  # noqa: PLC0415

    sr = p.sample_rate
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    out = np.zeros((p.frames, x.shape[1]), np.float32)
    weight = np.zeros(p.frames, np.float32)
    parts = pieces(p, len(x))
    fade = max(1, int(FADE_S * sr))
    for i, (s0, s1, d0, d1) in enumerate(parts):
        if should_stop is not None and should_stop():
            raise Cancelled("cancelled")
        ratio = (d1 - d0) / (s1 - s0)
        a = max(0, int(round((s0 - MARGIN_S) * sr)))
        b = min(len(x), int(round((s1 + MARGIN_S) * sr)))
        if b - a < 64:
            continue
        chunk = x[a:b].T.copy()
        y = chunk if abs(ratio - 1.0) < 1e-9 else pedalboard.time_stretch(chunk, sr, stretch_factor=1.0 / ratio,
                                                                           high_quality=False)
        y = y.T
        # where the stretched chunk's first sample lands in the output
        origin = d0 - (s0 - a / sr) * ratio
        o = int(round(origin * sr))
        early = int(round(FADE_BEFORE_S * sr))
        lo, hi = int(round(d0 * sr)) - early, int(round(d1 * sr)) - early
        w = np.zeros(len(y), np.float32)
        k = np.arange(len(y)) + o  # output index of each stretched sample
        # full weight inside the piece, linear ramps of `fade` samples centred on its two ends
        ramp_in = np.clip((k - (lo - fade // 2)) / fade, 0.0, 1.0)
        ramp_out = np.clip(((hi + fade // 2) - k) / fade, 0.0, 1.0)
        if i == 0:
            ramp_in[:] = 1.0
        if i == len(parts) - 1:
            ramp_out[:] = 1.0
        w = np.minimum(ramp_in, ramp_out).astype(np.float32)
        keep = (k >= 0) & (k < p.frames) & (w > 0)
        out[k[keep]] += y[keep] * w[keep, None]
        weight[k[keep]] += w[keep]
        if on_piece is not None:
            on_piece(i + 1, len(parts))
    nz = weight > 1e-6
    out[nz] /= weight[nz, None]
    return out
