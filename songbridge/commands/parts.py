"""``songbridge add-part PROJECT --track bass``: one more instrument made over a take (ACE-Step's lego: the take's
stems plus the new one), or with ``--alone`` that instrument taken out of the take (extract); the session's
``add_part``, the same call the DAW's ``/songbridge/take/add_part`` makes. Needs ACE-Step's base model in the models
folder. With nothing holding the project it runs in a headless session; when the app or ``serve`` has it open, the
request goes there and its job is followed."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.errors import SongBridgeError


def add_parser(sub: Any) -> None:
    ap = sub.add_parser("add-part", help="add one instrument over a take (or take it out alone) with ACE-Step",
                        description="A new take of a take with one more instrument made over it (ACE-Step 1.5 "
                        "base: lego), or with --alone that instrument alone (extract). Sent to the app or serve "
                        "when it has the project open.")
    ap.add_argument("project", metavar="PROJECT", help="project folder (NAME.songbridge)")
    ap.add_argument("--track", required=True, help="the instrument: woodwinds, brass, fx, synth, strings, "
                    "percussion, keyboard, guitar, bass, drums, backing_vocals or vocals")
    ap.add_argument("--take", help="the take (default: the newest song take)")
    ap.add_argument("--alone", action="store_true", help="take the instrument out of the take alone (extract)")
    ap.add_argument("--caption", help="words for the new part (default: the song's style)")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--models", metavar="DIR", help="model folder (default: setting or SONGBRIDGE_MODELS)")
    ap.add_argument("--engine", metavar="URL", help="'local' (default), 'thread' or http(s)://HOST:PORT")
    ap.add_argument("--key-file", metavar="FILE", help="the remote engine's shared key (or SONGBRIDGE_ENGINE_KEY)")
    ap.add_argument("--engine-ca", metavar="PEM", dest="engine_ca", help="trust this certificate for https://")


def run(args: argparse.Namespace) -> int:
    from engine.session import Session
    from engine.song.lock import ProjectBusy

    try:
        session = Session.open(args.project, None, "songbridge add-part")
    except ProjectBusy as busy:
        from songbridge.holder import run_there

        if args.caption or args.seed is not None or args.models:
            given = [o for o, v in (("--caption", args.caption), ("--seed", args.seed), ("--models", args.models))
                     if v is not None]
            raise SongBridgeError(f"{busy}; {', '.join(given)} cannot be sent to it: ask there, or close it "
                                  "first") from None
        return run_there(busy, "the add-part request", "/songbridge/take/add_part", args.track, args.take or "",
                         int(args.alone))
    try:
        if args.models:
            from engine.settings import models_dir

            session.backend_settings["models_dir"] = str(models_dir(args.models)[0])
        return _headless(session, args)
    finally:
        session.close()


def _headless(session: Any, args: argparse.Namespace) -> int:
    from songbridge.headless import open_engine_for, run_one

    def call(s: Any) -> str:
        return str(s.add_part(args.take, args.track, alone=args.alone, caption=args.caption, seed=args.seed,
                              origin="cli"))

    session.check_part(args.take, args.track, alone=args.alone, caption=args.caption)  # before an engine starts
    ended = run_one(session, open_engine_for(args), call, f"{'extract' if args.alone else 'add'} {args.track}")
    for take in ended.takes:
        made = session.song.take(take.id)
        print(f"{made.id}: {', '.join(made.stems)} (from {made.parent}) in {session.project.take_dir(made.id)}")
    print(f"project: {session.folder}", file=sys.stderr)
    return 0
