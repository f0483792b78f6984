"""``songbridge serve``: the headless DAW bridge (OSC, MIDI and the engine service together), or with
``--engine`` the engine service alone for clients on other machines."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import SongBridgeError

if TYPE_CHECKING:
    from daw_bridge.protocol import Command, Envelope
    from daw_bridge.server import Bridge
    from engine.audio.player import Player
    from engine.service.protocol import Engine
    from engine.session import Session


def _on_signal() -> threading.Event:
    """An event set by SIGINT or SIGTERM (from now on)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _wait_for_signal() -> None:
    _on_signal().wait()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    if args.engine:
        return _engine(args)
    return _bridge(args)


def _engine(args: argparse.Namespace) -> int:
    from engine.service.api.auth import parse_address, read_key
    from engine.service.local import parse_gpus

    address = parse_address(args.listen)
    devices = parse_gpus(args.gpus)
    scheme = "https" if args.tls_cert else "http"
    if args.print_config:
        workers = ", ".join("GPU " + d if d is not None else "CPU" for d in devices)
        print(f"engine listen={scheme}://{address[0]}:{address[1]} "
              f"key={'file ' + args.key_file if args.key_file else 'env'} workers={len(devices)} ({workers})")
        return 0
    key = read_key(args.key_file)
    if args.ray:
        return _engine_ray(args, address, key, devices)
    return _engine_http(args, address, key, devices)


def _engine_ray(args: argparse.Namespace, address: tuple[str, int], key: bytes, devices: list[str | None]) -> int:
    """The engine as a Ray Serve application: ``--ray local`` starts Ray on this machine (``--gpus 0,1`` declares
    those GPUs to it), ``--ray auto`` or ``--ray HOST:PORT`` joins a cluster; one replica per GPU."""
    if args.tls_cert or args.tls_key:
        raise SongBridgeError("--tls-cert/--tls-key are for the engine without --ray; put TLS in front of the Ray "
                              "ingress (a reverse proxy) or use an SSH tunnel")
    try:
        import ray
        from ray import serve
    except ImportError:
        raise SongBridgeError("--ray needs Ray Serve: pip install \".[cluster]\"") from None
    from engine.service.api.cluster import deploy

    gpu_ids = [d for d in devices if d is not None]
    cpu_only = bool(args.gpus) and args.gpus.startswith("cpu:")
    if args.ray == "local":
        ray.init(num_gpus=len(gpu_ids) if gpu_ids else None, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=args.ray, log_to_driver=False)
    try:
        cluster_gpus = int(ray.cluster_resources().get("GPU", 0))
        replicas = args.replicas or (len(devices) if args.gpus else cluster_gpus or 1)
        per = 0.0 if cpu_only or not cluster_gpus else 1.0
        deploy(key, address[0], address[1], replicas, per)
        where = f"{replicas} replica{'s' if replicas > 1 else ''}, {'one GPU each' if per else 'no GPU'}"
        print(f"songbridge engine API on http://{address[0]}:{address[1]} (Ray Serve, {where})", file=sys.stderr,
              flush=True)
        _wait_for_signal()
        print("songbridge engine: shutting down", file=sys.stderr, flush=True)
        serve.shutdown()
    finally:
        ray.shutdown()
    return 0


def _envelope(command: Command) -> Envelope:
    from daw_bridge import protocol as p

    return p.Envelope(command, "midi:clock", None, "midi")


def start_bridge(session: Session, args: argparse.Namespace, player: Player | None = None,
                 program: str = "serve") -> Bridge:
    """OSC server, bridge and MIDI ports over an open session (``serve`` and the app share this)."""
    from daw_bridge.osc.server import OscServer, parse_listen
    from daw_bridge.server import Bridge
    from engine.version import __version__

    host, port = parse_listen(args.osc)
    allow = [a for a in (args.allow or "").split(",") if a]
    mapping = None
    if getattr(args, "midi", "off") != "off":  # a bad map is refused before anything listens
        from daw_bridge.midi.maps import load_mapping

        mapping = load_mapping(getattr(args, "midi_map", None))
    try:
        osc = OscServer(None, host, port, allow, args.reply_port)
    except (OSError, ValueError) as exc:
        raise SongBridgeError(f"cannot listen for OSC on {args.osc}: {getattr(exc, 'strerror', None) or exc}") from None
    bridge = Bridge(session, osc.send, player, getattr(args, "auto_land", False),
                    Path(args.land_folder) if getattr(args, "land_folder", None) else None, __version__)
    osc.commands = bridge
    bridge.osc = osc
    bridge.midi_ports = None
    bridge.midi_note = "MIDI off"
    if mapping is not None:
        from daw_bridge.midi.bridge import MidiInput
        from daw_bridge.midi.clock import ClockFollower
        from daw_bridge.midi.ports import MidiUnavailable, open_ports

        song = session.song
        follower = ClockFollower(lambda c: bridge.put(_envelope(c)), daw=song.daw.adapter,
                                 song_quarters=song.tempo.seconds_to_quarters(song.duration_s))
        bridge.follower = follower
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
    if session.lock is not None:
        session.lock.set_osc(f"{h}:{pt}")
    return bridge


