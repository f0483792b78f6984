"""The one interface every DAW adapter implements (``Adapter``), what a landing hands it and what it gives back.

An adapter is made for one project's link (``registry.adapter_for``) and lands a rendered take: its stems (label ->
file, the ``mix`` among them), the guide's MIDI for the same span, where it goes (start and end seconds on the DAW's
timeline, the bar, the tempo of the audio's grid), and what it is (section, take, the track of a loop clip)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Capabilities:
    """What an adapter can do: land into the running DAW (``live``), into its project file or a folder while the
    DAW is closed (``closed``), read the DAW's tempo and play head (``tempo``), land the guide's MIDI (``midi``)."""

    live: bool
    closed: bool
    tempo: bool
    midi: bool

    def describe(self) -> str:
        can = [what for what, yes in (("lands into the running DAW", self.live), ("lands while it is closed",
                                      self.closed), ("reads its tempo and position", self.tempo),
                                     ("lands the guide's MIDI", self.midi)) if yes]
        return ", ".join(can) or "nothing"


@dataclass(frozen=True)
class MidiParts:
    """The landed span's guide MIDI: ``midi`` a ``mido.MidiFile`` (one track per part), or None when there are no
    notes for this landing; ``missing`` says why there are none (a take without guide MIDI, a comp); ``error`` is
    set when the notes could not be read (the stems still land; the section's earlier MIDI is kept); ``leave``: a
    loop clip, whose landing leaves the MIDI tracks alone."""

    midi: Any = None
    missing: str = ""
    error: str = ""
    leave: bool = False


@dataclass(frozen=True)
class LandResult:
    adapter: str
    detail: str  # one line: what landed where
    files: tuple[Path, ...] = ()

    def describe(self) -> str:
        return self.detail


@runtime_checkable
class Adapter(Protocol):
    """A DAW adapter: ``name`` (the ``song.daw.adapter`` it serves), ``capabilities``, and ``land``."""

    name: str
    capabilities: Capabilities

    def land(self, stems: Mapping[str, Path], midi: MidiParts, *, start_s: float, end_s: float, bar: float,
             bpm: float, section: str, take: str, track: str | None) -> LandResult:
        """Land ``stems`` (label -> rendered file) at ``start_s`` .. ``end_s`` seconds of the DAW's timeline (bar
        ``bar`` of a grid at ``bpm``), replacing what ``section`` landed before; ``track``: a loop clip's own track
        name (None: one track per stem)."""
        ...
