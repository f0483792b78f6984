"""MIDI maps: notes and CCs -> bridge commands, as versioned TOML data (stdlib only).

A binding has ``note`` or ``cc`` (0-127), an optional ``channel`` (1-16; absent = any), a ``command`` and its
options (``section``, ``bars``, ``takes``, ``prompt`` for ``loop_at_playhead``). A CC fires when its value rises past 63.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def parse_map(data: dict[str, Any], source: str) -> MidiMap:
    if data.get("schema_version") != SCHEMA_VERSION:
        raise MidiMapError(f"{source}: schema_version must be {SCHEMA_VERSION}")
    unknown = set(data) - {"schema_version", "name", "binding"}
    if unknown:
        raise MidiMapError(f"{source}: {sorted(unknown)[0]}: unknown key")
    out = []
    for i, b in enumerate(data.get("binding", [])):
        where = f"{source}: binding[{i}]"
        if not isinstance(b, dict):
            raise MidiMapError(f"{where}: expected a table")
        kinds = [k for k in ("note", "cc") if k in b]
        if len(kinds) != 1:
            raise MidiMapError(f"{where}: give exactly one of note or cc")
        number = b[kinds[0]]
        if not isinstance(number, int) or not 0 <= number <= 127:
            raise MidiMapError(f"{where}.{kinds[0]}: must be 0..127")
        channel = b.get("channel")
        if channel is not None and (not isinstance(channel, int) or not 1 <= channel <= 16):
            raise MidiMapError(f"{where}.channel: must be 1..16")
        command = b.get("command")
        if command not in COMMANDS:
            raise MidiMapError(f"{where}.command: must be one of {', '.join(COMMANDS)}, got {command!r}")
        options = {k: v for k, v in b.items() if k not in ("note", "cc", "channel", "command")}
        extra = set(options) - {"section", "bars", "takes", "prompt"}
        if extra:
            raise MidiMapError(f"{where}.{sorted(extra)[0]}: unknown key")
        out.append(Binding(kinds[0], number, channel, command, options))
    return MidiMap(str(data.get("name", Path(source).stem)), tuple(out), source)


def load_map(path: str | Path) -> MidiMap:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MidiMapError(f"{p}: not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MidiMapError(f"{p}: cannot read: {exc}") from None
    return parse_map(data, str(p))


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
