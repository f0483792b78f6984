"""The MIDI map a bridge listens with: the shipped one, or a file read strictly before any port opens. A bad map
is a :class:`MidiMapFileError` (a SongBridgeError) naming the file, the binding and the key, never a crash."""

from __future__ import annotations

from pathlib import Path

from engine.errors import SongBridgeError
from presets.midi_maps import MidiMap, MidiMapError, default_map, load_map


class MidiMapFileError(SongBridgeError):
    """A MIDI map file is missing or malformed; the message names the file, the binding and the key."""


def load_mapping(path: str | Path | None = None) -> MidiMap:
    """The map in ``path``, or the shipped default when None."""
    try:
        return load_map(path) if path else default_map()
    except MidiMapError as exc:
        raise MidiMapFileError(f"MIDI map {exc}") from None
