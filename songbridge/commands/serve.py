"""``songbridge serve``: the headless DAW bridge (OSC, MIDI and the engine service together), or with
``--engine`` the engine service alone for clients on other machines."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from engine.errors import SongBridgeError


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    if args.engine:
        return _engine(args)
    return _bridge(args)


def _engine(args: argparse.Namespace) -> int:
    from engine.service import EngineService
    from engine.service.remote import RemoteEngineServer, parse_address, read_key

    address = parse_address(args.listen)
    if args.print_config:
        print(f"engine listen={address[0]}:{address[1]} key={'file ' + args.key_file if args.key_file else 'env'}")
        return 0
    key = read_key(args.key_file)
    try:
        server = RemoteEngineServer(address, key, EngineService("process")).start()
    except OSError as exc:
        raise SongBridgeError(f"cannot listen on {args.listen}: {exc.strerror or exc}") from None
    host, port = server.address
    print(f"songbridge engine listening on {host}:{port}", file=sys.stderr, flush=True)
    _wait_for_signal()
    print("songbridge engine: shutting down", file=sys.stderr, flush=True)
    server.close()
    return 0


def _envelope(command: object) -> object:
    from daw_bridge import protocol as p

    return p.Envelope(command, "midi:clock", None, "midi")  # type: ignore[arg-type]


def _bridge(args: argparse.Namespace) -> int:
    from daw_bridge.osc.server import OscServer
    from daw_bridge.server import Bridge
    from engine.service.remote import parse_address
    from engine.song.project import Project
    from engine.version import __version__
    from songbridge.engine_client import open_engine

    if not args.project:
        raise SongBridgeError("serve needs a project (songbridge serve PROJECT) or --engine")
    host, port = parse_address(args.osc)
    allow = [a for a in (args.allow or "").split(",") if a]
    config = {"project": str(Path(args.project)), "osc": f"{host}:{port}", "reply_port": args.reply_port or "sender",
              "allow": allow or "loopback only", "engine": args.engine_address or "local worker",
              "auto_land": args.auto_land, "audio": args.audio or "off"}
    if args.print_config:
        for k, v in config.items():
            print(f"{k} = {v}")
        return 0
    project = Project.open(args.project)
    engine = open_engine(args.engine_address, args.key_file)
    player = None
    if args.audio:
        from engine.audio.player import Player

        player = Player(device=None if args.audio == "default" else args.audio).open()
    try:
        osc = OscServer(None, host, port, allow, args.reply_port)  # type: ignore[arg-type]
    except (OSError, ValueError) as exc:
        engine.close()
        raise SongBridgeError(f"cannot listen for OSC on {args.osc}: {getattr(exc, 'strerror', None) or exc}") from None
    bridge = Bridge(project, engine, osc.send, player, args.auto_land,
                    Path(args.land_folder) if args.land_folder else None, __version__)
    osc.commands = bridge.commands
    midi_ports = None
    if args.midi != "off":
        from daw_bridge.midi.bridge import MidiInput
        from daw_bridge.midi.clock import ClockFollower
        from daw_bridge.midi.ports import MidiUnavailable, open_ports
        from presets.midi_maps import default_map, load_map

        mapping = load_map(args.midi_map) if args.midi_map else default_map()
        follower = ClockFollower(lambda c: bridge.commands.put(_envelope(c)), daw=project.song.daw.adapter,
                                 song_quarters=project.song.tempo.seconds_to_quarters(project.song.duration_s))
        try:
            midi_ports = open_ports(args.midi, "SongBridge", MidiInput(bridge.commands, mapping, follower))
            print(f"songbridge bridge: MIDI ports SongBridge:in/out ({midi_ports[2]}), map {mapping.name}",
                  file=sys.stderr, flush=True)
        except MidiUnavailable as exc:
            if args.midi != "auto":
                raise
            print(f"songbridge bridge: MIDI off: {exc}", file=sys.stderr, flush=True)
    osc.start()
    bridge.start()
    h, pt = osc.address
    print(f"songbridge bridge: OSC on {h}:{pt}, project {project.folder}", file=sys.stderr, flush=True)
    _wait_for_signal()
    print("songbridge bridge: shutting down", file=sys.stderr, flush=True)
    osc.close()
    bridge.close()
    if midi_ports is not None:
        midi_ports[0].close()
        midi_ports[1].close()
    if player is not None:
        player.close()
    engine.close()
    return 0
