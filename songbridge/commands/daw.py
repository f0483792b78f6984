"""``songbridge daw``: set up the DAW side once (``setup ardour``), link a project to a DAW session (``link``, which
can create an Ardour session at the song's tempo and meter), say what a landing would do right now (``status``), and
land stems through the program that holds the project (``land``)."""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

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
    from engine.session import Session
    from engine.song import DawLink
    from engine.song.project import project_path

    if args.osc_port is not None and not 0 <= args.osc_port <= 65535:
        raise SongBridgeError(f"--osc-port must be 0..65535 (0: find Ardour's), got {args.osc_port}")
    folder = project_path(args.project)
    owner = Session.open(folder, None, "songbridge daw link")  # refused, naming the holder, while it is open
    try:
        song = owner.song
        if args.adapter == "ardour":
            if not args.session:
                raise SongBridgeError("daw link ardour needs the Ardour session folder (SESSION)")
            session = Path(args.session).expanduser().resolve()
            if args.create:
                from daw_bridge.adapters.ardour import create_session, enable_osc
                from daw_bridge.adapters.rates import engine_rate

                meter = song.tempo.meter
                rate, why = (args.rate, "--rate") if args.rate else engine_rate(song.info.sample_rate)
                create_session(session, song.tempo.bpm, meter.numerator, meter.denominator, rate=rate)
                enable_osc(session, session.name)
                print(f"created the Ardour session {session} at {song.tempo.bpm:g} bpm {meter}, {rate} Hz ({why})")
            elif args.rate:
                raise SongBridgeError("--rate is for --create: an existing session keeps its rate (stems are "
                                      "converted to it when they land)")
            elif not (session / f"{session.name}.ardour").exists():
                raise SongBridgeError(f"{session}: no Ardour session {session.name}.ardour there (add --create to "
                                      "make one at the song's tempo)")
            new = DawLink(adapter="ardour", host=args.osc_host or song.daw.host,
                          port=song.daw.port if args.osc_port is None else args.osc_port, session=str(session),
                          track_prefix=args.prefix, follow_transport=song.daw.follow_transport)
        else:
            if args.create:
                raise SongBridgeError("--create makes Ardour sessions; other DAWs take stamped files")
            _check_adapter(args)
            new = DawLink(adapter=args.adapter, host=args.osc_host or song.daw.host,
                          port=song.daw.port if args.osc_port is None else args.osc_port,
                          render_folder=str(Path(args.session).expanduser().resolve()) if args.session else "",
                          track_prefix=args.prefix, follow_transport=song.daw.follow_transport)
        if new.adapter in ("generic", "bitwig"):
            from daw_bridge.landing import linked_folder

            linked_folder(song.replace(daw=new))  # a file where the folder should be: refused, nothing changed
        owner.edit(song.replace(daw=new), f"Link to {args.adapter}", origin="cli")  # the one session call
        owner.flush()
    finally:
        owner.close()
    print(f"{folder}: stems land through the {args.adapter} adapter" +
          (f" into {new.session}" if new.session else ""))
    return status(argparse.Namespace(project=args.project))


def _check_adapter(args: argparse.Namespace) -> None:
    """A known adapter (``registry``); REAPER: its resource folder, and the ReaScript's command ID kept there."""
    from daw_bridge.adapters.registry import names

    if args.adapter not in names():
        raise SongBridgeError(f"unknown DAW adapter {args.adapter!r}; known adapters: {', '.join(names())}")
    action = getattr(args, "reaper_action", None)
    if action and args.adapter != "reaper":
        raise SongBridgeError("--reaper-action is for the reaper adapter")
    if args.adapter == "reaper":
        if not args.session:
            raise SongBridgeError("daw link reaper needs REAPER's resource folder (SESSION: Options > Show REAPER "
                                  "resource path; the landing request goes to its Scripts/)")
        if action:
            from daw_bridge.adapters.reaper import save_action

            print(f"REAPER's command ID {action} kept in {save_action(Path(args.session).expanduser(), action)}")


def status(args: argparse.Namespace) -> int:
    """What a landing would do now: for Ardour every check (``ardour_status``), each with what to do."""
    from daw_bridge.adapters.check import check_link
    from engine.song.project import Project, project_path

    folder = project_path(args.project)
    song = Project.open(folder).song
    if song.daw.adapter != "ardour":
        ok, sentence = check_link(song, folder)
        print(sentence)
        return 0 if ok else 1
    from daw_bridge.adapters.ardour_status import ardour_checks

    checks = ardour_checks(song, project=folder)
    for c in checks:
        print(f"{c.name + ':':8s} {'ok' if c.ok else 'PROBLEM'}  {c.text}")
    return 0 if all(c.ok for c in checks) else 1


def _ardour_session(song: object, held_ok: bool = False) -> tuple[Path, bool]:
    """The linked session, and whether a running program holds it (refused unless ``held_ok``: a pull asks the
    running Ardour to save and reads that)."""
    daw = song.daw  # type: ignore[attr-defined]
    if daw.adapter != "ardour" or not daw.session:
        raise SongBridgeError("the project is not linked to an Ardour session: `songbridge daw link PROJECT ardour "
                              "SESSION` first")
    from daw_bridge.adapters.ardour_route import refusal

    why = refusal(Path(daw.session))
    if why and not held_ok:
        raise SongBridgeError(f"{why}; save and quit Ardour first")
    return Path(daw.session), bool(why)


