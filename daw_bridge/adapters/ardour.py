"""Ardour 7: transport over OSC, and stems landed into a closed session.

OSC (``ArdourOsc``): Ardour's surface on UDP 3819 with ``/set_surface`` in auto-reply mode (port 0), so it answers
the socket we send from; ``/locate``, ``/transport_play``, ``/transport_stop``, ``/transport_frame`` and the
``/position/samples`` feedback. Ardour has no OSC address for its tempo; use MIDI clock for that.

Sessions: ``create_session`` (``ardour7-lua``, with the song's tempo and meter), ``session_regions`` (what Ardour
itself loads from a session file) and ``export_session`` (``ardour7-export``). Landing stems lives in
``ardour_closed`` (a session no Ardour holds) and ``ardour_live`` (a running Ardour, through its editor).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from engine.errors import SongBridgeError

SUPERCLOCK = 282_240_000  # Ardour 7 superclock ticks per second
OSC_PORT = 3819


class ArdourError(SongBridgeError):
    pass


def superclock(samples: int, rate: int = 44100) -> int:
    return samples * SUPERCLOCK // rate


# -- OSC transport --------------------------------------------------------------------------------------------------
class ArdourOsc:
    def __init__(self, host: str = "127.0.0.1", port: int = OSC_PORT, timeout: float = 1.0):
        self.target = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(timeout)
        # bank 0, all strip types, feedback: transport (16) + /position/samples (1024) + bbt (32); auto reply port
        self.send("/set_surface", 0, 159, 16 + 1024 + 32, 0, 0, 0, 0)

    def close(self) -> None:
        self.sock.close()

    def send(self, address: str, *args: object) -> None:
        from daw_bridge.osc.replies import message

        self.sock.sendto(message(address, *args), self.target)

    def _receive(self, want: str, timeout: float) -> list | None:
        from pythonosc.osc_message import OscMessage

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            try:
                msg = OscMessage(data)
            except Exception:  # noqa: BLE001 - bundles and noise
                continue
            if msg.address == want:
                return list(msg.params)
        return None

    def frame(self, timeout: float = 3.0) -> int:
        """The play head in samples (``/transport_frame`` query)."""
        self.send("/transport_frame")
        got = self._receive("/transport_frame", timeout)
        if not got:
            raise ArdourError(f"Ardour at {self.target[0]}:{self.target[1]} did not answer /transport_frame")
        return int(got[0])

    def speed(self, timeout: float = 3.0) -> float:
        self.send("/transport_speed")
        got = self._receive("/transport_speed", timeout)
        if not got:
            raise ArdourError("Ardour did not answer /transport_speed")
        return float(got[0])

    def locate(self, samples: int, roll: bool = False) -> None:
        self.send("/locate", int(samples), int(roll))

    def play(self) -> None:
        self.send("/transport_play")

    def stop(self) -> None:
        self.send("/transport_stop")

    def add_marker(self) -> None:
        """A marker at the play head (sections: locate to their start first)."""
        self.send("/add_marker")


# -- landing into a closed session --------------------------------------------------------------------------------
def _lua(script: str, timeout: float = 120.0) -> str:
    exe = shutil.which("ardour7-lua")
    if exe is None:
        raise ArdourError("ardour7-lua is not installed (apt-get install ardour)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
        path = fh.name
    try:
        out = subprocess.run([exe, path], capture_output=True, text=True, timeout=timeout)
    finally:
        os.unlink(path)
    if out.returncode != 0:
        raise ArdourError(f"ardour7-lua failed: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")
    return out.stdout


def _lua_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def session_regions(session_dir: Path, name: str) -> list[tuple[str, str, int, int, int, float]]:
    """(track, region, position, length, channels, peak) of every audio region, as Ardour itself loads them."""
    script = f"""
local s = load_session({_lua_str(str(session_dir))}, {_lua_str(name)}); assert(s)
for t in s:get_tracks():iter() do
  for r in t:to_track():playlist():region_list():iter() do
    local ar = r:to_audioregion()
    if not ar:isnil() then print(string.format("REGION\\t%s\\t%s\\t%d\\t%d\\t%d\\t%.5f", t:name(), r:name(), r:position():samples(),
      r:length():samples(), ar:n_channels(), ar:maximum_amplitude(nil))) end  -- audio regions only
  end
