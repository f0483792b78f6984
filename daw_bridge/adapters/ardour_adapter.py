"""The Ardour adapter: ``ardour_route.land_stems`` (the running Ardour, else its closed session file), the stems on
``<prefix> <stem>`` tracks (a loop clip: on its own ``<prefix> <track>``), the guide's MIDI one file per part on
``<prefix> <part> (MIDI)`` tracks (``ardour_midi.write_parts``, in a temporary folder gone afterwards)."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from daw_bridge.adapters.base import Capabilities, LandResult, MidiParts
from daw_bridge.adapters.generic import slug


class ArdourAdapter:
    name = "ardour"
    capabilities = Capabilities(live=True, closed=True, tempo=True, midi=True)

    def __init__(self, session: Path, osc: tuple[str, int], prefix: str, meter: int) -> None:
        self.session, self.osc, self.prefix, self.meter = Path(session), osc, prefix, meter

    def land(self, stems: Mapping[str, Path], midi: MidiParts, *, start_s: float, end_s: float, bar: float,
             bpm: float, section: str, take: str, track: str | None) -> LandResult:
        from daw_bridge.adapters.ardour_midi import write_parts
        from daw_bridge.adapters.ardour_route import land_stems

        tracks = {f"{self.prefix} {track or label}".strip(): Path(path) for label, path in stems.items()
                  if label != "mix"}
        tag = f"sb-{slug(section)}-"
        why = "" if midi.leave else (f"; audio only, no MIDI: {midi.error}" if midi.error
                                     else (f"; {midi.missing}" if midi.midi is None and midi.missing else ""))
        with tempfile.TemporaryDirectory(prefix="songbridge-midi-") as folder:
            parts = None if midi.leave else (write_parts(midi.midi, Path(folder), tag, take, self.prefix)
                                             if midi.midi is not None else {})
            landing = land_stems(self.session, tracks, start_s, end_s, tag, take, bpm, self.meter, bar,
                                 osc=self.osc, midi=parts)
        return LandResult(self.name, landing.describe() + why)
