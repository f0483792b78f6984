"""OSC floods against ``songbridge serve``: ping latency while 2,000 messages arrive at once, and what became of them;
then the mixed hostile fuzz of issue 27.

Method: make a guide project (one take) in a temporary folder, start the real program (``python -m songbridge serve
PROJECT --osc 127.0.0.1:0 --midi off``, engine in its worker process) and read its port from stderr. For each
flood: one socket sends 2,000 messages as fast as it can (tempo sets, lyric sets of a 40-line LRC, or
``generate_section`` requests), while a second socket sends ``/songbridge/ping`` every 2 ms from just before the
flood until its replies stop, timing each pong with ``time.perf_counter``. Both sockets prove their addresses first
(the ``/songbridge/hello`` handshake, docs/osc.md). Afterwards ``/songbridge/bridge/get/stats`` says how many
messages the bridge received, handled, coalesced, and how many the kernel dropped. Each flood runs three times,
probed with ping, a transport read and a song read (of a property the flood does not set). Prints p50/p99/max of the
probe's round trip (goal: p99 <= 5 ms), probes lost, and processed/coalesced/dropped/replies per flood.

The mixed fuzz (``--fuzz 10100`` datagrams; 0 skips it) interleaves every hostile kind from 13 sockets that never
prove themselves (12 ports of 127.0.0.1 and one of 127.0.0.2): random bytes, arguments cut short, bad padding, bytes
after the last argument, unknown type tags, huge strings, unknown addresses, hostile JSON, far-future bundles,
bundles of 200 bad messages and of 300 messages, ``get/lyrics`` of a large song (a reflection attempt),
``start_listen`` from unproven addresses, ``generate_song`` of 16 takes from every port, ``cancel "*"``, lyric sets
of 16,000 lines, and 22 lyric sets of about 48,000 characters (applied: each is a real edit, saved and undoable).
It prints the ping round trip during it, the bytes the attackers' sockets received against what they sent, and the
program's resident memory (``VmRSS``) before and after. One lyric set is made before it, so that the lyrics code's
first-use import (g2p's number expansion, about 3 s) is not counted.

Run: ``python benchmarks/osc_flood.py [--count 2000] [--fuzz 10100] [--only-fuzz]``
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from engine.song.document import save_song

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
    save_song(project.song, project.folder)
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


def proven_socket(address: tuple[str, int]) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    prove(s, address)
    s.settimeout(0.5)
    return s


def prove(s: socket.socket, address: tuple[str, int]) -> None:
    """The handshake (docs/osc.md); a bridge from before it (no answer to ``/songbridge/hello``) is measured as is."""
    try:
        from daw_bridge.osc.client import prove as hello
    except ImportError:
        return
    try:
        hello(s, address, timeout=3.0)
    except TimeoutError:
        print("  (this bridge does not answer /songbridge/hello: measured without the handshake)")


def flood(address: tuple[str, int], payloads: list[bytes], probe: str = "/songbridge/ping") -> dict[str, object]:
    from pythonosc.osc_message import OscMessage

    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 2**20)
    sender.bind(("127.0.0.1", 0))
    pinger = proven_socket(address)
    prove(sender, address)
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


def hostile(count: int, seed: int = 27) -> list[tuple[int, bytes]]:
    """The mixed fuzz: ``count`` datagrams, each with the index of the attacker socket (0-12) that sends it."""
    rng = random.Random(seed)
    tempo = osc("/songbridge/song/set/tempo", 96.37)
    future = b"#bundle\x00" + struct.pack(">Q", 0xFFFFFFFF << 32) + struct.pack(">i", len(tempo)) + tempo

    def bundle(n: int, address: str) -> bytes:
        out = b"#bundle\x00" + struct.pack(">Q", 1)
        for i in range(n):
            m = osc(f"{address}/{i}" if address.endswith("nope") else address)
            out += struct.pack(">i", len(m)) + m
        return out

    def lyrics(i: int) -> str:  # about 48,000 characters in 700 lines, different each time (no coalescing)
        return "".join(f"set {i} line {n} with some words that make it long enough to count\n" for n in range(700))

    kinds = [
        lambda i: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))),
        lambda i: tempo[:-3],  # a float cut short
        lambda i: tempo + b"\x00\x00\x00\x00",  # bytes after the last argument
        lambda i: b"/songbridge/song/set/tempo\x00\x00,f\x00\x01" + tempo[-4:],  # padding not zero
        lambda i: b"/songbridge/song/set/title\x00\x00,b\x00\x00\x00\x00\x00\x04abcd",  # a blob
        lambda i: osc("/songbridge/song/get/lyrics"),  # 32 bytes that would bring back tens of KB
        lambda i: osc("/songbridge/song/start_listen/lyrics"),
        lambda i: osc("/songbridge/job/generate_song", 16),
        lambda i: osc("/songbridge/job/cancel", "*"),
        lambda i: osc("/songbridge/job/generate", "[" * 5000 + "]" * 5000),
        lambda i: osc("/songbridge/job/generate", '{"section": "Chorus", "takes": 16, "seed": 1}'),
        lambda i: osc(rng.choice(["/songbridge/song/set/style", "/songbridge/nope", "/songbridge/stems/land_to"]),
                      "x" * 20_000),
        lambda i: osc("/songbridge/stems/land_to", "../../etc"),
        lambda i: osc("/nope/" + "y" * 300, 1),
        lambda i: future,
        lambda i: bundle(200, "/songbridge/nope"),
        lambda i: bundle(300, "/songbridge/song/get/tempo"),
        lambda i: osc("/songbridge/song/set/lyrics", "la\n" * 16_000),
    ]
    big = set(rng.sample(range(count), 22))
    out = []
    for i in range(count):
        data = osc("/songbridge/song/set/lyrics", lyrics(i)) if i in big else kinds[i % len(kinds)](i)
        out.append((rng.randrange(13), data))
    return out


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _ping_loop(address: tuple[str, int], stop, out) -> None:  # multiprocessing Event and Queue
    """In a process of its own (so that the sender's loop does not hold its GIL): a proven socket pings every 2 ms
    until ``stop``; puts (round trips in ms, pings sent) on ``out``."""
    from pythonosc.osc_message import OscMessage

    pinger = proven_socket(address)
    ping = osc("/songbridge/ping")
    rtts: list[float] = []
    sent = 0
    out.put("ready")
    while not stop.is_set():
        t0 = time.perf_counter()
        pinger.sendto(ping, address)
        sent += 1
        try:
            while OscMessage(pinger.recv(65535)).address != "/songbridge/pong":
                pass
            rtts.append((time.perf_counter() - t0) * 1000)
        except TimeoutError:
            pass
        time.sleep(0.002)
    out.put((rtts, sent))


def _stats(s: socket.socket, address: tuple[str, int]) -> tuple[int, ...]:
    """The bridge's counters (asked again every second: a full receive buffer drops the question)."""
    from pythonosc.osc_message import OscMessage

    timeout = s.gettimeout()
    s.settimeout(1.0)
    try:
        for _ in range(60):
            s.sendto(osc("/songbridge/bridge/get/stats"), address)
            try:
                while True:
                    m = OscMessage(s.recv(65535))
                    if m.address.endswith("/stats"):
                        return tuple(m.params)
            except TimeoutError:
                continue
        raise TimeoutError("the bridge did not answer /songbridge/bridge/get/stats within a minute")
    finally:
        s.settimeout(timeout)


def fuzz(address: tuple[str, int], count: int, pid: int) -> None:
    """Send the mixed fuzz while another process pings every 2 ms from a proven socket; print what happened."""
    import multiprocessing

    from pythonosc.osc_message import OscMessage

    attackers = []
    for i in range(13):
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 2**20)
        a.bind(("127.0.0.2" if i == 12 else "127.0.0.1", 0))
        a.setblocking(False)
        attackers.append(a)
    monitor = proven_socket(address)
    monitor.settimeout(30)
    monitor.sendto(osc("/songbridge/song/set/lyrics", "warm up the lyrics code: line 1 of 2\n"), address)
    while OscMessage(monitor.recv(65535)).address != "/songbridge/song/get/lyrics":
        pass
    payloads = hostile(count)
    ctx = multiprocessing.get_context("spawn")
    stop, out = ctx.Event(), ctx.Queue()
    pinger = ctx.Process(target=_ping_loop, args=(address, stop, out), daemon=True)
    pinger.start()
    out.get(timeout=60)
    rss0 = rss_kib(pid)
    time.sleep(0.3)
    sent = got = 0

    def drain() -> int:
        n = 0
        for a in attackers:  # keep the attackers' buffers drained, and count what reached them
            try:
                while True:
                    n += len(a.recv(65535))
            except BlockingIOError:
                pass
        return n

    t0 = time.perf_counter()
    for n, (who, data) in enumerate(payloads):
        attackers[who].sendto(data, address)
        sent += len(data)
        if n % 50 == 0:
            got += drain()
            time.sleep(0.001)
    send_s = time.perf_counter() - t0
    # Until the bridge is done: what it withholds or drops (nearly every hostile datagram ends there) stops changing
    # for a second and a half (the pings change received and handled, so those cannot tell).
    deadline, last, stable_since = time.monotonic() + 120, None, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - stable_since < 1.5:
        time.sleep(0.25)
        got_now = drain()
        got += got_now
        now = _stats(monitor, address)[2:]
        if now != last or got_now:
            last, stable_since = now, time.monotonic()
    busy_s = time.perf_counter() - t0
    stop.set()
    rtts, sent_pings = out.get(timeout=30)
    pinger.join(10)
    got += drain()
    rss1 = rss_kib(pid)
    stats = _stats(monitor, address)
    a = np.array(rtts)
    print(f"mixed hostile fuzz: {count:,} datagrams ({sent / 1e6:.1f} MB) from 13 unproven sockets, sent in "
          f"{send_s:.1f} s, handled within {busy_s:.1f} s")
    print(f"  ping p50 {np.percentile(a, 50):.2f} ms  p99 {np.percentile(a, 99):.2f} ms  max {a.max():.2f} ms "
          f"({sent_pings} pings, {sent_pings - len(rtts)} lost; goal p99 <= 5 ms)")
    print(f"  the attackers' sockets received {got:,} bytes for {sent:,} sent (at most 1x: "
          f"{'yes' if got <= sent else 'NO'})")
    print(f"  bridge stats since start: received {stats[0]}, handled {stats[1]}, coalesced {stats[2]}, "
          f"dropped by the kernel {stats[3]}, unsent {stats[4]}")
    print(f"  RSS {rss0 / 1024:.1f} MiB before, {rss1 / 1024:.1f} MiB after ({(rss1 - rss0) / 1024:+.1f} MiB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--fuzz", type=int, default=10_100, help="datagrams of the mixed hostile fuzz (0: none)")
    ap.add_argument("--only-fuzz", action="store_true", help="run the mixed fuzz alone")
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
            for (name, payloads), probe in [(kv, p) for kv in floods.items() if not args.only_fuzz
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
            if args.fuzz:
                fuzz(address, args.fuzz, proc.pid)
        finally:
            proc.terminate()
            proc.wait(20)


if __name__ == "__main__":
    main()
