"""Musical key: a tonic and a mode, parsed from what users type ("A minor", "F#m", "Bb major")."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SHARP_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
_FLAT_NAMES = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]
_KEY_RE = re.compile(
    r"^\s*([A-Ga-g])\s*([#b♯♭]?)\s*(maj(?:or)?|min(?:or)?|m|M|dorian|mixolydian|)\s*$"
)
MODES = ("major", "minor", "dorian", "mixolydian")


@dataclass(frozen=True)
class Key:
    tonic: str = "C"
    mode: str = "major"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.tonic not in _SHARP_NAMES and self.tonic not in _FLAT_NAMES:
            raise ValueError(f"unknown tonic {self.tonic!r}")

    @classmethod
    def parse(cls, text: str) -> Key:
        m = _KEY_RE.match(text)
        if not m:
            raise ValueError(f"key must look like 'A minor', 'F#m' or 'Bb major', got {text!r}")
        letter, acc, mode = m.group(1).upper(), m.group(2), m.group(3)
        pc = (_PITCH[letter] + {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(acc, 0)) % 12
        if mode in ("m", "min", "minor"):
            mode_name = "minor"
        elif mode in ("dorian", "mixolydian"):
            mode_name = mode
        else:
            mode_name = "major"
        names = _FLAT_NAMES if acc in ("b", "♭") or (not acc and letter == "F") else _SHARP_NAMES
        return cls(names[pc], mode_name)

    @property
    def pitch_class(self) -> int:
        """0 = C ... 11 = B."""
        return (_SHARP_NAMES.index(self.tonic) if self.tonic in _SHARP_NAMES else _FLAT_NAMES.index(self.tonic))

    def __str__(self) -> str:
        return f"{self.tonic} {self.mode}"
