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
- Every kick, by the file route (``songbridge grid FILE --bpm B --lock -o OUT``: ``measure`` then
  ``lock.file_plan``): a synthetic drum groove (kicks on 1, the "and" of 2, 3 and the "and" of 3; snares on 2 and 4;
  eighth hats), ``--groove-bars`` long, warped by ``--groove-warps``; each kick in the locked file against the
  unwarped groove (the lag of the best match of their <150 Hz signals, 2 ms before to 40 ms after it): the share
  within 10 ms, the worst, and whether the file is exactly the groove's bars long. ``drift:FAST:WOBBLE:SLOW`` is
  the issue's map (a third FAST % fast, a third wobbling ±WOBBLE % every 8 s, a third SLOW % slow);
  ``random:SEED`` a map no one tuned for: 3 to 6 stretches, each steady, a ramp, a wobble or a jump, within ±5 %.
  ``--check`` fails (exit 1) unless every map has >= 95 % within 10 ms, none past 25 ms and the exact length.

Run: ``python benchmarks/tempo_lock.py [--bpm 120] [--bars 26] [--warps ...] [--groove-warps ...] [--check]
[--json out.json]``.
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

from engine.grid import dsp, lock
from engine.grid.timemap import TimeMap, varispeed

DEFAULT_WARPS = ("steady:3", "steady:-3", "wobble:2:20", "jump:4:0.5")
GROOVE_WARPS = ("drift:3:2:4", "random:101", "random:202", "random:303", "random:404", "ramp:-4:4")


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


def _rate_map(t: np.ndarray, rate: np.ndarray) -> TimeMap:
    """A tape whose speed at source time t is ``rate`` (1.03: 3 % fast): source -> warped time."""
    out = np.concatenate([[0.0], np.cumsum(np.diff(t) / (0.5 * (rate[1:] + rate[:-1])))])
    return TimeMap(tuple(t), tuple(out))


def _random_rate(t: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.uniform(0.1, 0.9, int(rng.integers(2, 6)))) * t[-1]
    edges = np.concatenate([[0.0], cuts, [t[-1] + 1e-9]])
    rate = np.ones_like(t)
    level = rng.uniform(-3, 3)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        part = (t >= a) & (t < b)
        kind = rng.choice(["steady", "ramp", "wobble", "jump"])
        if kind == "jump":
            level = float(np.clip(level + rng.choice([-1, 1]) * rng.uniform(2, 5), -5, 5))
            rate[part] = 1 + level / 100
        elif kind == "ramp":
            end = float(np.clip(level + rng.uniform(-4, 4), -5, 5))
            rate[part] = 1 + np.interp(t[part], [a, b], [level, end]) / 100
            level = end
        elif kind == "wobble":
            amp, period = rng.uniform(1, 2.5), rng.uniform(4, 20)
            rate[part] = 1 + np.clip(level + amp * np.sin(2 * np.pi * (t[part] - a) / period), -5, 5) / 100
        else:
            rate[part] = 1 + level / 100
    return rate


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
    t = np.linspace(0, dur, 4000)
    if kind == "drift":
        fast, wob, slow = (float(a) for a in (args + ["3", "2", "4"][len(args):]))
        third = dur / 3
        rate = np.where(t < third, 1 + fast / 100,
                        np.where(t < 2 * third, 1 + wob / 100 * np.sin(2 * np.pi * (t - third) / 8.0), 1 - slow / 100))
        return _rate_map(t, rate)
    if kind == "ramp":
        return _rate_map(t, 1 + np.linspace(float(args[0]), float(args[1]), t.size) / 100)
    if kind == "random":
        return _rate_map(t, _random_rate(t, int(args[0])))
    raise SystemExit(f"unknown warp {spec!r}: steady:PCT, wobble:PCT:PERIOD_S, jump:PCT:AT, drift:FAST:WOBBLE:SLOW, "
                     "ramp:FROM:TO or random:SEED")


