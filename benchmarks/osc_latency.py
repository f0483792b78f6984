"""OSC round trip on loopback: ping -> pong, idle and while a render job runs.

Method: start the bridge in-process (OSC server thread + controller thread, engine in a worker process) on a free
port with a small guide project; a python-osc client sends ``/songbridge/ping`` from its own UDP socket and times
the ``/songbridge/pong`` with ``time.perf_counter`` (after the ``/songbridge/hello`` handshake), ``--pings`` times (5 ms apart) idle, then again while a
``/songbridge/job/generate_song`` job renders a 3-minute take in the worker. Prints p50/p99/max.

Run: ``python benchmarks/osc_latency.py [--pings 500]``
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.song.document import save_song


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pings", type=int, default=500)
    args = ap.parse_args()

    from pythonosc.osc_message import OscMessage
    from pythonosc.osc_message_builder import OscMessageBuilder

    from daw_bridge.osc.server import OscServer
    from daw_bridge.server import Bridge
    from engine.backends.guide.backend import GuideBackend
    from engine.generation import SongChoices, plan_takes, prepare_song, run_take
    from engine.lyrics import parse
    from engine.service import EngineService
    from engine.session import Session
    from engine.song import Project, Song

    tmp = Path(tempfile.mkdtemp())
    project = Project(tmp / "b.songbridge", Song())
    project.song = prepare_song(project.song, parse("la la la\n" * 40), SongChoices(
        style="rock", bpm=120, sections="intro:4,verse:32,chorus:16,verse:16,chorus:16,outro:6"), first_time=True)
    save_song(project.song, project.folder)
    run_take(project, GuideBackend(), plan_takes(project, 1, 1)[0], lambda d, t: None, lambda: False)
    engine = EngineService("process").start()
    osc = OscServer(None, "127.0.0.1", 0)  # type: ignore[arg-type]
    session = Session(project, engine)
    bridge = Bridge(session, osc.send, version="bench")
    osc.commands = bridge
    osc.start()
    bridge.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    from daw_bridge.osc.client import prove

    prove(sock, osc.address)  # the bridge answers an address in full once it has proven itself (docs/osc.md)
    sock.settimeout(2.0)
    ping = OscMessageBuilder("/songbridge/ping").build().dgram

    def rounds(n: int) -> np.ndarray:
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            sock.sendto(ping, osc.address)
            while True:
                data, _ = sock.recvfrom(65535)
                if OscMessage(data).address == "/songbridge/pong":
                    break
            out.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.005)
        return np.array(out)

    def show(label: str, a: np.ndarray) -> None:
        print(f"{label}: p50 {np.percentile(a, 50):.2f} ms, p99 {np.percentile(a, 99):.2f} ms, max {a.max():.2f} ms "
              f"over {len(a)} pings")

    rounds(20)
    show("idle", rounds(args.pings))
    job = OscMessageBuilder("/songbridge/job/generate_song").build().dgram
    sock.sendto(job, osc.address)
    time.sleep(0.3)
    busy = rounds(args.pings)
    state = [i.state for i in engine.jobs()]
    show(f"while a render job runs (job states seen after: {state})", busy)
    osc.close()
    bridge.close()
    engine.close()


if __name__ == "__main__":
    main()
