from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _few_open_files() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


@pytest.mark.slow
def test_serve_engine_and_generate_remotely(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SONGBRIDGE_ENGINE_KEY": "a-shared-key-for-this-test"}
    server = subprocess.Popen([sys.executable, "-m", "songbridge", "serve", "--engine", "--listen",
                               f"127.0.0.1:{port}"], env=env, stderr=subprocess.PIPE, text=True,
                              preexec_fn=_few_open_files)  # e.g. macOS's default
    try:
        assert server.stderr is not None
        assert f"engine API on http://127.0.0.1:{port}" in server.stderr.readline()
        limits = Path(f"/proc/{server.pid}/limits")
        if limits.exists():  # raised for the engine's connection caps
            line = next(x for x in limits.read_text().splitlines() if x.startswith("Max open files"))
            soft, hard = line.split()[3:5]
            assert int(soft) >= (min(4096, int(hard)) if hard.isdigit() else 4096), line
        lyrics = REPO / "examples" / "neon-rain.txt"
        args = ["generate", str(lyrics), "-o", str(tmp_path / "remote"), "--duration", "8", "--seed", "4",
                "--engine", f"127.0.0.1:{port}"]
        ok = run_cli(*args, env={"SONGBRIDGE_ENGINE_KEY": "a-shared-key-for-this-test"})
        assert ok.returncode == 0, ok.stderr
        assert (tmp_path / "remote.songbridge/takes/take-001/mix.wav").exists()
        wrong = run_cli(*args, env={"SONGBRIDGE_ENGINE_KEY": "not-the-key-0123456789"})
        assert wrong.returncode == 2
        last = wrong.stderr.strip().splitlines()[-1]
        assert last == f"songbridge: error: the engine at http://127.0.0.1:{port} refused the key", last
        missing = run_cli(*args, env={"SONGBRIDGE_ENGINE_KEY": ""})
        assert missing.returncode == 2 and "SONGBRIDGE_ENGINE_KEY" in missing.stderr
        assert not (tmp_path / "remote.songbridge/takes/take-002").exists()
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    out = run_cli("serve")
    assert out.returncode == 2 and "--engine" in out.stderr


@pytest.mark.slow
def test_kill_9_of_serve_keeps_acknowledged_edits_and_orphans_nothing(tmp_path: Path) -> None:
    """Three times: serve, tempo sets streaming, kill -9 in the middle. The last acknowledged tempo (or a later one)
    is on disk, the engine worker dies with serve, and the next open leaves no temporary file."""
    import re
    import time

    from pythonosc.osc_message import OscMessage
    from pythonosc.osc_message_builder import OscMessageBuilder

    from engine.session import Session
    from engine.song import load_song
    from tests.engine.session.test_session import make_project

    project = make_project(tmp_path).folder
    for run in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "songbridge", "serve", str(project), "--osc", "127.0.0.1:0",
                                 "--midi", "off"], stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
        port = None
        while port is None:
            line = proc.stderr.readline()
            assert line, "serve exited before listening"
            m = re.search(r"OSC on [\d.]+:(\d+)", line)
            port = int(m.group(1)) if m else None
        time.sleep(0.3)
        workers = subprocess.run(["pgrep", "-P", str(proc.pid), "-f", "spawn_main"], capture_output=True,
                                 text=True).stdout.split()
        assert workers, "serve has no engine worker"
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        sent, acked = [], None
        for i in range(300):
            bpm = 70.0 + run * 20 + i / 10
            b = OscMessageBuilder("/songbridge/song/set/tempo")
            b.add_arg(bpm)
            s.sendto(b.build().dgram, ("127.0.0.1", port))
            sent.append(bpm)
            try:
                while True:
                    msg = OscMessage(s.recv(65535))
                    if msg.address == "/songbridge/song/get/tempo":
                        acked = msg.params[0]
            except BlockingIOError:
                pass
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() and
                                                  Path(f"/proc/{w}/stat").read_text().split()[2] != "Z"
                                                  for w in workers):
            time.sleep(0.05)
        assert not any(Path(f"/proc/{w}").exists() and Path(f"/proc/{w}/stat").read_text().split()[2] != "Z"
                       for w in workers), "the engine worker outlived serve"
        assert acked is not None, "no set was acknowledged"
        on_disk = load_song(project).tempo.bpm
        first = next(i for i, v in enumerate(sent) if abs(v - acked) < 1e-3)
        assert any(abs(on_disk - v) < 1e-3 for v in sent[first:]), (on_disk, acked)
        Session.open(project, None, "check").close()
        assert not list(project.glob(".*.tmp"))
