"""Tempo lock, measured: how well the DSP tracker finds the beats of a drifting take, and how close every stem's bar
lines land to the project grid after locking.

Method: a guide take (4 stems) is rendered at a known tempo, so its beats are exactly on the project grid. Each
stem is then warped by a known time map (tape-style, ``varispeed``): steady offsets of +3 % and -3 %, a slow
wobble (±2 % over 20 s), and a sudden 4 % jump halfway (``--warps`` picks others: ``steady:PCT``,
``wobble:PCT:PERIOD_S``, ``jump:PCT:AT`` with AT a fraction of the take). The true beats of the warped take are the
map of the grid's beats.
- Tracking: the share of true beats with a tracked beat within 20 ms; the downbeats likewise.
- Locking: the tracked downbeats drive ``engine.grid.lock`` on every stem. For each bar line and stem where the
  unwarped render has an onset (a hit, a note, a chord change within 30 ms of the bar line), the timing error is
  how far the same onset sits in the locked stem (spectral-flux onset peaks, refined below a frame); reported as
  the worst and the 95th percentile over all bar lines and stems (and the worst of the drums alone), with whether
  all stems came out the same length to the sample.
- Speed: tracking and locking time per minute of audio (all stems), on this machine.

Run: ``python benchmarks/tempo_lock.py [--bpm 120] [--bars 26] [--warps ...] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.grid import dsp, lock  # noqa: E402
from engine.grid.timemap import TimeMap, varispeed  # noqa: E402

DEFAULT_WARPS = ("steady:3", "steady:-3", "wobble:2:20", "jump:4:0.5")


def render(bpm: float, bars: int, seed: int) -> tuple[dict[str, np.ndarray], int, float]:
    from engine.audio.io import read_audio
    from engine.backends.guide.backend import GuideBackend
    from engine.generation import plan_takes, run_take
    from engine.song import LyricLine, Project, Song, TempoMap
    from engine.song.sections import parse_sections

    tempo = TempoMap.constant(bpm)
    bar_s = 4 * 60 / bpm
    verse = max(1, (bars - 2) // 3)
    lines = tuple(LyricLine(f"l{i}", "la la la love you", 2 * bar_s + i * bar_s) for i in range(bars - 3))
    song = Song(tempo=tempo, sections=parse_sections(f"intro:2,verse:{verse},chorus:{verse},verse:{bars - 2 - 2 * verse}",
                                                     tempo), lyrics=lines)
    project = Project.create(Path(tempfile.mkdtemp()) / "lock", song)
    take = run_take(project, GuideBackend(), plan_takes(project, 1, seed, duration_s=bars * bar_s)[0],
                    lambda d, t: None, lambda: False)
    folder = project.folder / "takes" / take.id / "stems"
    stems = {}
    sr = 44100
    for path in sorted(folder.glob("*.wav")):
        stems[path.stem], sr = read_audio(path)
    return stems, sr, bars * bar_s


def warp_map(spec: str, dur: float) -> TimeMap:
    kind, *args = spec.split(":")
    if kind == "steady":
        return TimeMap((0.0, dur), (0.0, dur / (1 + float(args[0]) / 100)))
    if kind == "wobble":
        pct, period = float(args[0]), float(args[1]) if len(args) > 1 else 20.0
        t = np.linspace(0, dur, 800)
        rate = 1 + pct / 100 * np.sin(2 * np.pi * t / period)
        out = np.concatenate([[0.0], np.cumsum(np.diff(t) / rate[1:])])
        return TimeMap(tuple(t), tuple(out))
    if kind == "jump":
        pct, at = float(args[0]), float(args[1]) if len(args) > 1 else 0.5
        cut = dur * at
        return TimeMap((0.0, cut, dur), (0.0, cut, cut + (dur - cut) / (1 + pct / 100)))
    raise SystemExit(f"unknown warp {spec!r}: steady:PCT, wobble:PCT:PERIOD_S or jump:PCT:AT")


def bar_errors(locked: np.ndarray, reference: np.ndarray, sr: int, bar_lines: np.ndarray) -> list[float]:
    """Per bar line where the unwarped stem has an onset (a note, a hit, a chord change within 30 ms of it): how far
    the same onset sits in the locked stem (spectral-flux onset peaks, refined below a frame)."""
    ref_env, _ = dsp.onset_envelopes(reference, sr)
    got_env, _ = dsp.onset_envelopes(locked, sr)
    errs = []
    for t in bar_lines:
        f = t / dsp.FRAME_S
        lo, hi = int(f - 0.03 / dsp.FRAME_S), int(f + 0.03 / dsp.FRAME_S) + 1
        if lo < 1 or hi >= min(len(ref_env), len(got_env)) - 1:
            continue
        k = lo + int(np.argmax(ref_env[lo:hi]))
        if ref_env[k] < 2.0:
            continue  # no onset at this bar line in this stem (a held note, a rest)
        r = dsp.refine(ref_env, np.array([k]), 2)[0]
        g = dsp.refine(got_env, np.array([k]), int(0.04 / dsp.FRAME_S))[0]
        errs.append((g - r) * dsp.FRAME_S)
    return errs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bpm", type=float, default=120.0)
    ap.add_argument("--bars", type=int, default=26)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--warps", nargs="*", default=list(DEFAULT_WARPS))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    stems, sr, dur = render(args.bpm, args.bars, args.seed)
    beat_s = 60 / args.bpm
    grid_beats = np.arange(0, dur - 0.05, beat_s)
    bar_lines = np.arange(0, dur + 8 * 4 * beat_s, 4 * beat_s)
    mix = sum(stems.values())
    results = []
    print(f"guide take {dur:.1f} s at {args.bpm:g} bpm, stems {', '.join(stems)}; {sr} Hz")
    for spec in args.warps:
        w = warp_map(spec, dur)
        n = int(round(float(w.to_dst(dur)) * sr))
        warped = {k: varispeed(v, sr, w, n) for k, v in stems.items()}
        true_beats = w.to_dst(grid_beats)
        t0 = time.perf_counter()
        beats, downs = dsp.track(varispeed(mix, sr, w, n), sr, bpm=args.bpm, meter=4, bars_s=bar_lines)
        t_track = time.perf_counter() - t0
        near = np.array([np.min(np.abs(beats - t)) for t in true_beats]) if beats.size else np.full(1, np.inf)
        true_downs = true_beats[::4]
        near_d = np.array([np.min(np.abs(downs - t)) for t in true_downs]) if downs.size else np.full(1, np.inf)
        t0 = time.perf_counter()
        plan = lock.plan(downs, bar_lines, sr, frames=int(round(dur * sr)))
        locked = {k: lock.apply(plan, v) for k, v in warped.items()}
        t_lock = time.perf_counter() - t0
        per = {k: bar_errors(locked[k], stems[k], sr, bar_lines[bar_lines < dur]) for k in stems}
        errs = [e for k in stems for e in per[k]]
        same = len({len(v) for v in locked.values()}) == 1 and all(len(v) == plan.frames for v in locked.values())
        minutes = n / sr / 60
        row = {"warp": spec, "beats_within_20ms_pct": round(float(np.mean(near < 0.02)) * 100, 1),
               "downbeats_within_20ms_pct": round(float(np.mean(near_d < 0.02)) * 100, 1),
               "median_beat_error_ms": round(float(np.median(near)) * 1000, 2), "lock_mode": plan.mode,
               "bar_error_worst_ms": round(max(abs(e) for e in errs) * 1000, 2) if errs else None,
               "bar_error_p95_ms": round(float(np.percentile(np.abs(errs), 95)) * 1000, 2) if errs else None,
               "drums_worst_ms": round(max(abs(e) for e in per.get("drums", [0.0])) * 1000, 2),
               "bar_lines_measured": len(errs), "stems_same_length": same,
               "track_s_per_min": round(t_track / minutes, 3),
               "lock_s_per_min_all_stems": round(t_lock / minutes, 2)}
        results.append(row)
        print(f"{spec:12s} beats {row['beats_within_20ms_pct']:5.1f} % within 20 ms (downbeats "
              f"{row['downbeats_within_20ms_pct']:.0f} %), lock {plan.mode}: bar lines worst "
              f"{row['bar_error_worst_ms']} ms (drums {row['drums_worst_ms']}), p95 {row['bar_error_p95_ms']} ms over "
              f"{len(errs)}; same length "
              f"{same}; track {row['track_s_per_min']} s/min, lock {row['lock_s_per_min_all_stems']} s/min "
              f"({len(stems)} stems)")
    if args.json:
        args.json.write_text(json.dumps({"bpm": args.bpm, "bars": args.bars, "results": results}, indent=1))


if __name__ == "__main__":
    main()
