"""OSC floods against ``songbridge serve``: ping latency while 2,000 messages arrive at once, and what became of them.

Method: make a guide project (one take) in a temporary folder, start the real program (``python -m songbridge serve
PROJECT --osc 127.0.0.1:0 --midi off``, engine in its worker process) and read its port from stderr. For each
flood: one socket sends 2,000 messages as fast as it can (tempo sets, lyric sets of a 40-line LRC, or
``generate_section`` requests), while a second socket sends ``/songbridge/ping`` every 2 ms from just before the
flood until its replies stop, timing each pong with ``time.perf_counter``. Afterwards ``/songbridge/bridge/get/stats``
says how many messages the bridge received, handled, coalesced, and how many the kernel dropped. Each flood runs three times, probed with
ping, a transport read and a song read (of a property the flood does not set). Prints p50/p99/max of the probe's
round trip (goal: p99 <= 5 ms), probes lost, and processed/coalesced/dropped/replies per flood.

Run: ``python benchmarks/osc_flood.py [--count 2000]``
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def osc(address: str, *args: object) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def make_project(folder: Path) -> Path:
    from engine.backends.guide.backend import GuideBackend
    from engine.generation import SongChoices, plan_takes, prepare_song, run_take
    from engine.lyrics import parse
    from engine.song import Project, Song

    project = Project(folder / "flood.songbridge", Song())
    project.song = prepare_song(project.song, parse("[verse]\nla la la\n[chorus]\noh oh oh\n"), SongChoices(
        style="pop", bpm=120, sections="intro:2,verse:8,chorus:8,outro:2"), first_time=True)
    project.save()
    run_take(project, GuideBackend(), plan_takes(project, 1, 1)[0], lambda d, t: None, lambda: False)
    return project.folder


def start_serve(project: Path) -> tuple[subprocess.Popen, tuple[str, int]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "songbridge", "serve", str(project), "--osc", "127.0.0.1:0",
                             "--midi", "off"], stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        m = re.search(r"OSC on ([\d.]+):(\d+)", line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, (m.group(1), int(m.group(2)))
    proc.kill()
    raise SystemExit("serve did not start")


def flood(address: tuple[str, int], payloads: list[bytes], probe: str = "/songbridge/ping") -> dict[str, object]:
    from pythonosc.osc_message import OscMessage

    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 2**20)
    sender.bind(("127.0.0.1", 0))
    pinger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pinger.bind(("127.0.0.1", 0))
    pinger.settimeout(0.5)
    rtts: list[float] = []
    sent_pings = 0
    stop = threading.Event()
    ping = osc(probe)
    answer = "/songbridge/pong" if probe.endswith("/ping") else probe

    def pings() -> None:
        nonlocal sent_pings
        while not stop.is_set():
            t0 = time.perf_counter()
            pinger.sendto(ping, address)
            sent_pings += 1
            try:
                while OscMessage(pinger.recv(65535)).address != answer:
                    pass
                rtts.append((time.perf_counter() - t0) * 1000)
            except TimeoutError:
                pass
            time.sleep(0.002)

    t = threading.Thread(target=pings, daemon=True)
    t.start()
    time.sleep(0.2)
    t0 = time.perf_counter()
    for data in payloads:
        sender.sendto(data, address)
    send_s = time.perf_counter() - t0
    replies = 0
    sender.settimeout(1.0)
    try:
        while True:
            sender.recv(65535)
            replies += 1
    except TimeoutError:
        pass
    stop.set()
    t.join(2)
    pinger.settimeout(2.0)
    pinger.sendto(osc("/songbridge/bridge/get/stats"), address)
    stats = None
    while stats is None:
        m = OscMessage(pinger.recv(65535))
        if m.address.endswith("/stats"):
            stats = m.params
    sender.sendto(osc("/songbridge/job/cancel", "*"), address)
    a = np.array(rtts)
    return {"p50": np.percentile(a, 50), "p99": np.percentile(a, 99), "max": a.max(), "pings": sent_pings,
            "lost": sent_pings - len(rtts), "stats": stats, "replies": replies, "send_ms": send_s * 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=2000)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    lrc = "".join(f"[{i // 60:02d}:{i % 60:02d}.00]line number {i} of the song\n" for i in range(0, 80, 2))
    floods = {
        "tempo sets": [osc("/songbridge/song/set/tempo", 60.0 + (i % 1200) / 10) for i in range(args.count)],
        "lyric sets": [osc("/songbridge/song/set/lyrics", lrc.replace("song", f"song {i}")) for i in range(args.count)],
        "generate requests": [osc("/songbridge/job/generate_section", "Chorus") for _ in range(args.count)],
    }
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp))
        proc, address = start_serve(project)
        try:
            print(f"{args.count:,}-message floods against songbridge serve on {address[0]}:{address[1]}")
            last = (0, 0, 0, 0, 0)
            for (name, payloads), probe in [(kv, p) for kv in floods.items()
                                            for p in ("/songbridge/ping", "/songbridge/transport/get/position",
                                                      "/songbridge/song/get/key")]:
                r = flood(address, payloads, probe)
                stats = tuple(r["stats"])  # type: ignore[arg-type]
                delta = tuple(b - a for a, b in zip(last, stats, strict=True))
                last = stats
                received, handled, coalesced, dropped, unsent = delta
                print(f"  {name:<18} {probe.split('/', 2)[2]:<24} p50 {r['p50']:.2f} ms  p99 {r['p99']:.2f} ms  max {r['max']:.2f} ms  "
                      f"({r['pings']} pings, {r['lost']} lost; flood sent in {r['send_ms']:.0f} ms)")
                print(f"  {'':<18} received {received}, processed {handled}, "
                      f"coalesced {coalesced}, dropped by the kernel {dropped}, replies {r['replies']}, "
                      f"unsent {unsent}")
                time.sleep(1.0)
        finally:
            proc.terminate()
            proc.wait(20)


if __name__ == "__main__":
    main()
