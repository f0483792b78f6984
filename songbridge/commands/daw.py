"""``songbridge daw``: set up the DAW side once (``setup ardour``), link a project to a DAW session (``link``, which
can create an Ardour session at the song's tempo and meter), and say what a landing would do right now
(``status``)."""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from pathlib import Path

from engine.errors import SongBridgeError


def setup(args: argparse.Namespace) -> int:
    from daw_bridge.adapters import ardour_live as live

    cfg = Path(args.config) if args.config else live.config_dir()
    result = live.install(cfg, args.slot)
    print(f"script: {result.script}")
    print(result.message)
    if result.registered and result.slot is not None:
        print(f"SongBridge triggers it over Ardour's OSC as /access_action \"LuaAction/script-{result.slot}\"; the "
              "landing request and Ardour's answer go through <session>/songbridge/")
    osc = _osc_state(cfg / "config")
    if osc != "on":
        print("Ardour's OSC surface is " + osc + ": turn on Open Sound Control in Edit > Preferences > Control "
              "Surfaces (UDP port 3819), or SongBridge cannot trigger the action")
    return 0 if result.registered else 1


def _osc_state(config: Path) -> str:
    try:
        root = ET.parse(config).getroot()
    except (OSError, ET.ParseError):
        return "not known yet (Ardour has not saved its settings here)"
    for proto in root.iter("Protocol"):
        if (proto.get("name") or "").startswith("Open Sound Control"):
            return "on" if proto.get("active") == "1" else "off"
    return "off"


def link(args: argparse.Namespace) -> int:
    from engine.song import DawLink
    from engine.song.lock import ProjectLock
    from engine.song.project import Project, project_path

    folder = project_path(args.project)
    if not (folder / "song.json").exists():
        Project.open(folder)  # says what is wrong
    with ProjectLock.acquire(folder, "songbridge daw link"):
        project = Project.open(folder)
        song = project.song
        if args.adapter == "ardour":
            if not args.session:
                raise SongBridgeError("daw link ardour needs the Ardour session folder (SESSION)")
            session = Path(args.session).expanduser().resolve()
            if args.create:
                from daw_bridge.adapters.ardour import create_session, enable_osc

                meter = song.tempo.meter
                create_session(session, song.tempo.bpm, meter.numerator, meter.denominator)
                enable_osc(session, session.name)
                print(f"created the Ardour session {session} at {song.tempo.bpm:g} bpm {meter}")
            elif not (session / f"{session.name}.ardour").exists():
                raise SongBridgeError(f"{session}: no Ardour session {session.name}.ardour there (add --create to "
                                      "make one at the song's tempo)")
            new = DawLink(adapter="ardour", host=song.daw.host, port=song.daw.port, session=str(session),
                          track_prefix=args.prefix, follow_transport=song.daw.follow_transport)
        else:
            if args.create:
                raise SongBridgeError("--create makes Ardour sessions; other DAWs take stamped files")
            new = DawLink(adapter=args.adapter, host=song.daw.host, port=song.daw.port,
                          render_folder=str(Path(args.session).expanduser().resolve()) if args.session else "",
                          track_prefix=args.prefix, follow_transport=song.daw.follow_transport)
        project.song = song.replace(daw=new)
        project.save()
    print(f"{folder}: stems land through the {args.adapter} adapter" +
          (f" into {new.session}" if new.session else ""))
    return status(argparse.Namespace(project=args.project))


def status(args: argparse.Namespace) -> int:
    """What a landing would do now, in a sentence or two."""
    from daw_bridge.adapters import ardour_live as live
    from daw_bridge.adapters.ardour import ArdourError, session_facts
    from daw_bridge.adapters.ardour_route import refusal
    from daw_bridge.adapters.check import check_link
    from engine.song.project import Project, project_path

    folder = project_path(args.project)
    song = Project.open(folder).song
    ok, sentence = check_link(song, folder)
    print(sentence)
    if song.daw.adapter == "ardour" and song.daw.session:
        session = Path(song.daw.session)
        try:
            facts = session_facts(session)
            print(f"session: {facts.rate} Hz, {facts.bpm:g} bpm, {facts.beats_per_bar} beats a bar; the song: "
                  f"{song.tempo.bpm:g} bpm {song.tempo.meter}")
        except ArdourError as exc:
            print(exc)
        slot = live.bound_slot()
        print(f"live route: {'action ' + str(slot) if slot else 'not set up (songbridge daw setup ardour)'}")
        why = refusal(session)
        print(f"closed route: {why}" if why else "closed route: nothing holds the session")
    return 0 if ok else 1
