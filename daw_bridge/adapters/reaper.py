"""REAPER: land stems with our ReaScript (``scripts/songbridge_land.lua``) and read tempo and position from
REAPER's OSC feedback. No REAPER runs here: the tests check our side of the wire (the request file and the OSC
trigger, and parsing REAPER's feedback messages); the script itself is untested (docs say so).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from daw_bridge import protocol as p
from daw_bridge.osc.replies import message

SCRIPT = Path(__file__).resolve().parent / "scripts" / "songbridge_land.lua"


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


def feedback(address: str, args: list) -> p.TransportUpdate | None:
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
