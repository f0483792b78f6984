"""``songbridge gui [PROJECT]``: the desktop app. It owns the project (the lock names it) and hosts the DAW
bridge on its session: OSC (same options as ``serve``) and the MIDI ports. ``--models DIR``: the models folder for
this run (else the one chosen in Preferences, else ``SONGBRIDGE_MODELS``, else the default)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError


def run(args: argparse.Namespace) -> int:
    from engine.session import Session
    from engine.song.model import Song
    from engine.song.project import Project
    from gui.app import documents, project_from_settings
    from gui.app import run as run_app
    from songbridge.commands.serve import close_all, start_bridge
    from songbridge.engine_client import open_engine

    models = getattr(args, "models", None)
    if models:
        from gui.preferences import apply_models_dir

        folder_m = Path(models).expanduser()
        if folder_m.exists() and not folder_m.is_dir():
            raise SongBridgeError(f"--models {folder_m}: not a folder")
        apply_models_dir(folder_m.resolve())  # before the engine starts: a local worker reads it
    first_take = False
    if args.project and args.project.endswith(".toml"):
        project, first_take = project_from_settings(args.project)
        folder = project.folder
    elif args.project:
        folder = args.project
    else:
        untitled = documents() / "untitled.songbridge"
        if not (untitled / "song.json").exists():
            Project.create(untitled, Song())
        folder = untitled
    engine = open_engine(args.engine, args.key_file, args.engine_ca)  # a wrong key or address fails here
    try:
        session = Session.open(folder, engine, "songbridge gui")
    except BaseException:
        engine.close()
        raise
    for note in session.notes:
        print(f"songbridge gui: {note}", file=sys.stderr, flush=True)
    if models:
        print(f"songbridge gui: models folder {Path(models).expanduser().resolve()} (--models, this run only)",
              file=sys.stderr, flush=True)
    player: Any = None
    bridge: Any = None
    bridge_off = "started with --no-bridge" if args.no_bridge else ""
    try:
        if args.audio != "off":
            try:
                from engine.audio.player import Player

                player = Player(device=None if args.audio in (None, "auto") else args.audio).open()
            except Exception:  # noqa: BLE001 - no audio device: the app still edits and generates
                player = None
        if not args.no_bridge:
            try:
                bridge = start_bridge(session, args, player, "gui")
            except SongBridgeError as exc:  # the port is taken (another app or serve): the app runs without it
                bridge_off = str(exc)
                print(f"songbridge gui: DAW link off: {exc}", file=sys.stderr, flush=True)
        if bridge is not None:
            h, port = bridge.osc.address
            print(f"songbridge gui: OSC on {h}:{port}; {bridge.midi_note}", file=sys.stderr, flush=True)
        return run_app(session, bridge, bridge_off, player, args.screenshot, first_take, models)
    finally:
        close_all(bridge, session, player, engine)