def close_all(bridge: Bridge | None, session: Session, player: Player | None, engine: Engine) -> None:
    """Shut down in order: the bridge (no more commands), the session (pending saves written, lock released),
    the player, the engine (its worker stops)."""
    if bridge is not None:
        stop_bridge(bridge)
    session.close()
    if player is not None:
        player.close()
    engine.close()


def stop_bridge(bridge: Bridge) -> None:
    bridge.osc.close()
    bridge.close()
    ports = bridge.midi_ports
    if ports is not None:
        ports[0].close()
        ports[1].close()


def raise_open_file_limit(want: int = 8192) -> int:
    """Raise this process's soft limit on open files towards ``want`` (within the hard limit): the engine's
    connection caps are sized to it. Returns the soft limit now in force."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return want
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def _engine_http(args: argparse.Namespace, address: tuple[str, int], key: bytes, devices: list[str | None]) -> int:
    import socket
    import tempfile

    from engine.service import EngineService
    from engine.service.api.server import serve

    if bool(args.tls_cert) != bool(args.tls_key):
        raise SongBridgeError("give both --tls-cert and --tls-key (or neither)")
    for f in (args.tls_cert, args.tls_key):
        if f and not Path(f).is_file():
            raise SongBridgeError(f"{f}: no such certificate or key file")
    try:  # a taken port is a clear error before any worker starts
        with socket.create_server(address, reuse_port=False):
            pass
    except OSError as exc:
        raise SongBridgeError(f"cannot listen on {args.listen}: {exc.strerror or exc}") from None
    raise_open_file_limit()
    service = EngineService("process", devices=devices).start()
    scratch = Path(tempfile.mkdtemp(prefix="songbridge-engine-"))
    server = serve(service, key, address[0], address[1], scratch, certfile=args.tls_cert, keyfile=args.tls_key)
    scheme = "https" if args.tls_cert else "http"
    workers = ", ".join("GPU " + d if d is not None else "CPU" for d in devices)
    # uvicorn in a thread of its own; this thread waits for SIGINT/SIGTERM, then lets running requests finish
    # (uvicorn's own handlers would re-raise the signal after shutting down, and the exit status would be -15).
    thread = threading.Thread(target=server.run, name="engine-api", daemon=True)
    stop = _on_signal()
    try:
        thread.start()
        while not server.started and thread.is_alive():
            time.sleep(0.02)
        if not server.started:
            raise SongBridgeError(f"the engine API could not start on {args.listen} (see the messages above)")
        print(f"songbridge engine API on {scheme}://{address[0]}:{address[1]} ({len(devices)} worker"
              f"{'s' if len(devices) > 1 else ''}: {workers})", file=sys.stderr, flush=True)
        while not stop.wait(0.5) and thread.is_alive():
            pass
        print("songbridge engine: shutting down", file=sys.stderr, flush=True)
        server.should_exit = True
        thread.join(timeout=15)
    finally:
        service.close()
    return 0


def _bridge(args: argparse.Namespace) -> int:
    from daw_bridge.osc.server import parse_listen
    from engine.service.local import parse_gpus
    from engine.session import Session
    from songbridge.engine_client import open_engine

    if not args.project:
        raise SongBridgeError("serve needs a project (songbridge serve PROJECT) or --engine")
    host, port = parse_listen(args.osc)
    allow = [a for a in (args.allow or "").split(",") if a]
    if args.midi != "off":  # a bad map is refused before the engine or the project opens
        from daw_bridge.midi.maps import load_mapping

        load_mapping(args.midi_map)
    config = {"project": str(Path(args.project)), "osc": f"{host}:{port}", "reply_port": args.reply_port or "sender",
              "allow": allow or "loopback only", "engine": args.engine_address or "local worker",
              "auto_land": args.auto_land, "audio": args.audio or "off"}
    if args.print_config:
        for k, v in config.items():
            print(f"{k} = {v}")
        return 0
    engine = open_engine(args.engine_address, args.key_file, args.engine_ca, parse_gpus(args.gpus))
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
        print(f"songbridge bridge: {bridge.midi_note}", file=sys.stderr, flush=True)
        h, pt = bridge.osc.address
        print(f"songbridge bridge: OSC on {h}:{pt}, project {session.folder}", file=sys.stderr, flush=True)
        _wait_for_signal()
        print("songbridge bridge: shutting down", file=sys.stderr, flush=True)
    finally:
        close_all(bridge, session, player, engine)
    return 0
