"""``kill -9`` of ``songbridge serve`` in a loop: the project always loads with the last acknowledged value, no
temporary files stay, no engine worker is orphaned.

Method: make a guide project; then N times: start ``python -m songbridge serve PROJECT --osc 127.0.0.1:0 --midi off``,
wait for its OSC port, note its engine worker's pid, send tempo sets as fast as possible from one socket for a
random 50-400 ms while reading acknowledgements (``/songbridge/song/get/tempo``), then ``kill -9`` the program in
the middle of the stream. Check: ``song.json`` loads, its tempo is the last acknowledged value or one sent after it
(never an older one); the worker is gone within 2 s; after the next open no ``.tmp`` file is left. Prints one line
per failure and a summary.

Run: ``python benchmarks/kill_loop.py [--runs 50]``
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return []
    return [int(x) for x in out.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its (dead) parent's reaper is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def one_run(project: Path, rng: random.Random) -> list[str]:
    from pythonosc.osc_message import OscMessage
    from pythonosc.osc_message_builder import OscMessageBuilder

    from engine.song import load_song

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "songbridge", "serve", str(project), "--osc", "127.0.0.1:0",
                             "--midi", "off"], stderr=subprocess.PIPE, text=True, env=env)
    port = None
    deadline = time.monotonic() + 60
    while port is None and time.monotonic() < deadline:
        m = re.search(r"OSC on [\d.]+:(\d+)", proc.stderr.readline())
        if m:
            port = int(m.group(1))
    if port is None:
        proc.kill()
        return ["serve did not start"]
    time.sleep(0.3)
    workers = [c for c in children(proc.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    sent: list[float] = []
    acked: float | None = None
    stop_at = time.monotonic() + rng.uniform(0.05, 0.4)
    n = 0
    while time.monotonic() < stop_at:
        bpm = 60.0 + (n % 1400) / 10 + rng.random() / 100
        b = OscMessageBuilder("/songbridge/song/set/tempo")
        b.add_arg(bpm)
        s.sendto(b.build().dgram, ("127.0.0.1", port))
        sent.append(round(bpm, 3))
        n += 1
        try:
            while True:
                m = OscMessage(s.recv(65535))
                if m.address == "/songbridge/song/get/tempo":
                    acked = round(m.params[0], 3)
        except BlockingIOError:
            pass
        time.sleep(0.0005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    problems = []
    deadline = time.monotonic() + 2.0
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    if any(alive(w) for w in workers):
        problems.append(f"engine worker {workers} outlived serve")
    try:
        bpm = round(load_song(project).tempo.bpm, 3)
    except Exception as exc:  # noqa: BLE001 - that is what we are looking for
        return [*problems, f"song.json does not load: {exc}"]
    if acked is not None:
        later = sent[max(i for i, v in enumerate(sent) if abs(v - acked) < 2e-3):]
        if not any(abs(bpm - v) < 2e-3 for v in later):
            problems.append(f"tempo {bpm} on disk, but {acked} was acknowledged")
    tmp = [p.name for p in project.glob(".*.tmp")]
    from engine.session import Session

    session = Session.open(project, None, "kill-loop check")
    session.close()
    if list(project.glob(".*.tmp")):
        problems.append(f"temporary files left after reopening: {tmp}")
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from osc_flood import make_project

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp))
        failures = 0
        t0 = time.perf_counter()
        for i in range(args.runs):
            problems = one_run(project, rng)
            for p in problems:
                print(f"run {i + 1}: {p}")
            failures += bool(problems)
        print(f"kill -9 x{args.runs}: {args.runs - failures} clean, {failures} with problems "
              f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
