from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SONGBRIDGE_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.fail(f"shared data folder {SHARED} is missing (set SONGBRIDGE_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def fixtures_dir(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "diffrhythm"


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "songbridge", *args], capture_output=True, text=True, cwd=cwd,
        env={**os.environ, **(env or {})}, timeout=300,
    )


# -- a real audio server for the player and MIDI tests: JACK's dummy backend ----------------------------------
def _jack_running() -> bool:
    if shutil.which("jack_lsp") is None:
        return False
    return subprocess.run(["jack_lsp"], capture_output=True, timeout=10).returncode == 0


@pytest.fixture(scope="session")
def jack_server():
    """A running JACK server at 44.1 kHz (reused when one runs already); PortAudio is re-initialised to see it."""
    if shutil.which("jackd") is None:
        pytest.fail("the audio_server tests need JACK: apt-get install jackd2 jack-tools (.ci/run does)")
    proc = None
    if not _jack_running():
        env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
        proc = subprocess.Popen(["jackd", "-r", "-t", "5000", "-d", "dummy", "-r", "44100", "-p", "1024"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not _jack_running():
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("jackd (dummy backend) did not start")
            time.sleep(0.2)
    import sounddevice as sd

    sd._terminate()
    sd._initialize()
    yield
    # PortAudio must let go of the server before it stops, or its exit handler aborts the process.
    sd._terminate()
    if proc is not None:
        proc.terminate()
        proc.wait(10)
