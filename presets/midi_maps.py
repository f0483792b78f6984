"""MIDI maps: notes and CCs -> bridge commands, as versioned TOML data (stdlib only).

A binding has ``note`` or ``cc`` (0-127), an optional ``channel`` (1-16; absent = any), a ``command`` and its
options (``section``, ``bars``, ``takes``, ``prompt`` for ``loop_at_playhead``). A CC fires when its value rises past 63.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from presets.toml_files import read_toml

SCHEMA_VERSION = 1
SHIPPED_DIR = Path(__file__).resolve().parent / "midi"
COMMANDS = ("generate_song", "generate_section", "generate_bars", "generate_bars_at_playhead", "loop_at_playhead",
            "cancel_all", "land", "accept_newest", "play", "pause", "stop", "ab", "follow_on", "follow_off")


class MidiMapError(Exception):
    """A MIDI map file is malformed; the message names the file and the binding."""


@dataclass(frozen=True)
class Binding:
    kind: str  # note | cc
    number: int
    channel: int | None  # 1-16, None = any
    command: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MidiMap:
    name: str
    bindings: tuple[Binding, ...]
    source: str = "<memory>"

    def find(self, kind: str, number: int, channel: int) -> Binding | None:
        for b in self.bindings:
            if b.kind == kind and b.number == number and b.channel in (None, channel):
                return b
        return None


#: The options each command takes; any other is an error (a typo must not pass silently).
OPTIONS: dict[str, frozenset[str]] = {
    "generate_song": frozenset({"takes"}),
    "generate_section": frozenset({"section", "takes"}),
    "generate_bars": frozenset({"bars", "takes"}),
    "generate_bars_at_playhead": frozenset({"bars", "takes"}),
    "loop_at_playhead": frozenset({"prompt", "bars", "takes"}),
}
MAX_BARS = 100_000.0  # as the OSC routes: far past any song
MAX_TEXT = 200  # a section name or a loop prompt


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _options(b: dict[str, Any], command: str, where: str) -> dict[str, Any]:
    """The binding's options, each checked against what its command takes, so the MIDI callback never meets a
    value it cannot turn into a command."""
    options = {k: v for k, v in b.items() if k not in ("note", "cc", "channel", "command")}
    allowed = OPTIONS.get(command, frozenset())
    for key, value in options.items():
        if key not in allowed:
            takes = f"it takes {', '.join(sorted(allowed))}" if allowed else "it takes no options"
            raise MidiMapError(f"{where}.{key}: unknown key for {command} ({takes})")
        if key == "takes" and not (_is_int(value) and 1 <= value <= 16):
            raise MidiMapError(f"{where}.takes: must be a whole number 1..16, got {value!r}")
        if key in ("section", "prompt") and not (isinstance(value, str) and 0 < len(value) <= MAX_TEXT):
            raise MidiMapError(f"{where}.{key}: must be text of 1..{MAX_TEXT} characters, got {value!r}")
        if key == "bars" and command == "generate_bars":
            if not (isinstance(value, list) and len(value) == 2 and all(_is_number(x) for x in value)
                    and 1 <= value[0] < value[1] <= MAX_BARS):
                raise MidiMapError(f"{where}.bars: must be [start, end] bars with 1 <= start < end, e.g. [17, 25], "
                                   f"got {value!r}")
        elif key == "bars" and not (_is_number(value) and 0 < value <= MAX_BARS):
            raise MidiMapError(f"{where}.bars: must be a number of bars above 0, got {value!r}")
    return options


def parse_map(data: dict[str, Any], source: str) -> MidiMap:
    """A map from parsed TOML; MidiMapError naming ``source``, the binding and the key for anything wrong."""
    if not isinstance(data, dict):
        raise MidiMapError(f"{source}: expected a TOML table")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise MidiMapError(f"{source}: schema_version must be {SCHEMA_VERSION}")
    unknown = set(data) - {"schema_version", "name", "binding"}
    if unknown:
        raise MidiMapError(f"{source}: {sorted(unknown)[0]}: unknown key")
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str):
        raise MidiMapError(f"{source}: name: must be text, got {name!r}")
    bindings = data.get("binding", [])
    if not isinstance(bindings, list):
        raise MidiMapError(f"{source}: binding: must be [[binding]] tables")
    out = []
    for i, b in enumerate(bindings):
        where = f"{source}: binding[{i}]"
        if not isinstance(b, dict):
            raise MidiMapError(f"{where}: expected a table")
        kinds = [k for k in ("note", "cc") if k in b]
        if len(kinds) != 1:
            raise MidiMapError(f"{where}: give exactly one of note or cc")
        number = b[kinds[0]]
        if not _is_int(number) or not 0 <= number <= 127:
            raise MidiMapError(f"{where}.{kinds[0]}: must be 0..127, got {number!r}")
        channel = b.get("channel")
        if channel is not None and (not _is_int(channel) or not 1 <= channel <= 16):
            raise MidiMapError(f"{where}.channel: must be 1..16, got {channel!r}")
        command = b.get("command")
        if not isinstance(command, str) or command not in COMMANDS:
            raise MidiMapError(f"{where}.command: must be one of {', '.join(COMMANDS)}, got {command!r}")
        out.append(Binding(kinds[0], number, channel, command, _options(b, command, where)))
    return MidiMap(name, tuple(out), source)


MAX_MAP_BYTES = 1024 * 1024


def load_map(path: str | Path) -> MidiMap:
    p = Path(path)
    return parse_map(read_toml(p, MidiMapError, MAX_MAP_BYTES), str(p))


def default_map() -> MidiMap:
    return load_map(SHIPPED_DIR / "default.toml")


def binding_toml(b: Binding) -> str:
    lines = ["[[binding]]", f"{b.kind} = {b.number}"]
    if b.channel is not None:
        lines.append(f"channel = {b.channel}")
    lines.append(f'command = "{b.command}"')
    for k, v in b.options.items():
        lines.append(f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"')
    return "\n".join(lines) + "\n"