end
close_session()
"""
    out = []
    for line in _lua(script).splitlines():
        if line.startswith("REGION\t"):
            _, track, region, pos, length, ch, peak = line.split("\t")
            out.append((track, region, int(pos), int(length), int(ch), float(peak)))
    return out


def export_session(session_dir: Path, name: str, out: Path, attempts: int = 5) -> Path:
    """Render the session with ``ardour7-export`` to ``out``. Ardour 7.3's exporter crashes now and then (heap errors
    in its export thread, about one run in ten here, three in a row once in a whole test run, also on sessions Ardour
    saved itself) or hangs: a crashed or hung run is tried again (up to ``attempts`` times), each try into a fresh
    file beside ``out`` (renamed to ``out`` when it succeeds), so a file a crashed try left half-written is never
    taken for the render; an exit that is not a crash (an error Ardour reports) is not tried again."""
    exe = shutil.which("ardour7-export")
    if exe is None:
        raise ArdourError("ardour7-export is not installed (apt-get install ardour)")
    out = Path(out)
    problem = ""
    for attempt in range(attempts):
        fresh = out.with_name(f".{out.stem}.try{attempt}-{os.getpid()}{out.suffix}")
        fresh.unlink(missing_ok=True)
        try:
            res = subprocess.run([exe, "-b", "float", "-o", str(fresh), str(session_dir), name], capture_output=True,
                                 text=True, timeout=120)
        except subprocess.TimeoutExpired:
            problem = "it hung for 120 s"
            fresh.unlink(missing_ok=True)
            continue
        if res.returncode == 0 and fresh.exists():
            os.replace(fresh, out)
            return out
        fresh.unlink(missing_ok=True)
        problem = (res.stderr or res.stdout).strip()[-300:]
        if 0 < res.returncode < 128 and res.returncode not in (6, 11):
            break  # a real error, not a crash
    raise ArdourError(f"ardour7-export failed: {problem}")


def enable_osc(session_dir: Path, name: str) -> None:
    """Turn the session's OSC surface on (and JACK time master off), editing the closed session file."""
    xml_path = Path(session_dir) / f"{name}.ardour"
    tree = ET.parse(xml_path)
    root = tree.getroot()
    for proto in root.iter("Protocol"):
        if (proto.get("name") or "").startswith("Open Sound Control"):
            proto.set("active", "1")
    for opt in root.iter("Option"):
        if opt.get("name") == "jack-time-master":
            opt.set("value", "0")
    tree.write(xml_path, xml_declaration=True, encoding="UTF-8")


def create_session(session_dir: Path, bpm: float, beats_per_bar: int, note_value: int = 4, rate: int = 44100) -> Path:
    """A new Ardour session at ``session_dir`` (its name is the folder's) whose tempo map starts at the song's
    tempo and meter."""
    session_dir = Path(session_dir)
    if (session_dir / f"{session_dir.name}.ardour").exists():
        raise ArdourError(f"{session_dir}: an Ardour session is already there")
    if session_dir.exists() and any(session_dir.iterdir()):
        raise ArdourError(f"{session_dir}: the folder is not empty")
    _lua(f"""
local s = create_session({_lua_str(str(session_dir))}, {_lua_str(session_dir.name)}, {int(rate)}); assert(s)
local tm = Temporal.TempoMap.fetch_writable ()
tm:set_tempo (Temporal.Tempo ({float(bpm)}, {float(bpm)}, {int(note_value)}), Temporal.timepos_t (0))
tm:set_meter (Temporal.Meter ({int(beats_per_bar)}, {int(note_value)}), Temporal.timepos_t (0))
Temporal.TempoMap.update (tm)
s:save_state ("", false, false, false, false, false); close_session ()
""")
    add_session_range(session_dir / f"{session_dir.name}.ardour", round(beats_per_bar * 60.0 / bpm * rate), rate)
    return session_dir


def add_session_range(xml_path: Path, end_samples: int, rate: int) -> None:
    """Give a closed session a session range [0, ``end_samples``) when it has none: Ardour 7.3 makes one only when
    it records, its Lua can move one but not make it, and ``ardour7-export`` renders nothing without it."""
    tree = ET.parse(xml_path)
    root = tree.getroot()
    if any("IsSessionRange" in (loc.get("flags") or "") for loc in root.iter("Location")):
        return
    locs = root.find("Locations")
    if locs is None:
        locs = ET.SubElement(root, "Locations")
    counter = int(root.get("id-counter", "1000")) + 1
    ET.SubElement(locs, "Location", {"id": str(counter), "name": "session", "start": "a0",
                                     "end": f"a{superclock(end_samples, rate)}", "flags": "IsSessionRange",
                                     "locked": "0", "timestamp": str(int(time.time())), "cue": "0"})
    root.set("id-counter", str(counter + 1))
    tmp = xml_path.with_name(f".{xml_path.name}.tmp")
    tree.write(tmp, xml_declaration=True, encoding="UTF-8")
    os.replace(tmp, xml_path)


@dataclass(frozen=True)
class SessionFacts:
    name: str
    rate: int
    bpm: float  # quarter notes per minute at the start
    beats_per_bar: int


def session_facts(session_dir: Path) -> SessionFacts:
    """Sample rate, tempo and meter at the start, read from the session file."""
    session_dir = Path(session_dir)
    xml_path = session_dir / f"{session_dir.name}.ardour"
    try:
        root = ET.parse(xml_path).getroot()
    except FileNotFoundError:
        raise ArdourError(f"{xml_path}: no such Ardour session") from None
    except (ET.ParseError, OSError) as exc:
        raise ArdourError(f"{xml_path}: not readable as an Ardour session ({exc})") from None
    tempo = root.find("TempoMap/Tempos/Tempo")
    meter = root.find("TempoMap/Meters/Meter")
    try:
        npm = float(tempo.get("npm", "120")) if tempo is not None else 120.0
        note = float(tempo.get("note-type", "4")) if tempo is not None else 4.0
        return SessionFacts(root.get("name") or session_dir.name, int(root.get("sample-rate", "44100")),
                            npm * 4.0 / note, int(float(meter.get("divisions-per-bar", "4"))) if meter is not None
                            else 4)
    except ValueError as exc:
        raise ArdourError(f"{xml_path}: unreadable tempo map or sample rate ({exc})") from None
