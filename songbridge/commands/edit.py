"""``songbridge edit PROJECT``: regenerate sections, bars, seconds or lyric lines of a take (the section's accepted
take, else the newest song take, or ``--take``), as one job: the session's regenerate, the same call the app and the
DAW bridge make. With nothing holding the project it runs through a headless session on an engine of its own; when
the app or ``serve`` has the project open, the request goes to that program over its OSC address (named in the
project's lock) and its job is followed there."""

from __future__ import annotations

import argparse
from typing import Any

from engine.errors import SongBridgeError


def add_parser(sub: Any) -> None:
    ed = sub.add_parser("edit", help="regenerate sections, bars, seconds or lyric lines of a take, as new takes",
                        description="Regenerate parts of a take (one job: every region in one model pass, seams "
                        "crossfaded). Regions may be mixed and repeated. Sent to the app or serve when it has the "
                        "project open.")
    ed.add_argument("project", metavar="PROJECT", help="project folder (NAME.songbridge)")
    ed.add_argument("--take", help="the take to edit (default: the section's accepted take, else the song's, else "
                    "the newest song take; never a loop)")
    ed.add_argument("--section", action="append", default=[], metavar="NAME", help='a section, e.g. "Chorus 1"')
    ed.add_argument("--bars", action="append", default=[], metavar="A-B", help="bars [A, B), 1-based, e.g. 17-25")
    ed.add_argument("--seconds", action="append", default=[], metavar="A-B", help="seconds [A, B), e.g. 31.5-40")
    ed.add_argument("--lines", action="append", default=[], metavar="ID,ID",
                    help="lyric line ids; each spans to its end time, else to the next line")
    ed.add_argument("--lyrics", metavar="WORDS", help="new words for the one line given by --lines")
    ed.add_argument("--extend", type=float, default=0.0, metavar="SECONDS",
                    help="continue the take past its end by this long (a backend that can: ace-step)")
    ed.add_argument("--extend-bars", type=float, default=0.0, metavar="N", help="... or by N bars at the song's tempo")
    ed.add_argument("--takes", type=int, default=1, help="how many takes (default 1)")
    ed.add_argument("--seed", type=int, help="seed of the first take")
    ed.add_argument("--backend", help="default: the backend that made the take")
    ed.add_argument("--param", action="append", metavar="KEY=VALUE", help="a backend option, e.g. cover_strength=0.8 "
                    "(ace-step) or quality=draft (diffrhythm); checked against what the backend takes")
    ed.add_argument("--models", metavar="DIR", help="model folder, when nothing holds the project (default: setting "
                    "or SONGBRIDGE_MODELS)")
    ed.add_argument("--engine", metavar="URL", help="when nothing holds the project: 'local' (default), 'thread' or "
                    "a remote engine, http(s)://HOST:PORT")
    ed.add_argument("--key-file", metavar="FILE", help="the remote engine's shared key (or SONGBRIDGE_ENGINE_KEY)")
    ed.add_argument("--engine-ca", metavar="PEM", dest="engine_ca", help="trust this certificate for https://")


def _span(text: str, option: str) -> tuple[float, float]:
    a, sep, b = text.partition("-")
    try:
        if not sep:
            raise ValueError
        return float(a), float(b)
    except ValueError:
        raise SongBridgeError(f"{option} {text}: give START-END, e.g. 17-25") from None


def request(args: argparse.Namespace) -> Any:
    """The command line as the session's :class:`~engine.session.Regenerate` (checked against the song later)."""
    from engine.session import Regenerate
    from songbridge.commands.generate import parse_params

    lines = tuple(x.strip() for group in args.lines for x in group.split(",") if x.strip())
    lyrics: tuple[tuple[str, str], ...] = ()
    if args.lyrics is not None:
        if len(lines) != 1:
            raise SongBridgeError("--lyrics: give exactly one line with --lines for the new words")
        lyrics = ((lines[0], args.lyrics),)
    return Regenerate(sections=tuple(args.section), bars=tuple(_span(b, "--bars") for b in args.bars),
                      seconds=tuple(_span(s, "--seconds") for s in args.seconds), lines=lines, take=args.take,
                      lyrics=lyrics, takes=args.takes, seed=args.seed, backend=args.backend, params=parse_params(args.param),
                      extend_s=args.extend, extend_bars=args.extend_bars)


def run(args: argparse.Namespace) -> int:
    from engine.session import Session
    from engine.song.lock import ProjectBusy

    req = request(args)
    try:
        session = Session.open(args.project, None, "songbridge edit")
    except ProjectBusy as exc:
        from songbridge.holder import regenerate_there

        if args.models:
            raise SongBridgeError(f"{exc}; --models cannot be sent to it (it uses its own models folder)") from None
        return regenerate_there(exc, req)
    try:
        if args.models:
            from engine.settings import models_dir

            session.backend_settings["models_dir"] = str(models_dir(args.models)[0])
        return _headless(session, req, args)
    finally:
        session.close()


def _headless(session: Any, req: Any, args: argparse.Namespace) -> int:
    from engine.backends import registry
    from engine.session import plan_regenerate
    from songbridge.headless import open_engine_for, run_one

    plan = plan_regenerate(session.song, req, tuple(registry.names()))  # refused before an engine starts
    ended = run_one(session, open_engine_for(args), lambda s: s.regenerate(req, origin="cli"), plan.label)
    for take in ended.takes:
        spans = ", ".join(f"{r.start_s:.2f}-{r.end_s:.2f} s" for r in take.edited_ranges)
        print(f"{take.id}: edit of {take.parent} ({spans}) in {session.project.take_dir(take.id)}")
    return 0
