"""Startup and parser speed: how long ``songbridge --help`` takes, and the LRC parser on a 10,000-line file.

Method: ``songbridge --help`` runs in a fresh interpreter ``--runs`` times (default 10) via ``python -m
songbridge``; we print the median and the best wall time (the target is well under 0.5 s). The parser reads a
generated 10,000-line LRC (timestamps, word stamps on every tenth line, section headers, metadata) from memory,
best of 5, and also formats it back.

Run: ``python benchmarks/cli_and_lrc.py``
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time


def make_lrc(n: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    words = "love night city lights drive home heart fire running away tonight forever dream".split()
    out = ["[ti:Benchmark]", "[ar:SongBridge]", "[offset:+120]"]
    t = 1000
    for i in range(n):
        if i % 40 == 0:
            out.append(f"[{rng.choice(['verse', 'chorus', 'bridge'])} {i // 40}]")
        t += rng.randint(1500, 4000)
        text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 8)))
        stamp = f"[{t // 60000:02d}:{t // 1000 % 60:02d}.{t % 1000 // 10:02d}]"
        if i % 10 == 0:
            ws = text.split()
            text = " ".join(f"<{(t + 250 * k) // 60000:02d}:{(t + 250 * k) // 1000 % 60:02d}.{(t + 250 * k) % 1000 // 10:02d}>{w}"
                            for k, w in enumerate(ws))
        out.append(stamp + text)
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--lines", type=int, default=10_000)
    args = ap.parse_args()

    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "songbridge", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    print(f"songbridge --help: median {statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms "
          f"over {args.runs} runs (fresh interpreter each)")

    from engine.lyrics import lrc

    text = make_lrc(args.lines)
    best_parse = best_format = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        doc = lrc.parse(text, "bench.lrc")
        t1 = time.perf_counter()
        lrc.format(doc)
        t2 = time.perf_counter()
        best_parse, best_format = min(best_parse, t1 - t0), min(best_format, t2 - t1)
    print(f"LRC parse: {args.lines} lines ({len(text) / 1e6:.2f} MB) in {best_parse * 1000:.1f} ms "
          f"({args.lines / best_parse:,.0f} lines/s); format in {best_format * 1000:.1f} ms; best of 5")


if __name__ == "__main__":
    main()
