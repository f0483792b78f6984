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
    exists = (folder / "song.json").exists()
    locks: list[Any] = []
    if exists:  # one owner: while the app or serve has the project, the takes are asked of it
        from engine.song.lock import ProjectBusy

        try:
            locks.append(_lock(folder))
        except ProjectBusy as busy:
            return _generate_there(busy, args, settings, lyrics, lyrics_path, notes, backend.name, folder)
    try:
        return _generate(args, settings, lyrics_path, lyrics, notes, backend, params, folder, exists, locks)
    finally:
        for lock in locks:
            lock.release()


def _lock(folder: Path) -> Any:
    from engine.song.lock import ProjectLock, clean_temporary

    lock = ProjectLock.acquire(folder, "songbridge generate")  # ProjectBusy names the holder
    clean_temporary(folder)
    return lock


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
              backend: Any, params: dict, folder: Path, exists: bool, locks: list[Any]) -> int:
    from engine.estimates import estimate_seconds
    from engine.generation import (
        SongChoices,
        default_title,
        lines_past_end,
        plan_takes,
        prepare_song,
        take_paths,
    )
    from engine.song.model import Song
    from engine.song.project import Project

    project = Project.open(folder) if exists else Project(folder, Song())
    choices = SongChoices.from_settings(settings, None if exists else default_title(lyrics, lyrics_path))
    project.song = prepare_song(project.song, lyrics, choices, first_time=not exists, notes=notes)
    reference = _apply_style_sources(args, project)
    seed = settings.get("seed")
    if seed is None:
        seed = secrets.randbelow(2**31)
    count = settings.get("takes", 1)
    requests = plan_takes(project, count, seed, duration_s=settings.get("duration"), params=params)
    late = lines_past_end(project.song, requests[0].duration_s)
    if late:
        notes.append(late + ("; give a longer --duration" if settings.get("duration") else ""))
    from engine.backends import registry
    from engine.service import PRIORITY_BATCH, GenerateJob
    from songbridge.engine_client import open_engine, run_job

    # A job that needs no model (the guide) runs here, in the worker loop's thread form: no process to start.
    spec = "thread" if args.engine in (None, "", "local") and not registry.needs_worker(backend.name) \
        else args.engine
    engine = open_engine(spec, args.key_file, getattr(args, "engine_ca", None))  # a wrong key or address fails before the project changes
    for note in notes:
        print(f"warning: {note}" if not note.startswith(("tempo ", "sections ")) else note, file=sys.stderr)
    created = not folder.exists()
    if reference is not None:
        _copy_reference(reference, folder / project.song.style.reference_audio)
    project.save()  # the document with its lyrics and settings, before any audio
    if not locks:
        locks.append(_lock(folder))  # a new project is ours from its first save
    secs, mem = backend.estimate(requests[0])
    secs = estimate_seconds(backend.name, requests[0].duration_s, secs)
    print(f"{project.song.info.title}: {requests[0].duration_s:.1f} s at {project.song.tempo.bpm:g} bpm in "
          f"{project.song.key}; {count} take(s) with {backend.name} (about {secs * count:.1f} s, "
          f"{mem / 2**20:.0f} MiB)", file=sys.stderr)
    takes = []
    try:
        batch = hasattr(backend, "generate_many") and count > 1  # neural backends render takes as one batch
        groups = [requests] if batch else [[r] for r in requests]
        for i, group in enumerate(groups, 1):
            backend_settings = {"models_dir": args.models} if args.models else {}
            if getattr(args, "precision", None):
                backend_settings["precision"] = args.precision
            job = GenerateJob(backend.name, tuple(group), backend_settings, PRIORITY_BATCH,
                              f"{project.song.info.title} take {i}/{len(groups)}", batch=batch)
            done = run_job(engine, job, f"take {i}/{len(groups)}" if not batch else f"{count} takes")
            asked, known = {r.take_id for r in group}, {t.id for t in project.song.takes}
            for take in done.takes:  # only the takes asked for, each a new one, before the song changes
                if take.id not in asked or take.id in known:
                    raise SongBridgeError(f"the engine returned take {take.id[:80]!r}, which was not asked for")
                known.add(take.id)
            for take in done.takes:
                project.song = project.song.with_take(take)
            project.save()  # after the take's files are complete
            takes += list(done.takes)
        _split_neural(args, project, takes)
    except BaseException:
        if created and not takes:  # a project this command made and that never got a take is not left behind
            _remove_new_project(folder)
        raise
    finally:
        engine.close()
    for take in takes:
        print(f"{take.id}  seed {take.seed}  {take_paths(project, take)[0]}")
    print(f"project: {project.folder}", file=sys.stderr)
    return 0


def _split_neural(args: argparse.Namespace, project: Any, takes: list[Any]) -> None:
    """Neural takes (one "song" stem) are split into vocal, drums, bass and other when a stem-separation model is
    installed; split runs here, where the project's files are (also with a remote --engine)."""
    import os

    from engine.service import SplitJob
    from engine.settings import models_dir
    from engine.stems.files import find_model
    from songbridge.engine_client import open_engine, run_job

    neural = [t for t in takes if t.stems == ("song",)]
    models = models_dir(args.models)[0]
    if not neural or os.environ.get("SONGBRIDGE_AUTO_SPLIT", "1") in ("0", "off", "no") or find_model(models) is None:
        return
    local = open_engine(None)
    try:
        for i, take in enumerate(neural):
            done = run_job(local, SplitJob(project.folder, take, models, label=f"split {take.id}"),
                           f"split {take.id}")
            project.song = project.song.with_take(done.takes[0])
            neural[i] = done.takes[0]
            project.save()
    finally:
        local.close()
    takes[:] = [next((n for n in neural if n.id == t.id), t) for t in takes]


def _check_style_sources(args: argparse.Namespace) -> None:
    """--style-preset and --style-audio checked before anything is written."""
    if getattr(args, "style_preset", None):
        from engine.style.presets import find

        find(args.style_preset)
    if getattr(args, "style_audio", None):
        from engine.style.reference import prepare

        prepare(args.style_audio)


def _apply_style_sources(args: argparse.Namespace, project: Any) -> Path | None:
    """The song's style source from the options; returns a reference clip to copy into the project."""
    from dataclasses import replace

    style = project.song.style
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
    project.song = project.song.replace(style=style)
    return source


def _copy_reference(source: Path, target: Path) -> None:
    import shutil

    if source.resolve() == target.resolve():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(target)


def _remove_new_project(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
