from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, run_cli


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_engine_and_generate_remotely(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SONGBRIDGE_ENGINE_KEY": "a-shared-key-for-this-test"}
    server = subprocess.Popen([sys.executable, "-m", "songbridge", "serve", "--engine", "--listen",
                               f"127.0.0.1:{port}"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        assert "listening on 127.0.0.1" in server.stderr.readline()
        lyrics = REPO / "examples" / "neon-rain.txt"
        args = ["generate", str(lyrics), "-o", str(tmp_path / "remote"), "--duration", "8", "--seed", "4",
                "--engine", f"127.0.0.1:{port}"]
        ok = run_cli(*args, env={"SONGBRIDGE_ENGINE_KEY": "a-shared-key-for-this-test"})
        assert ok.returncode == 0, ok.stderr
        assert (tmp_path / "remote.songbridge/takes/take-001/mix.wav").exists()
        wrong = run_cli(*args, env={"SONGBRIDGE_ENGINE_KEY": "not-the-key-0123456789"})
        assert wrong.returncode == 2
        assert wrong.stderr.strip().splitlines()[-1] == f"songbridge: error: the engine at 127.0.0.1:{port} refused the key"
        missing = run_cli(*args, env={"SONGBRIDGE_ENGINE_KEY": ""})
        assert missing.returncode == 2 and "SONGBRIDGE_ENGINE_KEY" in missing.stderr
        assert not (tmp_path / "remote.songbridge/takes/take-002").exists()
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    out = run_cli("serve")
    assert out.returncode == 2 and "--engine" in out.stderr
