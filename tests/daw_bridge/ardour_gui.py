"""The real Ardour 7 GUI for tests: under Xvfb, on a JACK dummy server of its own (a name of its own, at the rate
asked), with its own configuration folder (no first-run wizard, the engine started without the Audio/MIDI dialog,
OSC on). Ardour's OSC surface takes UDP 3819 or the next free port up to 3838: the harness finds the port its own
Ardour took (``self.port``), so other Ardours on the machine do not matter; ``busy_3819`` holds 3819 so that Ardour
must take another. Ardour 7.3 loses JACK at start-up now and then (1 start in 3-6 on a loaded machine): a start
that lost JACK is told apart from a real failure (its log, and no Ardour ports in JACK) and tried again."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

CONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<Ardour>
  <Config>
    <Option name="try-autostart-engine" value="1"/>
  </Config>
  <Extra>
    <AudioMIDISetup>
      <EngineStates>
        <State backend="JACK" driver="" device="" input-device="" output-device="" sample-rate="{rate}"
               buffer-size="1024" n-periods="0" input-latency="0" output-latency="0" lm-input="" lm-output=""
               active="1" use-buffered-io="0" midi-option="" lru="1">
          <MIDIDevices/>
        </State>
      </EngineStates>
    </AudioMIDISetup>
  </Extra>
  <ControlProtocols>
    <Protocol name="Open Sound Control (OSC)" feedback="0" debugmode="0" address-only="1" remote-port="8000"
              banksize="0" striptypes="31" gainmode="0" send-page-size="0" plug-page-size="0" active="1"/>
  </ControlProtocols>
</Ardour>
"""


def need_gui_peers() -> None:
    missing = [exe for exe in ("ardour", "ardour7-lua", "Xvfb", "jackd") if shutil.which(exe) is None]
    if missing:
        pytest.fail(f"the live Ardour tests need {', '.join(missing)} (apt-get install ardour xvfb jackd2; "
                    ".ci/run does)")


def osc_port_owner(port: int = 3819) -> str:
    out = subprocess.run(["ss", "-lunp"], capture_output=True, text=True).stdout
    return next((ln for ln in out.splitlines() if f":{port} " in ln), "")


JACK_LOST = ("JACK HALTED", "JACK has either been shutdown", "cannot connect to JACK", "Cannot connect to server", "zombified",
             "Audio/MIDI engine has stopped", "could not connect to JACK", "JACK server not running")


