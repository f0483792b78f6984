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
    if args.http:
        return _engine_http(args, address, key)
    if args.tls_cert or args.tls_key:
        raise SongBridgeError("--tls-cert and --tls-key go with --http")
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


def start_bridge(session: object, args: argparse.Namespace, player: object = None, program: str = "serve") -> object:
    """OSC server, bridge and MIDI ports over an open session (``serve`` and the app share this)."""
    from daw_bridge.osc.server import OscServer, parse_listen
    from daw_bridge.server import Bridge
    from engine.version import __version__

    host, port = parse_listen(args.osc)
    allow = [a for a in (args.allow or "").split(",") if a]
    try:
        osc = OscServer(None, host, port, allow, args.reply_port)
    except (OSError, ValueError) as exc:
        raise SongBridgeError(f"cannot listen for OSC on {args.osc}: {getattr(exc, 'strerror', None) or exc}") from None
    bridge = Bridge(session, osc.send, player, getattr(args, "auto_land", False),
                    Path(args.land_folder) if getattr(args, "land_folder", None) else None, __version__)
    osc.commands = bridge
    bridge.osc = osc  # type: ignore[attr-defined]
    bridge.midi_ports = None  # type: ignore[attr-defined]
    bridge.midi_note = "MIDI off"  # type: ignore[attr-defined]
    if getattr(args, "midi", "off") != "off":
        from daw_bridge.midi.bridge import MidiInput
        from daw_bridge.midi.clock import ClockFollower
        from daw_bridge.midi.ports import MidiUnavailable, open_ports
        from presets.midi_maps import default_map, load_map

        mapping = load_map(args.midi_map) if getattr(args, "midi_map", None) else default_map()
        song = session.song  # type: ignore[attr-defined]
        follower = ClockFollower(lambda c: bridge.put(_envelope(c)), daw=song.daw.adapter,
                                 song_quarters=song.tempo.seconds_to_quarters(song.duration_s))
        bridge.follower = follower  # type: ignore[attr-defined]
        try:
            bridge.midi_ports = open_ports(args.midi, "SongBridge", MidiInput(bridge, mapping, follower))
            bridge.midi_note = f"MIDI ports SongBridge:in, SongBridge-out:out ({bridge.midi_ports[2]}), " \
                               f"map {mapping.name}"
        except MidiUnavailable as exc:
            if args.midi != "auto":
                osc.close()
                raise
            bridge.midi_note = f"MIDI off: {exc}"
    osc.start()
    bridge.start()
    h, pt = osc.address
    lock = getattr(session, "lock", None)
    if lock is not None:
        lock.set_osc(f"{h}:{pt}")
    return bridge


def close_all(bridge: object, session: object, player: object, engine: object) -> None:
    """Shut down in order: the bridge (no more commands), the session (pending saves written, lock released),
    the player, the engine (its worker stops)."""
    if bridge is not None:
        stop_bridge(bridge)
    session.close()  # type: ignore[attr-defined]
    if player is not None:
        player.close()  # type: ignore[attr-defined]
    engine.close()  # type: ignore[attr-defined]


def stop_bridge(bridge: object) -> None:
    bridge.osc.close()  # type: ignore[attr-defined]
    bridge.close()  # type: ignore[attr-defined]
    ports = getattr(bridge, "midi_ports", None)
    if ports is not None:
        ports[0].close()
        ports[1].close()


def _engine_http(args: argparse.Namespace, address: tuple[str, int], key: bytes) -> int:
    import tempfile

    from engine.service import EngineService
    from engine.service.api.server import serve

    if bool(args.tls_cert) != bool(args.tls_key):
        raise SongBridgeError("give both --tls-cert and --tls-key (or neither)")
    for f in (args.tls_cert, args.tls_key):
        if f and not Path(f).is_file():
            raise SongBridgeError(f"{f}: no such certificate or key file")
    service = EngineService("process").start()
    scratch = Path(tempfile.mkdtemp(prefix="songbridge-engine-"))
    server = serve(service, key, address[0], address[1], scratch, certfile=args.tls_cert, keyfile=args.tls_key)
    scheme = "https" if args.tls_cert else "http"
    print(f"songbridge engine API on {scheme}://{address[0]}:{address[1]}", file=sys.stderr, flush=True)
    try:
        server.run()  # uvicorn handles SIGINT/SIGTERM and shuts down cleanly
    finally:
        service.close()
    print("songbridge engine: shutting down", file=sys.stderr, flush=True)
    return 0


def _bridge(args: argparse.Namespace) -> int:
    from daw_bridge.osc.server import parse_listen
    from engine.session import Session
    from songbridge.engine_client import open_engine

    if not args.project:
        raise SongBridgeError("serve needs a project (songbridge serve PROJECT) or --engine")
    host, port = parse_listen(args.osc)
    allow = [a for a in (args.allow or "").split(",") if a]
    config = {"project": str(Path(args.project)), "osc": f"{host}:{port}", "reply_port": args.reply_port or "sender",
              "allow": allow or "loopback only", "engine": args.engine_address or "local worker",
              "auto_land": args.auto_land, "audio": args.audio or "off"}
    if args.print_config:
        for k, v in config.items():
            print(f"{k} = {v}")
        return 0
    engine = open_engine(args.engine_address, args.key_file)
    try:
        session = Session.open(args.project, engine, "songbridge serve")
    except BaseException:
        engine.close()
        raise
    for note in session.notes:
        print(f"songbridge bridge: {note}", file=sys.stderr, flush=True)
    player = None
    bridge = None
    try:
        if args.audio:
            from engine.audio.player import Player

            player = Player(device=None if args.audio == "default" else args.audio).open()
        bridge = start_bridge(session, args, player)
        print(f"songbridge bridge: {bridge.midi_note}", file=sys.stderr, flush=True)  # type: ignore[attr-defined]
        h, pt = bridge.osc.address  # type: ignore[attr-defined]
        print(f"songbridge bridge: OSC on {h}:{pt}, project {session.folder}", file=sys.stderr, flush=True)
        _wait_for_signal()
        print("songbridge bridge: shutting down", file=sys.stderr, flush=True)
    finally:
        close_all(bridge, session, player, engine)
    return 0
