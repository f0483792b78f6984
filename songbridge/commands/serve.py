"""``songbridge serve --engine``: the engine service for clients on other machines."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from engine.errors import SongBridgeError


def run(args: argparse.Namespace) -> int:
    from engine.service import EngineService
    from engine.service.remote import RemoteEngineServer, parse_address, read_key

    if not args.engine:
        raise SongBridgeError("serve needs --engine (the OSC/MIDI bridge server is not part of this version yet)")
    address = parse_address(args.listen)
    if args.print_config:
        print(f"engine listen={address[0]}:{address[1]} key={'file ' + args.key_file if args.key_file else 'env'}")
        return 0
    key = read_key(args.key_file)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        server = RemoteEngineServer(address, key, EngineService("process")).start()
    except OSError as exc:
        raise SongBridgeError(f"cannot listen on {args.listen}: {exc.strerror or exc}") from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    host, port = server.address
    print(f"songbridge engine listening on {host}:{port}", file=sys.stderr, flush=True)
    stop.wait()
    print("songbridge engine: shutting down", file=sys.stderr, flush=True)
    server.close()
    return 0
