"""``songbridge loop``: a loop of N bars at a tempo (or a bed of some seconds) from a prompt, with Stable Audio
Open, as loop clips of a project at a bar (``--at-bar``; the project is made if it does not exist, at the loop's
tempo). A loop keeps its own prompt, backend, seed, bars and bpm; the song's style, backend, base take and accepted
takes are never changed by it."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from engine.errors import SongBridgeError


def run(args: argparse.Namespace) -> int:
    from engine.song.lock import ProjectLock
    from engine.song.project import project_path

    prompt = " ".join(args.prompt.split())
    if not prompt or len(prompt) > 1000:
        raise SongBridgeError("the prompt must be 1..1000 characters")
    if (args.bars is None) == (args.seconds is None):
        raise SongBridgeError("give --bars N for a loop or --seconds S for a bed")
    if args.bars is not None and not 0.25 <= args.bars <= 64:
        raise SongBridgeError(f"--bars must be 0.25..64, got {args.bars:g}")
    if args.seconds is not None and not 0.5 <= args.seconds <= 600:
        raise SongBridgeError(f"--seconds must be 0.5..600, got {args.seconds:g}")
    if args.bpm is not None and not 20 <= args.bpm <= 400:
        raise SongBridgeError(f"--bpm must be 20..400, got {args.bpm:g}")
    at_bar = getattr(args, "at_bar", None)
    if at_bar is not None and not (at_bar == at_bar and 1 <= at_bar <= 100000):
        raise SongBridgeError(f"--at-bar must be a bar 1..100000, got {at_bar:g}")
    if not 1 <= args.takes <= 16:
        raise SongBridgeError(f"--takes must be 1..16, got {args.takes}")
    folder = project_path(args.output)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)  # the lock lives in it
    try:
        with ProjectLock.acquire(folder, "songbridge loop"):
            return _loop(args, prompt, folder)
    except BaseException:
        if created and not (folder / "song.json").exists():  # a refused first loop leaves no empty project behind
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
        raise


def _loop(args: argparse.Namespace, prompt: str, folder: Path) -> int:
    from engine.backends import registry
    from engine.backends.stable_audio.catalog import LICENCE, loop_backend
    from engine.backends.stable_audio.loops import loop_seconds
    from engine.generation import plan_takes
    from engine.service import PRIORITY_INTERACTIVE, GenerateJob
    from engine.settings import models_dir
    from engine.song.model import Song, SongInfo
    from engine.song.project import Project
    from engine.song.tempo import TempoMap
    from songbridge.engine_client import open_engine, run_job

    exists = (folder / "song.json").is_file()
    project = Project.open(folder) if exists else Project(folder, Song(
        info=SongInfo(title=prompt[:60]), tempo=TempoMap.constant(args.bpm or 120.0)))
    bpm = args.bpm or project.song.tempo.bpm
    beats = project.song.tempo.meter.numerator
    seconds = loop_seconds(args.bars, bpm, beats) if args.bars is not None else args.seconds
    models = models_dir(args.models)[0]
    name = {"small": "stable-audio-small", "1.0": "stable-audio"}.get(args.model or "") or loop_backend(models,
                                                                                                      seconds)
    params: dict = {"prompt": prompt, "bpm": bpm, "at_bar": args.at_bar}
    if args.bars is not None:
        params["bars"] = args.bars
    for key in ("steps", "cfg", "negative"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    if args.variation:
        clip = Path(args.variation).expanduser()
        if not clip.is_file():
            raise SongBridgeError(f"--variation {clip}: not found")
        params["init_strength"] = args.strength
    params = registry.check_request_params(name, params)
    backend = registry.create(name, models_dir=str(models))
    ok, why = backend.available()
    if not ok:
        raise SongBridgeError(f"{name}: {why}")
    if exists and args.at_bar is not None and project.song.duration_s > 0:
        end_bar = project.song.tempo.seconds_to_bars(project.song.duration_s)
        if project.song.tempo.bars_to_seconds(args.at_bar) >= project.song.duration_s - 1e-6:
            raise SongBridgeError(f"--at-bar {args.at_bar:g} is past the end of the song (it ends at bar "
                                  f"{end_bar:.4g})")
    if args.bars is not None:
        backend.check_fits(args.bars, bpm, beats)  # refused before anything is written
    elif seconds > backend.window_s() + 1e-9:
        raise SongBridgeError(f"a {seconds:g} s bed is longer than {name} makes ({backend.window_s():.2f} s)")
    project.save()  # the loop's prompt travels with the loop (its params); the song's style is never changed
    if args.variation:  # the clip goes into the project, so the take can be made again
        import shutil

        dst = folder / "reference" / Path(args.variation).name
        dst.parent.mkdir(exist_ok=True)
        shutil.copyfile(Path(args.variation).expanduser(), dst)
        params["init_audio"] = str(dst.relative_to(folder))
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    requests = plan_takes(project, args.takes, seed, duration_s=seconds, params=params)
    what = f"{args.bars:g} bars at {bpm:g} bpm" if args.bars is not None else f"{seconds:g} s"
    print(f"{prompt}: {what} with {name} ({LICENCE})", file=sys.stderr)
    engine = open_engine(None)
    try:
        for i, req in enumerate(requests, 1):
            settings = {"models_dir": str(models)}
            if getattr(args, "precision", None):
                settings["precision"] = args.precision
            job = GenerateJob(name, (req,), settings, PRIORITY_INTERACTIVE, f"loop {i}", batch=False)
            done = run_job(engine, job, f"loop {i}/{len(requests)}")
            for take in done.takes:
                project.song = project.song.with_take(take)
            project.save()
            for take in done.takes:
                beat = f"  beat {take.params['beat']}" if "beat" in take.params else ""
                bar = project.song.loop(take.id).bar
                print(f"{take.id}  loop at bar {bar:g}  seed {take.seed}  {take.duration_s:.3f} s{beat}  "
                      f"{project.take_dir(take.id) / 'mix.wav'}")
    finally:
        engine.close()
    print(f"project: {project.folder}", file=sys.stderr)
    return 0
