"""The real Ardour 7 GUI for tests: under Xvfb, on a JACK dummy server, with its own configuration folder (no first
-run wizard, the engine started without the Audio/MIDI dialog, OSC on UDP 3819)."""

from __future__ import annotations

import os
import shutil
import signal
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
        <State backend="JACK" driver="" device="" input-device="" output-device="" sample-rate="44100"
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


class ArdourGui:
    """Xvfb + jackd (dummy) + Ardour with ``home`` as its configuration; ``open(session)`` starts Ardour on it."""

    def __init__(self, home: Path):
        need_gui_peers()
        self.home = home
        self.config = home / "ardour7"
        self.config.mkdir(parents=True, exist_ok=True)
        (self.config / ".a7").touch()  # "been here before": no first-run wizard
        (self.config / "config").write_text(CONFIG)
        # the locked-memory notice is modal before the session loads; this is what its "do not show again" writes
        (self.config / "instant.xml").write_text('<?xml version="1.0"?>\n<instant><no-memory-warning/></instant>\n')
        self.jack_name = f"sbtest{os.getpid()}"
        self.env = {**os.environ, "XDG_CONFIG_HOME": str(home), "JACK_DEFAULT_SERVER": self.jack_name,
                    "JACK_NO_AUDIO_RESERVATION": "1"}
        self.xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        display = self.xvfb.stdout.readline().decode().strip()
        self.env["DISPLAY"] = f":{display}"
        self.jack = subprocess.Popen(["jackd", "-n", self.jack_name, "-d", "dummy", "-r", "44100", "-p", "1024"],
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        self.ardour: subprocess.Popen | None = None
        self.log = home / "ardour.log"

    def open(self, session: Path, timeout: float = 60.0) -> None:
        assert not osc_port_owner(), f"UDP 3819 is taken: {osc_port_owner()}"
        with open(self.log, "ab") as log:
            self.ardour = subprocess.Popen(["ardour", "-n", "-a", str(session)], env=self.env, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while "Ardour" not in osc_port_owner():
            if self.ardour.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"Ardour did not come up with its OSC surface; log: {self.log.read_text()[-2000:]}")
            time.sleep(0.3)
        time.sleep(1.5)  # the session finishes loading after the surface is up

    def quit(self, timeout: float = 20.0) -> None:
        """Quit through Ardour's own Quit action (over OSC), as a producer would; kill only if it hangs."""
        if self.ardour is None:
            return
        from daw_bridge.adapters.ardour import ArdourOsc

        link = ArdourOsc()
        link.send("/access_action", "Common/Quit")
        link.close()
        try:
            self.ardour.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.ardour.pid, signal.SIGKILL)
            self.ardour.wait(10)
        self.ardour = None
        deadline = time.monotonic() + 10
        while osc_port_owner() and time.monotonic() < deadline:
            time.sleep(0.2)

    def close(self) -> None:
        try:
            self.quit()
        finally:
            for proc in (self.jack, self.xvfb):
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
