"""Guide renderer speed: a 3-minute song with all stems, on one CPU core.

Method: pin the process to one core (``os.sched_setaffinity``) and one BLAS/OpenMP thread, build a song of
``--seconds`` (default 180) at 110 bpm with intro/verse/chorus/bridge/outro sections and 48 auto-timed lyric
lines, render it once to warm the caches of one-shots and notes (a first take in a session pays this once),
then time ``--runs`` renders of the four stems and the mix (best and median), and separately the time to write
the take's five 24-bit WAV files. Real-time factor = song seconds / render seconds; the goal is >= 200x.

``--whole-process``: time what a producer waits for instead, ``songbridge generate`` of the example song
(``examples/neon-rain.txt`` with ``examples/neon-rain.toml``, 92.3 s) as a fresh process from start to exit, all
cores, ``--runs`` times (best and median); real-time factor = song seconds / process seconds; the goal is >= 50x.
The first run's imports are checked for torch (the guide must not import it).

Run: ``python benchmarks/guide_render.py [--seconds 180] [--runs 5] [--whole-process]``
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--style", default="pop")
    ap.add_argument("--whole-process", action="store_true", dest="whole",
                    help="time `songbridge generate` of the example song as a whole process")
    args = ap.parse_args()
    if args.whole:
        whole_process(args.runs)
        return
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from engine.backends.base import GenerationRequest
    from engine.backends.guide.backend import GuideBackend
    from engine.lyrics import auto_time, lines_from_lrc, parse
    from engine.song import Key, Style, TempoMap
    from engine.song.sections import parse_sections

    tempo = TempoMap.constant(110)
    bars = int(args.seconds / tempo.bar_length_s(1))
    body = max(8, bars - 8)
    spec = f"intro:4,verse:{body // 4},chorus:{body // 8},verse:{body // 4},chorus:{body // 8}," \
           f"bridge:{body // 8},chorus:{body - 3 * (body // 8) - 2 * (body // 4)},outro:4"
    sections = parse_sections(spec, tempo)
    text = "\n".join(["City lights are calling out my name", "I keep on driving through the rain",
                      "Every mile is another memory", "Of the night you walked away from me"] * 12)
    lines = auto_time(lines_from_lrc(parse(text)), tempo, sections)
    duration = sections[-1].end_s
    backend = GuideBackend()
    with tempfile.TemporaryDirectory() as tmp:
        def request(i: int) -> GenerationRequest:
            return GenerationRequest(f"t{i}", Path(tmp) / f"t{i}", tuple(lines), Style(args.style), duration, 7,
                                     tempo, Key.parse("A minor"), sections)

        from engine.lyrics.g2p import default_g2p

        t0 = time.perf_counter()
        default_g2p()
        g2p_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        backend.render(request(0), lambda a, b: None, lambda: False)
        cold = time.perf_counter() - t0
        times = []
        for i in range(args.runs):
            t0 = time.perf_counter()
            backend.render(request(i), lambda a, b: None, lambda: False)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        backend.generate(request(99), lambda a, b: None, lambda: False)
        full = time.perf_counter() - t0
    best, med = min(times), statistics.median(times)
    print(f"song: {duration:.1f} s, {len(lines)} lyric lines, style {args.style!r}, 1 core")
    print(f"render (4 stems + mix): best {best * 1000:.0f} ms = {duration / best:.0f}x real time; "
          f"median {med * 1000:.0f} ms = {duration / med:.0f}x")
    print(f"once per process: G2P dictionary load {g2p_load * 1000:.0f} ms; first render (note and drum caches "
          f"cold) {cold * 1000:.0f} ms = {duration / cold:.0f}x")
    print(f"render + write take (5 x 24-bit WAV): {full * 1000:.0f} ms = {duration / full:.0f}x real time")


def whole_process(runs: int) -> None:
    import json
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                            "MKL_NUM_THREADS")}
    times, duration, torch_seen = [], 0.0, None
    with tempfile.TemporaryDirectory() as tmp:
        env.update(SONGBRIDGE_DATA=tmp, SONGBRIDGE_CACHE=tmp)  # no learned estimates or caches from earlier runs
        for i in range(runs):
            cmd = [sys.executable, *(["-X", "importtime"] if i == 0 else []), "-m", "songbridge", "generate",
                   "examples/neon-rain.txt", "--settings", "examples/neon-rain.toml", "-o", f"{tmp}/run{i}"]
            t0 = time.perf_counter()
            done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
            wall = time.perf_counter() - t0
            if done.returncode != 0:
                raise SystemExit(f"songbridge generate failed:\n{done.stderr[-2000:]}")
            if i == 0:
                torch_seen = any(line.rstrip().endswith("| torch") for line in done.stderr.splitlines())
                song = json.loads((Path(tmp) / "run0.songbridge" / "song.json").read_text())
                duration = float(song["takes"][0]["duration_s"])
            else:
                times.append(wall)
    best, med = min(times), statistics.median(times)
    print(f"songbridge generate examples/neon-rain.txt (guide, {duration:.1f} s song), whole process, "
          f"{len(times)} runs after one with -X importtime: best {best:.2f} s = {duration / best:.0f}x real time; "
          f"median {med:.2f} s = {duration / med:.0f}x; torch imported: {'yes' if torch_seen else 'no'}; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