def groove(bpm: float, bars: int, sr: int = 44100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A stereo drum groove exactly ``bars`` bars of 4/4 long, and its kick times (seconds)."""
    rng = np.random.default_rng(seed)
    beat = 60 / bpm
    n = int(round(bars * 4 * beat * sr))
    out = np.zeros(n, np.float32)
    t = np.arange(int(0.3 * sr)) / sr
    kick = np.sin(2 * np.pi * np.cumsum(50 + 90 * np.exp(-t * 30)) / sr) * np.exp(-t * 9)
    ts = np.arange(int(0.15 * sr)) / sr
    snare = rng.standard_normal(ts.size) * np.exp(-ts * 25) * 0.5 + np.sin(2 * np.pi * 190 * ts) * np.exp(-ts * 20) * 0.4
    th = np.arange(int(0.04 * sr)) / sr
    hat = np.diff(rng.standard_normal(th.size + 1)) * np.exp(-th * 90) * 0.15
    kicks = []
    for step in range(bars * 16):
        at = step * beat / 4
        i = int(round(at * sr))
        hits = []
        if step % 16 in (0, 6, 8, 10):
            hits.append((kick, 1.0 if step % 16 == 0 else 0.8))
            kicks.append(at)
        if step % 16 in (4, 12):
            hits.append((snare, 1.0))
        if step % 2 == 0:
            hits.append((hat, 1.0 if step % 4 == 0 else 0.6))
        for x, gain in hits:
            m = min(len(x), n - i)
            out[i:i + m] += gain * x[:m].astype(np.float32)
    return np.stack([out, out], 1) * 0.5, np.asarray(kicks)


def kick_errors(locked: np.ndarray, reference: np.ndarray, sr: int, kicks: np.ndarray) -> np.ndarray:
    """|error| (seconds) of every kick: the lag (within 30 ms) at which the locked file's <150 Hz signal best matches
    the unwarped groove's from 2 ms before the kick to 40 ms after (normalised cross-correlation: the attack and
    the body of the kick, whatever the previous kick's tail does); a kick past the locked file's end counts as 1 s.
    (An envelope's steepest rise is not used: where a kick starts over the last one's tail, their sum's envelope
    moves by up to 8 ms with the tail's phase while the kick itself has not moved.)"""
    def low(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        x = x.mean(axis=1) if x.ndim == 2 else x
        spec = np.fft.rfft(x)
        spec[np.fft.rfftfreq(x.size, 1 / sr) > 150] = 0
        return np.fft.irfft(spec, x.size)

    span, reach = int(0.042 * sr), int(0.03 * sr)
    ref, got = (np.pad(low(x), reach + span) for x in (reference, locked))  # silence either side
    errs = []
    for t in kicks:
        a = int(round((t - 0.002) * sr)) + reach + span
        if a + span + reach > got.size - reach - span:  # past the locked file's end
            errs.append(1.0)
            continue
        seg = ref[a:a + span]
        window = got[a - reach:a + span + reach]
        corr = np.correlate(window, seg, mode="valid")
        energy = np.convolve(window * window, np.ones(span), mode="valid")
        score = corr / np.sqrt(np.maximum(energy, 1e-12))
        errs.append(abs(int(np.argmax(score)) - reach) / sr)
    return np.asarray(errs)


def groove_row(spec: str, bpm: float, bars: int, sr: int = 44100) -> dict:
    """One drift map through the file route: kicks within 10 ms, the worst, exact length, time."""
    from engine.grid.analyse import measure

    audio, kicks = groove(bpm, bars, sr)
    dur = len(audio) / sr
    w = warp_map(spec, dur)
    warped = varispeed(audio, sr, w, int(round(float(w.to_dst(dur)) * sr)))
    t0 = time.perf_counter()
    g = measure(warped, sr, bpm=bpm)
    p = lock.file_plan(g.beats, g.downbeats, sr, len(warped), bpm)
    out = lock.apply(p, warped)
    took = time.perf_counter() - t0
    errs = kick_errors(out, audio, sr, kicks)
    rate = np.diff(w.dst) / np.diff(w.src)
    return {"warp": spec, "tempo_range_pct": [round(float(1 / rate.max() - 1) * 100, 1),
                                             round(float(1 / rate.min() - 1) * 100, 1)],
            "kicks": int(errs.size), "kicks_within_10ms_pct": round(float(np.mean(errs <= 0.010)) * 100, 1),
            "kick_worst_ms": round(float(errs.max()) * 1000, 2), "kick_median_ms": round(float(np.median(errs)) * 1000, 2),
            "seconds": round(len(out) / sr, 6), "exact_length": len(out) == len(audio), "mode": p.mode,
            "s_per_min": round(took / (len(warped) / sr / 60), 2)}


def passes(row: dict) -> bool:
    return row["kicks_within_10ms_pct"] >= 95.0 and row["kick_worst_ms"] <= 25.0 and row["exact_length"]


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
    ap.add_argument("--groove-bars", type=int, default=24)
    ap.add_argument("--groove-warps", nargs="*", default=list(GROOVE_WARPS))
    ap.add_argument("--check", action="store_true", help="exit 1 unless every groove map passes")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    grooves = []
    if args.groove_warps:
        print(f"drum groove, {args.groove_bars} bars at {args.bpm:g} bpm, file route (measure + file_plan + apply)")
    for spec in args.groove_warps:
        row = groove_row(spec, args.bpm, args.groove_bars)
        grooves.append(row)
        lo, hi = row["tempo_range_pct"]
        print(f"{spec:14s} tempo {lo:+.1f}..{hi:+.1f} %: kicks {row['kicks_within_10ms_pct']:5.1f} % within 10 ms, "
              f"worst {row['kick_worst_ms']:5.2f} ms, median {row['kick_median_ms']:.2f} ms; {row['seconds']:.6f} s "
              f"(exact {row['exact_length']}); {row['mode']}; {row['s_per_min']} s/min"
              f"{'' if passes(row) else '  FAIL'}")
    results = []
    if args.warps:
        results = guide_rows(args)
    if args.json:
        args.json.write_text(json.dumps({"bpm": args.bpm, "bars": args.bars, "results": results,
                                         "groove": grooves}, indent=1))
    if args.check and not all(passes(r) for r in grooves):
        raise SystemExit(1)


def guide_rows(args: argparse.Namespace) -> list[dict]:
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
        plan = lock.plan(downs, bar_lines, sr, frames=int(round(dur * sr)), beats=beats, meter=4)
        locked = {k: lock.apply(plan, v) for k, v in warped.items()}
        t_lock = time.perf_counter() - t0
        per = {k: bar_errors(locked[k], stems[k], sr, bar_lines[bar_lines < dur]) for k in stems}
        errs = [e for k in stems for e in per[k]]
        same = len({len(v) for v in locked.values()}) == 1 and all(len(v) == plan.frames for v in locked.values())
        minutes = n / sr / 60
        row = {"warp": spec, "beats_within_20ms_pct": round(float(np.mean(near < 0.02)) * 100, 1),
               "beats_within_5ms_pct": round(float(np.mean(near < 0.005)) * 100, 1),
               "downbeats_within_20ms_pct": round(float(np.mean(near_d < 0.02)) * 100, 1),
               "median_beat_error_ms": round(float(np.median(near)) * 1000, 2), "lock_mode": plan.mode,
               "bar_error_worst_ms": round(max(abs(e) for e in errs) * 1000, 2) if errs else None,
               "bar_error_p95_ms": round(float(np.percentile(np.abs(errs), 95)) * 1000, 2) if errs else None,
               "drums_worst_ms": round(max(abs(e) for e in per.get("drums", [0.0])) * 1000, 2),
               "bar_lines_measured": len(errs), "stems_same_length": same,
               "track_s_per_min": round(t_track / minutes, 3),
               "lock_s_per_min_all_stems": round(t_lock / minutes, 2)}
        results.append(row)
        print(f"{spec:12s} beats {row['beats_within_20ms_pct']:5.1f} % within 20 ms ({row['beats_within_5ms_pct']:.0f} % "
              f"within 5; downbeats {row['downbeats_within_20ms_pct']:.0f} %), lock {plan.mode}: bar lines worst "
              f"{row['bar_error_worst_ms']} ms (drums {row['drums_worst_ms']}), p95 {row['bar_error_p95_ms']} ms over "
              f"{len(errs)}; same length "
              f"{same}; track {row['track_s_per_min']} s/min, lock {row['lock_s_per_min_all_stems']} s/min "
              f"({len(stems)} stems)")
    return results


if __name__ == "__main__":
    main()
