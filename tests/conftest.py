from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_MISSING: set[str] = set()


def fixture_root() -> Path:
    """Golden data made by the reference implementations: ``SONGBRIDGE_FIXTURES``, else ``../shared/fixtures``."""
    env = os.environ.get("SONGBRIDGE_FIXTURES")
    return Path(env).expanduser() if env else REPO.parent / "shared" / "fixtures"


def fixture_set(name: str) -> Path:
    """One fixture folder. Absent: the test is reported as not run, and why (a failure under CI=true, where the
    golden data must always be there)."""
    folder = fixture_root() / name
    if not folder.is_dir():
        why = (f"golden data {name!r} not found at {folder} (set SONGBRIDGE_FIXTURES to the folder holding "
               f"{name}/)")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(why + "; under CI the fixtures must be present")
        _MISSING.add(name)
        pytest.skip("not run: " + why)
    return folder


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return fixture_set("diffrhythm")


@pytest.fixture(autouse=True, scope="session")
def _private_data_folder(tmp_path_factory):
    """Learned estimates, style presets, digests, allowed plugins and other per-user data go to temporary folders,
    not the user's."""
    names = ("SONGBRIDGE_DATA", "SONGBRIDGE_STYLES", "SONGBRIDGE_CACHE", "SONGBRIDGE_CONFIG")
    old = {n: os.environ.get(n) for n in names}
    for n in names:
        os.environ[n] = str(tmp_path_factory.mktemp(n.lower()))
    yield
    for n, v in old.items():
        if v is None:
            os.environ.pop(n, None)
        else:
            os.environ[n] = v


#: markers that mean a real peer or server is started: such a test is slow by nature
_PEER_MARKERS = ("integration", "daw", "audio_server", "gpu")


def pytest_collection_modifyitems(config, items) -> None:
    """``daw`` on every test that runs a real DAW (Ardour, REAPER: the modules named after them), and ``slow`` on
    every test that starts a peer, so ``pytest -m "not slow"`` is the fast inner loop (README, "Tests")."""
    for item in items:
        if item.path.name.startswith(("test_ardour", "test_reaper")):
            item.add_marker(pytest.mark.daw)
        if any(item.get_closest_marker(m) for m in _PEER_MARKERS):
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _MISSING:
        terminalreporter.write_line(
            f"golden data not found for {', '.join(sorted(_MISSING))} under {fixture_root()}: the tests that "
            "compare with it were NOT run (see the 'not run' lines above); set SONGBRIDGE_FIXTURES to run them",
            yellow=True, bold=True)


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


def tiny_neural_setup(folder: Path, monkeypatch, preset: str, seed: int = 0) -> Path:
    """The tiny random DiffRhythm and MuQ-MuLan as this machine's model folder, and one saved style ``preset``
    (a random unit vector). Returns the model folder."""
    import numpy as np

    from engine.backends.diffrhythm.tiny import create_tiny_model
    from engine.style import presets
    from engine.style.tiny import create_tiny_encoder

    models = create_tiny_model(folder)
    create_tiny_encoder(models)
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(models))
    v = np.random.default_rng(seed).standard_normal((1, 512)).astype(np.float32)
    presets.save(presets.StylePreset(preset, "prompt", v / np.linalg.norm(v), prompt=preset.lower()), overwrite=True)
    return models


class OscDump:
    """liblo's ``oscdump`` as a real OSC peer on a free UDP port: started, then waited for until it holds its port
    (a message sent before it has bound is lost, and a bare ``readline`` would then wait forever)."""

    def __init__(self) -> None:
        import socket

        if shutil.which("oscdump") is None:
            pytest.fail("needs liblo-tools (oscsend, oscdump); .ci/run installs them")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(["oscdump", "-L", str(self.port)], stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while self._port_free(socket):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                pytest.fail(f"oscdump did not bind UDP port {self.port}")
            time.sleep(0.05)
        # A thread reads the pipe: select() on a buffered text pipe misses lines already read into the buffer.
        import queue
        import threading

        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name="oscdump-reader").start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)

    def _port_free(self, socket) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("", self.port))
            except OSError:
                return False
            return True

    def readline(self, timeout: float) -> str:
        """The next line oscdump printed, or '' when none came within ``timeout`` seconds."""
        import queue

        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            return ""

    def lines_until(self, text: str, timeout: float) -> list[str]:
        """Lines read until one contains ``text`` or ``timeout`` seconds pass."""
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not any(text in ln for ln in lines):
            line = self.readline(max(0.0, deadline - time.monotonic()))
            if line:
                lines.append(line)
        return lines

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(5)


@pytest.fixture
def oscdump():
    dump = OscDump()
    yield dump
    dump.close()
