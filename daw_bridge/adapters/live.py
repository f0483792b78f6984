"""Ableton Live: land stems through SongBridge's Remote Script (``scripts/SongBridgeLive``), which listens on UDP
127.0.0.1:11302 for ``/songbridge_live/create_audio_clip s:path i:track_index f:position_beats s:tag`` and answers
``/songbridge_live/created i:ok s:detail``. The script cannot make or find tracks by name: stem N (in the take's stem
order, the mix left out) lands on the Live set's track N (0-based), so the set's first tracks take the stems. The
position is in beats of the audio's grid (``bpm``: Live plays at that tempo). Live does not run here: the tests check
our side of the wire against the script's own OSC codec."""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from pathlib import Path

from daw_bridge.adapters.base import Capabilities, LandResult, MidiParts
from daw_bridge.adapters.generic import slug
from daw_bridge.osc.decode import DecodeError, message
from daw_bridge.osc.replies import message as build
from engine.errors import SongBridgeError

PORT = 11302
CREATE = "/songbridge_live/create_audio_clip"
CREATED = "/songbridge_live/created"


class LiveAdapter:
    name = "live"
    capabilities = Capabilities(live=True, closed=False, tempo=False, midi=False)

    def __init__(self, osc: tuple[str, int], prefix: str, timeout_s: float = 5.0) -> None:
        self.osc, self.prefix, self.timeout_s = osc, prefix, timeout_s

    def land(self, stems: Mapping[str, Path], midi: MidiParts, *, start_s: float, end_s: float, bar: float,
             bpm: float, section: str, take: str, track: str | None) -> LandResult:
        host, port = self.osc
        where = (host or "127.0.0.1", port or PORT)
        files = [Path(path).resolve() for label, path in stems.items() if label != "mix"]
        beats = start_s * bpm / 60.0
        tag = f"sb-{slug(section)}:"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(self.timeout_s)
            for index, path in enumerate(files):
                sock.sendto(build(CREATE, str(path), index, float(beats), tag), where)
                self._answer(sock, where, path)
        no_midi = "" if midi.leave or midi.midi is None else "; the guide's MIDI is not landed in Live (import " \
                                                             "the generic adapter's .mid)"
        return LandResult(self.name, f"{len(files)} clips at beat {beats:g} (bar {bar:g}) on Live's tracks "
                          f"0-{len(files) - 1}{no_midi}", tuple(files))

    def _answer(self, sock: socket.socket, where: tuple[str, int], path: Path) -> None:
        late = SongBridgeError(f"Live's SongBridge script did not answer at {where[0]}:{where[1]} within "
                               f"{self.timeout_s:g} s: is Live running with SongBridgeLive picked as a Control "
                               "Surface?")
        deadline = time.monotonic() + self.timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise late
            sock.settimeout(left)
            try:
                data, _ = sock.recvfrom(65535)
            except TimeoutError:
                raise late from None
            except OSError as exc:  # ICMP port unreachable: nothing listens there
                raise SongBridgeError(f"Live's SongBridge script does not answer at {where[0]}:{where[1]} ({exc}): "
                                      "is Live running with SongBridgeLive picked as a Control Surface?") from None
            try:
                reply = message(data)
            except DecodeError:
                continue
            if reply.address != CREATED:
                continue
            ok, detail = (*reply.args, 0, "")[:2]
            if not ok:
                raise SongBridgeError(f"Live refused {path.name}: {detail}")
            return
