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
    from engine.song.lock import ProjectLock
    from engine.song.project import Project, project_path

    folder = project_path(args.project)
    if not (folder / "song.json").exists():
        Project.open(folder)  # says what is wrong
    with ProjectLock.acquire(folder, "songbridge render"):  # refused, naming the holder, while the app has it
        return _render(args, Project.open(folder))


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


def _render(args: argparse.Namespace, project: Any) -> int:
    from engine.comp import song_take
    from engine.render import RenderSettings

    take_id = chosen_take(project, args.take)
    if not args.take:  # the song's take (its accepted take, else the newest song take), never a loop
        take_id = getattr(song_take(project.song), "id", take_id)
    if not -20 <= args.ceiling <= 0:
        raise SongBridgeError(f"--ceiling must be -20..0 dBTP, got {args.ceiling:g}")
    bits = {"16": 16, "24": 24, "32f": 32, "32": 32}.get(args.bits)
    if bits is None:
        raise SongBridgeError(f"--bits must be 16, 24 or 32f, got {args.bits!r}")
    loudness = parse_loudness(args.loudness)
    settings = RenderSettings(format=args.format, bits=bits, loudness_lufs=loudness, ceiling_dbtp=args.ceiling,
                              fx=parse_fx(args.fx))
    out_name, what = None, f"render {take_id}"
    if not args.take:  # a comped song renders each section's accepted take (engine.comp)
        from engine.comp import comp_pieces, describe
        from engine.render import comp_settings

        comped = comp_settings(project.song, settings)
        if comped is not None:
            take_id, settings = comped
            out_name, what = "comp", "render the comp"
            print(f"comp: {describe(project.song, comp_pieces(project.song))}", file=sys.stderr)
    from engine.audio.consent import PluginNotAllowed
    from engine.render import render_chains
    from engine.service import RenderJob
    from songbridge.engine_client import open_engine, run_job

    try:  # bad --fx, a broken preset or a plugin not allowed here: refused before a worker starts
        render_chains(project, settings, project.song.take(take_id).stems)
    except PluginNotAllowed as exc:
        slots = sorted({where.split(":", 1)[0] for where, _ in exc.refused})
        raise PluginNotAllowed(exc.refused, hint="or render without that chain: "
                               + " ".join(f"--fx {s}=none" for s in slots)) from None
    engine = open_engine("thread" if args.engine == "thread" else None)  # renders run on this machine
    try:
        done = run_job(engine, RenderJob(project.folder, take_id, settings, label=what, out_name=out_name), what)
    finally:
        engine.close()
    result = done.render
    for label, path in result["files"].items():
        print(f"{label:<6} {path}")
    chains = ", ".join(f"{k}={v}" for k, v in result["chains"].items() if v) or "none"
    print(f"mix {result['lufs']:.1f} LUFS, true peak {result['true_peak_db']:.1f} dBTP; chains: {chains}",
          file=sys.stderr)
    return 0
