"""``songbridge generate``: lyrics + style -> a project with rendered takes."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError
from engine.song.settings_file import RANGES, SETTINGS_KEYS, read_settings, settings_lyrics


def parse_params(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SongBridgeError(f"--param {item!r}: expected KEY=VALUE, e.g. solver=heun")
        v: Any = value.strip()
        for cast in (int, float):
            try:
                v = cast(v)
                break
            except ValueError:
                continue
        out[key.strip()] = v
    return out


def check_options(args: argparse.Namespace) -> None:
    """Every numeric option within the range a settings file allows, before anything is read or written."""
    for key, (lo, hi) in RANGES.items():
        value = getattr(args, key, None)
        if value is None:
            continue
        if value != value or not lo <= value <= hi:
            def show(x: float) -> str:
                return str(int(x)) if float(x).is_integer() else f"{x:g}"

            raise SongBridgeError(f"--{key.replace('_', '-')} must be {show(lo)}..{show(hi)}, got {value:g}")


def backend_params(args: argparse.Namespace, backend: str) -> dict[str, Any]:
    """--param, --steps and --cfg checked against what ``backend`` takes (names, types, ranges, choices)."""
    from engine.backends import registry

    params = parse_params(args.param)
    checked = registry.check_request_params(backend, params)
    for option, key, value in (("--steps", "steps", args.steps), ("--cfg", "cfg", args.cfg)):
        if value is not None:
            checked.update(registry.check_request_params(backend, {key: value}, option))
    return checked


def run(args: argparse.Namespace) -> int:
    from engine.backends import registry
    from engine.lyrics import parse_file
    from engine.song.project import project_path

    check_options(args)
    settings = read_settings(args.settings) if args.settings else {}
    for key in SETTINGS_KEYS:  # the command line wins over the settings file
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    lyrics_path = args.lyrics or (settings_lyrics(args.settings, settings) if args.settings else None)
    if not lyrics_path:
        raise SongBridgeError("give a lyrics file (or a --settings file with lyrics = \"...\")")
    notes: list[str] = []
    backend = registry.create(settings["backend"], models_dir=args.models) if settings.get("backend") \
        else registry.best_available(notes, models_dir=args.models)
    ok, reason = backend.available()
    if not ok:
        raise SongBridgeError(f"the {backend.name} backend cannot run here: {reason}")
    params = backend_params(args, backend.name)
    _check_style_sources(args)
    lyrics = parse_file(lyrics_path)
    notes += lyrics.warnings
    folder = project_path(args.output)
    if (folder / "song.json").exists():  # one owner: while the app or serve has the project, the takes are asked of it
        from engine.session import Session
        from engine.song.lock import ProjectBusy

        try:
            session = Session.open(folder, None, "songbridge generate")
        except ProjectBusy as busy:
            return _generate_there(busy, args, settings, lyrics, lyrics_path, notes, backend.name, folder)
        try:
            return _generate(args, settings, lyrics_path, lyrics, notes, backend, params, folder, session)
        finally:
            session.close()
    return _generate(args, settings, lyrics_path, lyrics, notes, backend, params, folder, None)


def _generate_there(busy: Any, args: argparse.Namespace, settings: dict, lyrics: Any, lyrics_path: str,
                    notes: list[str], backend: str, folder: Path) -> int:
    """The project is open in the app or ``serve``: its takes are asked of that program (its bridge's address is
    in the lock) and followed here. Only takes, seed and backend travel; a command that would also change the song
    (other lyrics, style, sections, tempo...) is refused, naming what, before anything is sent."""
    from engine.generation import SongChoices, prepare_song
    from engine.song import load_song
    from songbridge.holder import generate_message, run_there

    song = load_song(folder)
    wanted = prepare_song(song, lyrics, SongChoices.from_settings(settings, None), first_time=False, notes=[])
    # the words and their stamps as a lyrics file says them (end times and word stamps it cannot carry are the
    # song's own, kept there)
    said = [(ln.text, None if ln.start_s is None else round(ln.start_s, 3)) for ln in wanted.lyrics]
    kept = [(ln.text, None if ln.start_s is None else round(ln.start_s, 3)) for ln in song.lyrics]
    changes = [name for name, a, b in (("lyrics", kept, said), ("sections", song.sections, wanted.sections),
                                       ("style", song.style, wanted.style), ("tempo", song.tempo, wanted.tempo),
                                       ("key", song.key, wanted.key), ("title", song.info, wanted.info))
               if a != b]
    changes += [f"--{o.replace('_', '-')}" for o in ("style_preset", "style_audio", "duration", "param", "steps",
                                                      "cfg") if getattr(args, o, None)]
    if changes:
        raise SongBridgeError(f"{busy}; this command would also change the song's {', '.join(changes)} "
                              f"(from {lyrics_path}): make that change there, or close it and run this again")
    seed = settings.get("seed")
    return run_there(busy, "the generate request", "/songbridge/job/generate",
                     generate_message(int(settings.get("takes", 1)), seed, backend))


def _generate(args: argparse.Namespace, settings: dict, lyrics_path: str, lyrics: Any, notes: list[str],
              backend: Any, params: dict, folder: Path, session: Any) -> int:
    """A headless session makes the takes (``Session.generate``, one job; the session splits neural takes when a
    stem model is installed). ``session`` is the project's, or None: a new project, made (``Session.create``) once
    the request has been checked and the engine opened, and removed again when it never got a take."""
    from engine.backends import registry
    from engine.generation import (
        SongChoices,
        default_title,
        lines_past_end,
        plan_takes,
        prepare_song,
        take_paths,
    )
    from engine.session import Session
    from engine.song.model import Song
    from engine.song.project import Project
    from songbridge.headless import open_engine_for

    new = session is None
    old = Song() if session is None else session.song
    choices = SongChoices.from_settings(settings, default_title(lyrics, lyrics_path) if new else None)
    song = prepare_song(old, lyrics, choices, first_time=new, notes=notes)
    song, reference = _apply_style_sources(args, song)
    seed = settings.get("seed")
    if seed is None:
        seed = secrets.randbelow(2**31)
    count = settings.get("takes", 1)
    first = plan_takes(Project(folder, song), count, seed, duration_s=settings.get("duration"), params=params,
                       pending="plan")[0]  # the request as the session will plan it (checks the length)
    late = lines_past_end(song, first.duration_s)
    if late:
        notes.append(late + ("; give a longer --duration" if settings.get("duration") else ""))
    # A job that needs no model (the guide) runs here, in the worker loop's thread form: no process to start.
    spec = "thread" if args.engine in (None, "", "local") and not registry.needs_worker(backend.name) \
        else args.engine
    engine = open_engine_for(args, spec)  # a wrong key or address fails before the project changes
    created = not folder.exists()
    try:
        for note in notes:
            print(f"warning: {note}" if not note.startswith(("tempo ", "sections ")) else note, file=sys.stderr)
        if session is None:
            session = Session.create(folder, song, None, "songbridge generate")  # ours from its first save
        empty = new
        try:
            code = _make_takes(args, session, engine, song, reference, backend, params, seed, count, settings,
                               first, take_paths)
            empty = False
            return code
        finally:
            if new:
                empty = empty and not session.song.takes
                session.close()
                if empty:  # a project this command made that never got a take is not left behind
                    if created:
                        _remove_new_project(folder)
                    else:
                        (folder / "song.json").unlink(missing_ok=True)
    except BaseException:
        engine.close()
        raise


def _make_takes(args: argparse.Namespace, session: Any, engine: Any, song: Any, reference: Path | None, backend: Any,
                params: dict, seed: int, count: int, settings: dict, first: Any, take_paths: Any) -> int:
    from engine.estimates import estimate_seconds
    from songbridge.headless import run_one

    if song != session.song:
        session.edit(song, "Lyrics and settings", origin="cli")  # one undoable step, before any audio
    if reference is not None:
        session.bring_reference(reference)  # into reference/, where the song's style names it
    if args.models:
        session.backend_settings["models_dir"] = args.models
    if getattr(args, "precision", None):
        session.backend_settings["precision"] = args.precision
    secs, mem = backend.estimate(first)
    secs = estimate_seconds(backend.name, first.duration_s, secs)
    print(f"{song.info.title}: {first.duration_s:.1f} s at {song.tempo.bpm:g} bpm in {song.key}; {count} take(s) "
          f"with {backend.name} (about {secs * count:.1f} s, {mem / 2**20:.0f} MiB)", file=sys.stderr)
    ended = run_one(session, engine, lambda s: s.generate(backend.name, count, seed, params=params,
                                                         duration_s=settings.get("duration"),
                                                         label=song.info.title or "song", origin="cli"),
                    f"{count} take{'s' if count > 1 else ''}")
    for made in ended.takes:
        take = session.song.take(made.id)  # as its follow-ups left it (split into stems)
        print(f"{take.id}  seed {take.seed}  {take_paths(session.project, take)[0]}")
    print(f"project: {session.folder}", file=sys.stderr)
    return 0


def _check_style_sources(args: argparse.Namespace) -> None:
    """--style-preset and --style-audio checked before anything is written."""
    if getattr(args, "style_preset", None):
        from engine.style.presets import find

        find(args.style_preset)
    if getattr(args, "style_audio", None):
        from engine.style.reference import prepare

        prepare(args.style_audio)


def _apply_style_sources(args: argparse.Namespace, song: Any) -> tuple[Any, Path | None]:
    """The song's style source from the options; returns the song and a reference clip to copy into the project."""
    from dataclasses import replace

    style = song.style
    preset, audio = getattr(args, "style_preset", None), getattr(args, "style_audio", None)
    if preset:
        style = replace(style, preset=preset)
    elif audio or args.style is not None:
        style = replace(style, preset=None)  # a clip or new words asked for: the saved style no longer applies
    source = None
    if audio:
        source = Path(audio)
        style = replace(style, reference_audio=f"reference/{source.name}")
    elif args.style is not None and not preset:
        style = replace(style, reference_audio=None)
    return song.replace(style=style), source


def _remove_new_project(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
