"""``songbridge midi learn``: bind the next note or CC to a command in a map file."""

from __future__ import annotations

import argparse
import queue
import sys
from pathlib import Path

from engine.errors import SongBridgeError


def learn(args: argparse.Namespace) -> int:
    from daw_bridge.midi.bridge import MidiInput
    from daw_bridge.midi.maps import load_mapping
    from daw_bridge.midi.ports import open_ports
    from presets.midi_maps import COMMANDS, Binding, MidiMap, binding_toml

    if args.bind not in COMMANDS:
        raise SongBridgeError(f"unknown command {args.bind!r}; choose one of {', '.join(COMMANDS)}")
    path = Path(args.map)
    existing = load_mapping(path) if path.exists() else None
    sink = MidiInput(queue.Queue(), MidiMap("learn", ()))
    sink.follow = False
    inp, out, api = open_ports(args.api, "SongBridge-learn", sink)
    print(f"send a note or a CC to SongBridge-learn:in ({api}) within {args.timeout:g} s ...", file=sys.stderr)
    try:
        while True:
            try:
                msg = sink.learned.get(timeout=args.timeout)
            except queue.Empty:
                raise SongBridgeError(f"no note or CC arrived in {args.timeout:g} s") from None
            if msg.type == "note_on" and msg.velocity > 0:
                kind, number = "note", msg.note
                break
            if msg.type == "control_change":
                kind, number = "cc", msg.control
                break
    finally:
        inp.close()
        out.close()
    options = {}
    if args.section:
        options["section"] = args.section
    if args.bars:
        options["bars"] = list(args.bars)
    binding = Binding(kind, number, msg.channel + 1, args.bind, options)
    if existing is not None and existing.find(kind, number, msg.channel + 1):
        raise SongBridgeError(f"{path}: {kind} {number} on channel {msg.channel + 1} is already bound")
    text = path.read_text() if path.exists() else 'schema_version = 1\nname = "My SongBridge map"\n'
    path.write_text(text.rstrip("\n") + "\n\n" + binding_toml(binding))
    load_mapping(path)  # the file still parses
    print(f"{kind} {number} on channel {msg.channel + 1} -> {args.bind} (in {path})")
    return 0
