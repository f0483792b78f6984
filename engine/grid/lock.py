"""Tempo lock: move a take's audio onto the project's grid, pitch kept (Rubber Band through pedalboard).

The map: the take's measured downbeats -> the project's bar lines (the first downbeat goes to the nearest bar
line), and with the take's beats (``polish``ed onto their attacks) every beat -> the project's beat in its bar,
the beats before the first downbeat and after the last included, so the take follows the grid beat by beat to its
ends. When one straight line fits every anchor within ``WHOLE_TOLERANCE_S`` the take is stretched as a whole (one
ratio: fewer artefacts); otherwise piece by piece between anchors.

The audio: Rubber Band's offline stretch keeps a chunk's length but not where its attacks fall: one that is not the
chunk's first can move by 10 ms and more (a kick after another's tail, measured: up to 16 ms in an 8 s stretch), so
the take is stretched in short pieces, cut at every anchor and at every attack of the stem (``find_attacks``). A
piece that starts on an attack starts ``PRE_ROLL_S`` before it, where Rubber Band leaves an attack to the sample,
and is laid at its exact target sample, switched in over ``CUT_FADE_S`` just before the attack; a piece cut where
nothing starts keeps ``MARGIN_S`` either side and is crossfaded over ``FADE_S`` ending before its anchor. Every
stem goes through the same map and comes out exactly ``frames`` long. ``file_plan`` is the lock of a file that has
no project: bar 1 on its first downbeat, whole bars long.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.errors import Cancelled, SongBridgeError

from .timemap import TimeMap

WHOLE_TOLERANCE_S = 0.002
MARGIN_S = 0.08
FADE_S = 0.012
FADE_BEFORE_S = 0.03  # the crossfade ends this long before the bar line: the downbeat's attack is never blended
PRE_ROLL_S = 0.002  # a piece cut at an attack starts this long before it
CUT_FADE_S = 0.001  # and fades in over this, ending
CUT_END_S = 0.0005  # this long before the attack
CUT_RISE_DB = 9.0  # attacks that rise this much are cut at
MIN_GAP_S = 0.05  # one cut per this much
MERGE_S = 0.02  # an attack this close to an anchor replaces it as the cut


class LockError(SongBridgeError):
    """Audio cannot be locked to the grid (too few downbeats, a grid that does not fit); the message says why."""


@dataclass(frozen=True)
class LockPlan:
    tmap: TimeMap  # take time -> project time (seconds)
    mode: str  # "whole" | "bars" | "beats"
    frames: int  # output length in samples
    sample_rate: int
    ratio: float  # average output/input duration ratio
    drift_pct: float  # largest bar-to-bar tempo departure from the project's, in per cent
    first_bar: int  # the project bar (0-based) the first downbeat went to

    def describe(self) -> str:
        how = {"whole": "as a whole", "bars": "bar by bar"}.get(self.mode, "beat by beat")
        return (f"stretched {how} by {self.ratio:.4f} on average (largest tempo departure {self.drift_pct:.1f} %), "
                f"{self.frames} samples")


def plan(downbeats: np.ndarray, bar_lines: np.ndarray, sample_rate: int, frames: int | None = None,
         source_s: float | None = None, beats: np.ndarray | None = None, meter: int = 4) -> LockPlan:
    """``downbeats`` of the take (seconds), ``bar_lines`` of the project (seconds, every bar, enough to cover the
    take); ``frames``: the output length (default: the mapped length of ``source_s``). With ``beats`` (the take's
    beats, the downbeats among them, ``meter`` to a bar) every beat is an anchor, on the project's beat within the
    bar (a bar that does not hold ``meter`` beats keeps its downbeats alone), and so are the beats before the first
    downbeat and after the last: the take follows the grid beat by beat, to its ends."""
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
    src, dst = (d, target) if beats is None else beat_anchors(d, g, k0, np.asarray(beats, np.float64), meter)
    slope, offset = np.polyfit(src, dst, 1)
    residual = float(np.max(np.abs(offset + slope * src - dst)))
    if residual <= WHOLE_TOLERANCE_S:
        tmap, mode = TimeMap((float(src[0]), float(src[-1])), (float(offset + slope * src[0]),
                                                              float(offset + slope * src[-1]))), "whole"
    else:
        tmap, mode = TimeMap(tuple(map(float, src)), tuple(map(float, dst))), "bars" if beats is None else "beats"
    if frames is None:
        if source_s is None:
            raise LockError("give the output length or the source duration")
        frames = int(round(float(tmap.to_dst(source_s)) * sample_rate))
    ratio = float((target[-1] - target[0]) / (d[-1] - d[0]))
    return LockPlan(tmap, mode, int(frames), sample_rate, ratio, drift, k0)


def beat_anchors(d: np.ndarray, g: np.ndarray, k0: int, beats: np.ndarray,
                 meter: int) -> tuple[np.ndarray, np.ndarray]:
    """(take times, project times) of the downbeats ``d`` (on bar lines ``g[k0:]``) and of the beats between,
    before and after them; a beat is kept only ``meter - 1`` to a bar and in step with its neighbours."""
    tol = 0.05
    src, dst = list(d), list(g[k0:k0 + d.size])

    def beat_len(bar: int) -> float:  # the project's beat in bar ``bar`` (an index into g)
        bar = min(max(bar, 0), g.size - 2)
        return float(g[bar + 1] - g[bar]) / meter

    for j in range(d.size - 1):
        inner = beats[(beats > d[j] + tol) & (beats < d[j + 1] - tol)]
        if inner.size == meter - 1:
            src.extend(inner)
            dst.extend(g[k0 + j] + (g[k0 + j + 1] - g[k0 + j]) * np.arange(1, meter) / meter)
    period = float(np.median(np.diff(d))) / meter
    for side, edge, bar in ((-1, d[0], k0 - 1), (1, d[-1], k0 + d.size - 1)):
        outside = beats[beats < edge - tol][::-1] if side < 0 else beats[beats > edge + tol]
        last = edge
        for i, t in enumerate(outside[:meter - 1]):
            if not 0.75 * period < abs(t - last) < 1.25 * period:
                break
            src.append(float(t))
            dst.append(float(g[k0 + (0 if side < 0 else d.size - 1)]) + side * (i + 1) * beat_len(bar))
            last = t
    order = np.argsort(src)
    s, t = np.asarray(src)[order], np.asarray(dst)[order]
    if np.any(np.diff(s) <= 0) or np.any(np.diff(t) <= 0):  # beats that do not increase: the downbeats alone
        return d, g[k0:k0 + d.size]
    return s, t


def file_plan(beats: np.ndarray, downbeats: np.ndarray, sample_rate: int, source_frames: int, bpm: float,
              meter: int = 4, bars: int | None = None) -> LockPlan:
    """The lock of a file that has no project: a grid at ``bpm`` whose bar 1 is the first downbeat, after the
    whole beats of pickup before it (none when the audio starts on the downbeat, as a take at 3 ms does), and an
    output exactly that pickup plus ``bars`` bars long (default: the whole bars the audio covers once locked)."""
    d = np.asarray(downbeats, dtype=np.float64)
    b = np.asarray(beats, dtype=np.float64)
    if d.size < 2:
        raise LockError(f"found {d.size} downbeat(s); locking needs at least two bars of audio with a clear beat")
    beat_s, bar_s = 60.0 / bpm, meter * 60.0 / bpm
    period = float(np.median(np.diff(b[:2 * meter + 1]))) if b.size > 2 else (d[1] - d[0]) / meter
    bar1 = round(float(d[0]) / period) * beat_s
    source_s = source_frames / sample_rate
    lines = bar1 + bar_s * np.arange(0, int(source_s / bar_s * 1.2) + d.size + 8)
    p = plan(d, lines, sample_rate, source_s=source_s, beats=b, meter=meter)
    if bars is None:
        bars = max(1, int(round((p.frames / sample_rate - bar1) / bar_s)))
    if bars < 1:
        raise LockError(f"--bars must be at least 1, got {bars}")
    return dataclasses.replace(p, frames=int(round((bar1 + bars * bar_s) * sample_rate)))


def pieces(p: LockPlan, source_frames: int,
           attacks: np.ndarray | None = None) -> list[tuple[float, float, float, float, bool]]:
    """(src start, src end, dst start, dst end, starts on an attack) seconds for each piece the audio is stretched
    in: the map's own segments (for a whole-take ratio, cuts about every 2 s), cut again at ``attacks`` (source
    seconds; one within ``MERGE_S`` of an anchor takes its place), extended at both ends to cover the output."""
    sr = p.sample_rate
    out_end = p.frames / sr
    src_end = source_frames / sr
    anchors = list(p.tmap.src)
    if p.mode == "whole" and len(anchors) == 2:  # one ratio, but still laid in pieces of about a bar
        n = max(1, int(round((anchors[1] - anchors[0]) / 2.0)))
        anchors = list(np.linspace(anchors[0], anchors[1], n + 1))
    start_src = float(p.tmap.to_src(0.0))
    end_src = float(p.tmap.to_src(out_end))
    hits = np.sort(np.asarray(attacks if attacks is not None else [], dtype=np.float64))
    marks: dict[float, bool] = {a: False for a in anchors if start_src < a < end_src}
    for t in hits:
        if not start_src + MERGE_S < t < end_src - MERGE_S:
            continue
        near = [a for a in marks if abs(a - t) < MERGE_S]
        for a in near:
            del marks[a]
        marks[float(t)] = True
    marks.setdefault(start_src, False)
    marks.setdefault(end_src, False)
    cuts = sorted(marks)
    result = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        if b - a < 1e-4 or a >= src_end:
            continue
        result.append((a, b, float(p.tmap.to_dst(a)), float(p.tmap.to_dst(b)), marks[a]))
    return result


def find_attacks(audio: np.ndarray, sr: int) -> np.ndarray:
    """Source seconds of the attacks worth a cut: peaks of the 1 ms energy rise (``polish.rise_db``) of at least
    ``CUT_RISE_DB``, the strongest within ``MIN_GAP_S``, less the rise's delay (the attack's first sample)."""
    from .polish import RISE_DELAY_S, rise_db

    rise = rise_db(audio, sr)
    block = max(1, sr // 1000)
    n = rise.size // block
    if n < 3:
        return np.zeros(0)
    blocks = rise[:n * block].reshape(n, block)
    top = blocks.max(axis=1)
    reach = max(1, int(MIN_GAP_S * 1000))
    padded = np.pad(top, reach, constant_values=-np.inf)
    local = np.max(np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1), axis=1)
    at = np.flatnonzero((top >= CUT_RISE_DB) & (top >= local))
    return (at * block + blocks[at].argmax(axis=1)) / sr - RISE_DELAY_S


def apply(p: LockPlan, audio: np.ndarray, should_stop: Callable[[], bool] | None = None,
          on_piece: Callable[[int, int], None] | None = None) -> np.ndarray:
    """audio [n, ch] float32 at ``p.sample_rate`` -> [p.frames, ch], locked."""
    import pedalboard

    sr = p.sample_rate
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    out = np.zeros((p.frames, x.shape[1]), np.float32)
    weight = np.zeros(p.frames, np.float32)
    parts = pieces(p, len(x), find_attacks(x, sr))
    fade = max(1, int(FADE_S * sr))
    cut_fade = max(1, int(CUT_FADE_S * sr))
    for i, (s0, s1, d0, d1, on_attack) in enumerate(parts):
        if should_stop is not None and should_stop():
            raise Cancelled("cancelled")
        ratio = (d1 - d0) / (s1 - s0)
        # a piece that starts on an attack starts just before it (Rubber Band keeps a chunk's first attack where
        # it is, and moves later ones by up to 10 ms); any other keeps a margin for its crossfade
        a = max(0, int(round((s0 - (PRE_ROLL_S if on_attack else MARGIN_S)) * sr)))
        b = min(len(x), int(round((s1 + MARGIN_S) * sr)))
        if b - a < 64:
            continue
        chunk = x[a:b].T.copy()
        y = chunk if abs(ratio - 1.0) < 1e-9 else pedalboard.time_stretch(
            chunk, sr, stretch_factor=1.0 / ratio, high_quality=False, use_long_fft_window=False)
        y = y.T
        # where the stretched chunk's first sample lands in the output
        origin = d0 - (s0 - a / sr) * ratio
        o = int(round(origin * sr))
        k = np.arange(len(y)) + o  # output index of each stretched sample
        ramp_in = _ramp_in(k, d0, sr, on_attack, fade, cut_fade)
        if i + 1 < len(parts):
            nxt = parts[i + 1]
            ramp_out = 1.0 - _ramp_in(k, nxt[2], sr, nxt[4], fade, cut_fade)
        else:
            ramp_out = np.ones(len(y))
        if i == 0:
            ramp_in[:] = 1.0
        w = np.minimum(ramp_in, ramp_out).astype(np.float32)
        keep = (k >= 0) & (k < p.frames) & (w > 0)
        out[k[keep]] += y[keep] * w[keep, None]
        weight[k[keep]] += w[keep]
        if on_piece is not None:
            on_piece(i + 1, len(parts))
    nz = weight > 1e-6
    out[nz] /= weight[nz, None]
    return out


def _ramp_in(k: np.ndarray, d0: float, sr: int, on_attack: bool, fade: int, cut_fade: int) -> np.ndarray:
    """The weight of a piece starting at ``d0`` (output seconds) at output samples ``k``: on an attack, up over
    ``CUT_FADE_S`` ending ``CUT_END_S`` before it; elsewhere over ``FADE_S`` ending ``FADE_BEFORE_S - FADE_S / 2``
    before it (so a downbeat's attack comes whole from the piece it starts)."""
    if on_attack:
        end = int(round((d0 - CUT_END_S) * sr))
        return np.clip((k - (end - cut_fade)) / cut_fade, 0.0, 1.0)
    lo = int(round((d0 - FADE_BEFORE_S) * sr))
    return np.clip((k - (lo - fade // 2)) / fade, 0.0, 1.0)