def pull(args: argparse.Namespace) -> int:
    """Ardour's tempo map and markers into the song: tempo, and a section per range marker or per marker."""
    from daw_bridge.adapters.ardour_markers import read_timeline, song_from_timeline
    from engine.session import Session
    from engine.song.lock import ProjectBusy
    from engine.song.project import project_path

    folder = project_path(args.project)
    try:
        held_session = Session.open(folder, None, "songbridge daw pull")
    except ProjectBusy as busy:  # the app (or serve) has the project: it pulls, as one undo step there
        return _there(busy, "pull")
    try:
        project = held_session.project
        session, held = _ardour_session(project.song, held_ok=True)
        if held:  # the running Ardour saves it (OSC /save_state, as Ctrl+S) and the file it wrote is read
            from daw_bridge.adapters.ardour_markers import read_saved_timeline, save_running
            from daw_bridge.adapters.ardour_route import resolve_osc

            save_running(session, resolve_osc(session, (project.song.daw.host, project.song.daw.port)))
            timeline = read_saved_timeline(session)
        else:
            timeline = read_timeline(session)
        song = song_from_timeline(project.song, timeline)
        held_session.edit(song, "Pull from the DAW", origin="cli")
        held_session.flush()
    finally:
        held_session.close()
    seg = song.tempo.segments
    print(f"tempo from Ardour: {', '.join(f'{s.bpm:g} bpm {s.meter} at bar {s.bar}' for s in seg)}")
    if timeline.markers:
        print(f"{len(song.sections)} sections from its markers: " + ", ".join(
            f"{s.name} ({s.start_s:.2f}-{s.end_s:.2f} s)" for s in song.sections))
    else:
        print("no markers in the session: the song keeps its sections")
    return 0


def push(args: argparse.Namespace) -> int:
    """The song's sections as range markers and its tempo map into the Ardour session: the closed file, or through
    the running Ardour that has it open (SongBridge's landing action)."""
    from daw_bridge.adapters.ardour_push_live import push_song
    from engine.song.project import Project, project_path

    song = Project.open(project_path(args.project)).song
    session, _ = _ardour_session(song, held_ok=True)
    _, text = push_song(session, song, (song.daw.host, song.daw.port))
    print(f"{session}: {text}")
    return 0


def _there(busy: Any, direction: str, timeout_s: float = 180.0) -> int:
    """Ask the program holding the project to pull (or push) through its bridge (``/songbridge/daw/<direction>``)
    and print its answer (a pull through a running Ardour waits for Ardour's save: up to ``timeout_s``)."""
    import sys

    from songbridge.holder import address_of, ask_there

    server = address_of(busy)
    print(f"{busy.holder.get('program', 'another program')} has the project open: asking its bridge at "
          f"{server[0]}:{server[1]} to {direction}", file=sys.stderr)
    values = ask_there(busy, f"/songbridge/daw/{direction}", f"/songbridge/daw/{direction}ed", timeout_s=timeout_s)
    print(values[-1])
    return 0


def land(args: argparse.Namespace) -> int:
    """Land stems in the DAW: ``Session.land``, the same call the app's DAW link panel and the DAW make. When the app
    or ``serve`` holds the project it lands there (``/songbridge/stems/land``); with nothing holding it, a headless
    session lands through the project's DAW link itself (a closed Ardour session, a running Ardour over its OSC, a
    folder of stamped files)."""
    from engine.session import Session
    from engine.song.lock import ProjectBusy
    from engine.song.project import project_path

    folder = project_path(args.project)
    try:
        session = Session.open(folder, None, "songbridge daw land")
    except ProjectBusy as busy:
        return _land_there(busy, args)
    try:
        return _land_here(session, args)
    finally:
        session.close()


def _land_here(session: Any, args: argparse.Namespace, timeout_s: float = 120.0) -> int:
    """A lander of our own (the bridge's, with no OSC listening): render, then hand the files to the DAW adapter;
    each landing is said as it is done."""
    import time

    from daw_bridge.server import Bridge
    from songbridge.headless import open_engine_for, run_one

    bridge = Bridge(session, lambda data, to: None).start()
    try:
        jobs: list[str] = []

        def call(s: Any) -> str:
            jobs.extend(s.land(args.take or None, args.section or None, origin="cli"))
            return jobs[0]

        run_one(session, open_engine_for(args, "local"), call, "land")
        deadline = time.monotonic() + timeout_s
        while len(bridge.landings) < len(jobs) and time.monotonic() < deadline:
            time.sleep(0.05)  # the files go to the DAW on the bridge's landing thread
        landed = list(bridge.landings)
    finally:
        bridge.close()
    if len(landed) < len(jobs):
        raise SongBridgeError(f"the DAW did not take the stems within {timeout_s:g} s")
    failed = [entry for entry in landed if not entry["ok"]]
    for entry in landed:
        print(f"{entry['take']}: {'landed' if entry['ok'] else 'NOT landed'} through {entry['adapter']}: "
              f"{entry['detail']}")
    if failed:
        raise SongBridgeError(f"{len(failed)} of {len(landed)} landing(s) failed: {failed[0]['detail']}")
    return 0


def _land_there(busy: Any, args: argparse.Namespace, timeout_s: float = 300.0) -> int:
    import sys

    from songbridge.holder import address_of, ask_there

    server = address_of(busy)
    print(f"{busy.holder.get('program', 'another program')} has the project open: asking its bridge at "
          f"{server[0]}:{server[1]} to land the stems", file=sys.stderr)
    values = ask_there(busy, "/songbridge/stems/land", "/songbridge/stems/landed", args.take or "",
                       args.section or "", timeout_s=timeout_s)
    take, adapter, ok, detail = (list(values) + ["", "", 0, ""])[:4]
    if not ok:
        raise SongBridgeError(f"landing {take or 'the song'} through {adapter} failed: {detail}")
    print(f"{take}: landed through {adapter}: {detail}")
    return 0
