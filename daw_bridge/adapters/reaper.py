"""REAPER: land stems with our ReaScript (``scripts/songbridge_land.lua``) and read tempo and position from
REAPER's OSC feedback. No REAPER runs here: the tests check our side of the wire (the request file and the OSC
trigger, and parsing REAPER's feedback messages); the script itself is untested (docs say so).

``ReaperAdapter`` lands through it: ``songbridge daw link PROJECT reaper RESOURCE --reaper-action ID`` names REAPER's
resource folder (``Options > Show REAPER resource path``; the request goes to its ``Scripts/``) and the command ID
REAPER gave the loaded script (kept in ``Scripts/songbridge_action.txt``, it belongs to that REAPER); REAPER's OSC
control surface listens on the link's host and port (8000 when 0).
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daw_bridge import protocol as p
from daw_bridge.adapters.base import Capabilities, LandResult, MidiParts
from daw_bridge.adapters.generic import slug
from daw_bridge.osc.replies import message
from engine.errors import SongBridgeError

SCRIPT = Path(__file__).resolve().parent / "scripts" / "songbridge_land.lua"
OSC_PORT = 8000  # REAPER's default OSC control surface port
ACTION_FILE = "songbridge_action.txt"
RESPONSE_FILE = "songbridge_response.txt"
ACTION_ID = re.compile(r"_?[A-Za-z0-9_]{1,128}")


@dataclass(frozen=True)
class ReaperLanding:
    request: Path
    lines: int


def write_request(scripts_dir: Path, stems: dict[str, Path], seconds: float, tag: str) -> ReaperLanding:
    """The request file the ReaScript reads: ``path<TAB>track<TAB>seconds<TAB>tag`` per stem."""
    scripts_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{Path(path).resolve()}\t{track}\t{seconds:.6f}\t{tag}" for track, path in stems.items()]
    target = scripts_dir / "songbridge_request.txt"
    tmp = target.with_name(".songbridge_request.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(target)
    return ReaperLanding(target, len(lines))


def trigger(action_id: str, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the registered ReaScript through REAPER's OSC ``ACTION s/action/str`` pattern."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(message("/action/str", action_id), (host, port))


def feedback(address: str, args: list[Any]) -> p.TransportUpdate | None:
    """REAPER's default OSC feedback -> a transport update (``/tempo/raw f``, ``/time f``, ``/play``, ``/stop``)."""
    if address == "/tempo/raw" and args:
        return p.TransportUpdate(bpm=float(args[0]))
    if address == "/time" and args:
        return p.TransportUpdate(position_samples=round(float(args[0]) * 44100))
    if address == "/play" and args:
        return p.TransportUpdate(playing=bool(args[0]))
    if address == "/stop" and args and args[0]:
        return p.TransportUpdate(playing=False)
    return None


def save_action(resource: Path, action_id: str) -> Path:
    """Remember the command ID REAPER gave the loaded ReaScript, in that REAPER's ``Scripts/``."""
    if not ACTION_ID.fullmatch(action_id):
        raise SongBridgeError(f"--reaper-action {action_id!r}: not a REAPER command ID (letters, digits and _, "
                              "as REAPER's action list shows it, e.g. _RS1234abcd)")
    target = Path(resource) / "Scripts" / ACTION_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(action_id + "\n")
    return target


def read_action(resource: Path) -> str:
    target = Path(resource) / "Scripts" / ACTION_FILE
    try:
        action_id = target.read_text().strip()
    except OSError:
        action_id = ""
    if not ACTION_ID.fullmatch(action_id):
        raise SongBridgeError(f"{target}: no REAPER command ID for SongBridge's landing script: load {SCRIPT} in "
                              "REAPER (Actions > Show action list > New action > Load ReaScript...) and run `songbridge "
                              "daw link PROJECT reaper RESOURCE --reaper-action ID` with the ID REAPER shows")
    return action_id


def wait_response(scripts_dir: Path, timeout_s: float) -> str:
    """The script's answer (``ok <n>`` or ``error <message>``), or a clear error when none comes in time."""
    target = scripts_dir / RESPONSE_FILE
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            text = target.read_text()
        except OSError:
            text = ""
        if text.endswith("\n"):
            return text.strip()
        time.sleep(0.05)
    raise SongBridgeError(f"REAPER did not answer within {timeout_s:g} s ({target} not written): is REAPER running "
                          "with an OSC control surface on the linked port, and is SongBridge's landing script loaded "
                          "under the linked command ID?")


class ReaperAdapter:
    name = "reaper"
    # ``feedback`` parses REAPER's OSC feedback, but nothing listens for it yet: SongBridge follows REAPER by MIDI clock
    capabilities = Capabilities(live=True, closed=False, tempo=False, midi=False)

    def __init__(self, resource: Path, osc: tuple[str, int], prefix: str, timeout_s: float = 10.0) -> None:
        if not str(resource):
            raise SongBridgeError("the reaper link names no REAPER resource folder: `songbridge daw link PROJECT "
                                  "reaper RESOURCE --reaper-action ID`")
        self.resource, self.osc, self.prefix, self.timeout_s = Path(resource), osc, prefix, timeout_s

    def land(self, stems: Mapping[str, Path], midi: MidiParts, *, start_s: float, end_s: float, bar: float,
             bpm: float, section: str, take: str, track: str | None) -> LandResult:
        action_id = read_action(self.resource)
        scripts = self.resource / "Scripts"
        tracks = {f"{self.prefix} {track or label}".strip(): Path(path) for label, path in stems.items()
                  if label != "mix"}
        (scripts / RESPONSE_FILE).unlink(missing_ok=True)
        request = write_request(scripts, tracks, start_s, f"sb-{slug(section)}:")
        host, port = self.osc
        trigger(action_id, host or "127.0.0.1", port or OSC_PORT)
        answer = wait_response(scripts, self.timeout_s)
        if not answer.startswith("ok"):
            raise SongBridgeError(f"REAPER refused the landing: {answer.removeprefix('error').strip() or answer}")
        no_midi = "" if midi.leave or midi.midi is None else "; the guide's MIDI is not landed in REAPER (import " \
                                                             "the generic adapter's .mid)"
        return LandResult(self.name, f"{answer.split()[-1]} items at {start_s:.3f} s (bar {bar:g}) in REAPER "
                          f"({request.request}){no_midi}", tuple(tracks.values()))