class ArdourGui:
    """Xvfb + jackd (dummy, at ``rate``) + Ardour with ``home`` as its configuration; ``open(session)`` starts
    Ardour on it and finds its OSC port."""

    def __init__(self, home: Path, rate: int = 44100, busy_3819: bool = False):
        need_gui_peers()
        self.home, self.rate = home, rate
        self.config = home / "ardour7"
        self.config.mkdir(parents=True, exist_ok=True)
        (self.config / ".a7").touch()  # "been here before": no first-run wizard
        (self.config / "config").write_text(CONFIG.replace("{rate}", str(rate)))
        # the locked-memory notice is modal before the session loads; this is what its "do not show again" writes
        (self.config / "instant.xml").write_text('<?xml version="1.0"?>\n<instant><no-memory-warning/></instant>\n')
        self.jack_name = f"sbtest{os.getpid()}x{time.monotonic_ns() % 100000}"
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "XDG_CONFIG_HOME": str(home), "JACK_DEFAULT_SERVER": self.jack_name,
                    "JACK_NO_AUDIO_RESERVATION": "1"}
        self.blocker = None
        if busy_3819 and not osc_port_owner(3819):
            self.blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.blocker.bind(("0.0.0.0", 3819))
        self.xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        display = self.xvfb.stdout.readline().decode().strip()
        self.env["DISPLAY"] = f":{display}"
        self.jack: subprocess.Popen | None = None
        try:
            self._start_jack()
        except BaseException:  # a JACK that will not start leaves no Xvfb (nor a bound 3819) behind
            self.xvfb.kill()
            self.xvfb.wait(10)
            if self.blocker is not None:
                self.blocker.close()
            raise
        self.ardour: subprocess.Popen | None = None
        self.port = 0
        self.log = home / "ardour.log"

    def _start_jack(self) -> None:
        # no realtime scheduling and a 5 s client timeout (as tests/conftest.py's server): on two shared cores a
        # realtime dummy server with the default 500 ms timeout closed under Ardour every few starts
        with open(self.home / "jackd.log", "ab") as log:  # why it closed, when it does
            self.jack = subprocess.Popen(["jackd", "-n", self.jack_name, "-r", "-t", "5000", "-d", "dummy", "-r",
                                          str(self.rate), "-p", "1024"], env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while subprocess.run(["jack_lsp"], env=self.env, capture_output=True).returncode != 0:
            if self.jack.poll() is not None or time.monotonic() > deadline:
                if self.jack.poll() is None:
                    self.jack.kill()
                    self.jack.wait(10)
                tail = (self.home / "jackd.log").read_text(errors="replace").strip().splitlines()[-3:]
                raise AssertionError("jackd (dummy backend) did not start: " + " | ".join(tail))
            time.sleep(0.3)

    def _ardour_in_jack(self) -> bool:
        ports = subprocess.run(["jack_lsp"], env=self.env, capture_output=True, text=True).stdout
        return any(line.lower().startswith("ardour") for line in ports.splitlines())

    def _own_ports(self) -> list[int]:
        from daw_bridge.adapters import ardour_live as live

        mine = []
        for p in live.processes():
            if p.kind != "gui":
                continue
            try:
                if os.getsid(p.pid) == self.ardour.pid:
                    mine += [port for port in p.osc_ports() if 3819 <= port <= 3838]
            except OSError:
                continue
        return mine

    def open(self, session: Path, timeout: float = 90.0, tries: int = 3) -> None:
        lost = ""
        for _ in range(tries):
            lost = self._open_once(session, timeout)
            if not lost:
                return
            self._kill_ardour()
            self.jack.terminate()
            self.jack.wait(10)
            self._start_jack()
        pytest.skip(f"Ardour lost its JACK server at start-up {tries} times in a row ({lost}): the machine, not "
                    "SongBridge")

    def _open_once(self, session: Path, timeout: float) -> str:
        """'' when Ardour came up with its OSC surface; why, when it lost JACK (worth another try); raises on any
        other failure."""
        start = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as log:
            self.ardour = subprocess.Popen(["ardour", "-n", "-a", str(session)], env=self.env, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            ports = self._own_ports()
            if ports:
                self.port = ports[0]
                break
            text = self.log.read_bytes()[start:].decode(errors="replace")
            hit = next((m for m in JACK_LOST if m in text), "")
            if hit or (self.ardour.poll() is not None and not self._ardour_in_jack()):
                return hit or "Ardour exited before joining JACK"
            if self.ardour.poll() is not None or time.monotonic() > deadline:
                if not self._ardour_in_jack():
                    return "Ardour never joined JACK"
                raise AssertionError(f"Ardour did not come up with its OSC surface; log: {text[-2000:]}")
            time.sleep(0.3)
        time.sleep(1.5)  # the session finishes loading after the surface is up
        self.log_start = start
        text = self.log.read_bytes()[start:].decode(errors="replace")
        hit = next((m for m in JACK_LOST if m in text), "")
        if hit or not self._ardour_in_jack():  # its OSC surface is up, but it has no audio engine
            return hit or "Ardour's ports are not in JACK"
        return ""

    def lost_jack(self) -> str:
        """Why Ardour has lost its JACK server since it opened (its log), or '' (then its tracks play into nothing and
        new ports cannot be connected: a machine problem, not a landing's)."""
        if not self.log.exists():
            return ""
        text = self.log.read_bytes()[getattr(self, "log_start", 0):].decode(errors="replace")
        hit = next((m for m in JACK_LOST if m in text), "")
        if hit:
            jack_log = (self.home / "jackd.log").read_text(errors="replace").strip().splitlines()
            return f"{hit}; jackd {'exited ' + str(self.jack.returncode) if self.jack.poll() is not None else 'runs'}" \
                + (f", its log ends: {jack_log[-1]}" if jack_log else "")
        return ""

    def _kill_ardour(self) -> None:
        if self.ardour is None:
            return
        try:
            os.killpg(self.ardour.pid, signal.SIGKILL)
        except OSError:
            pass
        self.ardour.wait(10)
        self.ardour = None

    def quit(self, timeout: float = 20.0) -> None:
        """Quit through Ardour's own Quit action (over OSC), as a producer would; kill only if it hangs."""
        if self.ardour is None:
            return
        from daw_bridge.adapters.ardour import ArdourOsc

        link = ArdourOsc(port=self.port or 3819)
        link.send("/access_action", "Common/Quit")
        link.close()
        try:
            self.ardour.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.ardour.pid, signal.SIGKILL)
            self.ardour.wait(10)
        self.ardour = None
        deadline = time.monotonic() + 10
        while self.port and osc_port_owner(self.port) and time.monotonic() < deadline:
            time.sleep(0.2)

    def close(self) -> None:
        try:
            self.quit()
        finally:
            if self.blocker is not None:
                self.blocker.close()
            for proc in (self.jack, self.xvfb):
                if proc is None:
                    continue
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
