"""``songbridge use PROJECT TAKE [--section NAME]``: comping from the command line — TAKE becomes the take a section
plays (or the whole song's, without ``--section``), as "Use this take for <section>" does in the app: the session's
``accept``, one undoable step kept in song.json; render and landing then assemble each section's take. With the app
or ``serve`` holding the project, the choice is sent to that program (``/songbridge/take/accept``) and its answer
awaited."""

from __future__ import annotations

import argparse
from typing import Any

from engine.errors import SongBridgeError


def add_parser(sub: Any) -> None:
    use = sub.add_parser("use", help="comping: make TAKE the take a section plays (render and landing use it)",
                         description="Make TAKE the accepted take of a section (or of the whole song without "
                         "--section): one undoable step, kept in song.json; `songbridge render PROJECT` and landing "
                         "the song then assemble each section from its take. Sent to the app or serve when it has "
                         "the project open.")
    use.add_argument("project", metavar="PROJECT", help="project folder (NAME.songbridge)")
    use.add_argument("take", metavar="TAKE", help="a song take, e.g. take-003 (never a loop)")
    use.add_argument("--section", metavar="NAME", help='the section, e.g. "Chorus 2" (default: the whole song)')


def run(args: argparse.Namespace) -> int:
    from engine.session import Session
    from engine.song.lock import ProjectBusy

    try:
        session = Session.open(args.project, None, "songbridge use")
    except ProjectBusy as busy:
        from songbridge.holder import ask_there

        take, section = ask_there(busy, "/songbridge/take/accept", "/songbridge/take/accepted", args.take,
                                  args.section or "")
        print(f"{section or 'the song'} now plays {take} (in the program that holds the project)")
        return 0
    from engine.session.regenerate import find_section

    try:
        take_id = session.accept(args.take, args.section or "", "cli")
        if not session.flush(10.0):
            raise SongBridgeError(f"{session.folder}: the choice could not be saved")
        where = find_section(session.song, args.section).name if args.section else "the song"
        print(f"{where} now plays {take_id} (render and landing use it)")
        return 0
    finally:
        session.close()
