"""``songbridge render``: a take's stems and mix through effect chains, loudness-normalised, as BWF or FLAC."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.errors import SongBridgeError


def parse_fx(items: list[str] | None) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in items or []:
        slot, sep, preset = item.partition("=")
        if not sep or not slot:
            raise SongBridgeError(f"--fx {item!r}: expected STEM=PRESET (e.g. vocal=vocal-clean, master=none)")
        out[slot.strip()] = None if preset.strip().lower() in ("", "none", "off") else preset.strip()
    return out


def parse_loudness(text: str) -> float | None:
    if str(text).strip().lower() in ("off", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not -60 <= value <= 0:
        raise SongBridgeError(f"--loudness must be a target of -60..0 LUFS (e.g. -14) or 'off', got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    """Nothing holds the project: a headless session renders it (``Session.render``); the app or ``serve`` holds it:
    the render is sent there (``/songbridge/job/render``) and followed."""
    from engine.session import Session
    from engine.song.lock import ProjectBusy

    settings = render_settings(args)  # bad options: refused before the project is opened
    try:
        session = Session.open(args.project, None, "songbridge render")
    except ProjectBusy as busy:
        return _render_there(busy, args, settings)
    try:
        return _render(args, session, settings)
    finally:
        session.close()


def render_settings(args: argparse.Namespace) -> Any:
    from engine.render import RenderSettings

    if not -20 <= args.ceiling <= 0:
        raise SongBridgeError(f"--ceiling must be -20..0 dBTP, got {args.ceiling:g}")
    bits = {"16": 16, "24": 24, "32f": 32, "32": 32}.get(args.bits)
    if bits is None:
        raise SongBridgeError(f"--bits must be 16, 24 or 32f, got {args.bits!r}")
    return RenderSettings(format=args.format, bits=bits, loudness_lufs=parse_loudness(args.loudness),
                          ceiling_dbtp=args.ceiling, fx=parse_fx(args.fx))


def _render_there(busy: Any, args: argparse.Namespace, settings: Any) -> int:
    """The app or ``serve`` has the project: it renders (the same ``Session.render``), we follow the job."""
    import json

    from engine.song.project import project_path
    from songbridge.holder import run_there

    data = {"format": settings.format, "bits": settings.bits, "loudness": settings.loudness_lufs,
            "ceiling": settings.ceiling_dbtp, "fx": dict(settings.fx)}
    run_there(busy, "the render request", "/songbridge/job/render", args.take or "", json.dumps(data))
    print(f"renders: {project_path(args.project) / 'renders'}")
    return 0


def chosen_take(project: Any, take_arg: str | None) -> str:
    """``--take`` (checked to exist), or the newest take; an error naming what is wrong otherwise."""
    if not project.song.takes:
        raise SongBridgeError(f"{project.folder}: the project has no takes yet; run songbridge generate first")
    take_id = take_arg or project.song.takes[-1].id
    try:
        project.song.take(take_id)
    except KeyError as exc:
        raise SongBridgeError(f"--take {take_id}: {exc.args[0]}") from None
    return take_id


def _render(args: argparse.Namespace, session: Any, settings: Any) -> int:
    from engine.audio.consent import PluginNotAllowed
    from engine.comp import song_take
    from engine.render import render_chains
    from songbridge.headless import open_engine_for, run_one

    project = session.project
    take_id = chosen_take(project, args.take)
    what = f"render {take_id}"
    if not args.take:  # the song's take (its accepted take, else the newest song take), never a loop
        take_id = getattr(song_take(project.song), "id", take_id)
        what = f"render {take_id}"
        from engine.comp import comp_pieces, describe
        from engine.render import comp_settings

        comped = comp_settings(project.song, settings)
        if comped is not None:  # a comped song renders each section's accepted take (engine.comp)
            take_id, settings = comped
            what = "render the comp"
            print(f"comp: {describe(project.song, comp_pieces(project.song))}", file=sys.stderr)
    try:  # bad --fx, a broken preset or a plugin not allowed here: refused before a worker starts
        render_chains(project, settings, project.song.take(take_id).stems)
    except PluginNotAllowed as exc:
        slots = sorted({where.split(":", 1)[0] for where, _ in exc.refused})
        raise PluginNotAllowed(exc.refused, hint="or render without that chain: "
                               + " ".join(f"--fx {s}=none" for s in slots)) from None
    engine = open_engine_for(args, "thread" if args.engine == "thread" else "local")  # renders run on this machine
    ended = run_one(session, engine, lambda s: s.render(args.take or None, render_settings(args), origin="cli"),
                    what)
    result = ended.render or {}
    for label, path in result.get("files", {}).items():
        print(f"{label:<6} {path}")
    chains = ", ".join(f"{k}={v}" for k, v in result.get("chains", {}).items() if v) or "none"
    print(f"mix {result.get('lufs', float('nan')):.1f} LUFS, true peak {result.get('true_peak_db', float('nan')):.1f} "
          f"dBTP; chains: {chains}", file=sys.stderr)
    return 0
