"""``songbridge grid`` and ``songbridge split``: the beat grid (and tempo lock) and the stems of a take in a project,
or of any audio file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError


def _target(path: str) -> tuple[str, Path]:
    """("project", folder) or ("file", path)."""
    from engine.song.project import project_path

    p = Path(path).expanduser()
    if p.is_file() and p.name != "song.json":
        return "file", p
    folder = project_path(p)
    if (folder / "song.json").is_file():
        return "project", folder
    raise SongBridgeError(f"{path}: neither an audio file nor a SongBridge project")


def _models(args: argparse.Namespace) -> Path:
    from engine.settings import models_dir

    return models_dir(getattr(args, "models", None))[0]


def _open(args: argparse.Namespace, folder: Path, what: str) -> Any:
    """The project's headless session; raises ProjectBusy (the caller sends the request there) when it is held."""
    from engine.session import Session

    session = Session.open(folder, None, f"songbridge {what}")
    if getattr(args, "models", None):  # --models reaches the session's jobs
        session.backend_settings["models_dir"] = str(_models(args))
    return session


def _on_project(args: argparse.Namespace, session: Any, what: str, call: Any) -> tuple[str, Any]:
    """The one session ``call`` (``session, take id -> job id``) on the project's take (the newest unless
    ``--take``, checked before an engine starts), followed to its end; returns (take id, JobEnded)."""
    from songbridge.commands.render import chosen_take
    from songbridge.headless import open_engine_for, run_one

    take_id = chosen_take(session.project, args.take)
    engine = open_engine_for(args, "thread" if getattr(args, "engine", None) == "thread" else "local")
    return take_id, run_one(session, engine, lambda s: call(s, take_id), f"{what} {take_id}")


def grid(args: argparse.Namespace) -> int:
    kind, path = _target(args.target)
    if args.bpm is not None and not 20 <= args.bpm <= 400:
        raise SongBridgeError(f"--bpm must be 20..400, got {args.bpm:g}")
    if kind == "file":
        return _grid_file(args, path)
    if args.output:
        raise SongBridgeError("-o is for an audio file; a take's locked stems go into takes/<id>/locked/")
    if args.bars is not None:
        raise SongBridgeError("--bars is for a file: a take's locked stems keep the take's own length")
    from engine.song.lock import ProjectBusy

    try:
        session = _open(args, path, "grid")
    except ProjectBusy as busy:  # the app or serve has the project: it finds the grid, we follow the job
        from songbridge.holder import run_there

        extra = (float(args.bpm),) if args.bpm is not None else ()
        return run_there(busy, "the grid request", "/songbridge/take/grid", args.take or "", int(bool(args.lock)),
                         *extra)
    try:
        take_id, done = _on_project(args, session, "grid",
                                    lambda s, take: s.find_grid(take, lock=args.lock, bpm=args.bpm, origin="cli"))
    finally:
        session.close()
    project = session.project
    g = done.render["grid"]
    _print_grid(g)
    print(f"beat maps: {project.take_dir(take_id) / 'grid'}/beats.csv, markers.csv")
    if args.lock:
        lock = done.render["lock"]
        print(f"locked to {lock['bpm']:g} bpm ({lock['mode']}, ratio {lock['ratio']:.4f}): "
              f"{project.take_dir(take_id) / 'locked'}/ (mix.wav, stems/); the app, render and landing use it now")
    return 0


def _print_grid(g: dict[str, Any]) -> None:
    # drift_pct is the one bar furthest from the project's tempo, not an average: say so in words.
    drift = (f" (project {g['project_bpm']:g} bpm; worst bar {g['drift_pct']:.1f} % off it)"
             if "drift_pct" in g else "")
    first = g.get("first_downbeat_s")
    where = f"first downbeat at {first:.3f} s" if first is not None else "no downbeat found"
    model = f" ({g['model']})" if g.get("model") else ""
    print(f"tempo {g['bpm']:.2f} bpm{drift}; {where}; {g['beats']} beats, {g['bars']} bars; tracker {g['tracker']}"
          f"{model}")


def _grid_file(args: argparse.Namespace, path: Path) -> int:
    from engine.audio.io import read_audio, write_wav
    from engine.grid.analyse import measure, write_maps
    from engine.grid.lock import apply, file_plan

    audio, sr = read_audio(path)
    g = measure(audio, sr, models=_models(args), bpm=args.bpm)
    summary = g.summary(args.bpm)
    _print_grid(summary)
    if args.bars is not None and not args.lock:
        raise SongBridgeError("--bars is for --lock on a file: the locked audio's length in bars")
    if not args.lock:
        if args.output:
            maps = write_maps(g, Path(args.output), summary)
            print("beat maps: " + ", ".join(str(p) for p in maps))
        return 0
    if not args.output:
        raise SongBridgeError("--lock on a file needs -o OUT.wav for the locked audio")
    target = args.bpm or round(g.bpm)
    p = file_plan(g.beats, g.downbeats, sr, len(audio), target, bars=args.bars)
    out = Path(args.output)
    if out.suffix.lower() != ".wav":
        raise SongBridgeError(f"-o {out}: the locked audio is written as WAV (give a .wav name)")
    write_wav(out, apply(p, audio))
    print(f"locked to {target:g} bpm ({p.describe()}): {out}")
    return 0


def _check_split_model(args: argparse.Namespace) -> None:
    from engine.stems.files import WHERE, find_model

    models = _models(args)
    if find_model(models) is None:
        raise SongBridgeError(f"no stem-separation model in {models}; {WHERE}")


def split(args: argparse.Namespace) -> int:
    kind, path = _target(args.target)
    if kind == "file":
        from engine.audio.io import read_audio, write_wav
        from engine.stems.files import LICENCE
        from engine.stems.models import from_models
        from engine.stems.split import separate
        from songbridge.progress import ProgressBar

        if not args.output:
            raise SongBridgeError("split FILE needs -o DIR for the stems")
        audio, sr = read_audio(path)
        sep = from_models(_models(args))
        print(f"splitting with {sep.name} ({LICENCE})", file=sys.stderr)
        bar = ProgressBar(f"split {path.name}")
        try:
            stems = separate(sep, audio, sr, two=args.two, on_progress=bar)
        finally:
            bar.close()
        out = Path(args.output)
        for name, data in stems.items():
            print(f"{name:<12} {write_wav(out / f'{name}.wav', data)}")
        return 0
    if args.output:
        raise SongBridgeError("-o is for an audio file; a take's stems go into takes/<id>/stems/")
    from engine.song.lock import ProjectBusy

    try:
        session = _open(args, path, "split")
    except ProjectBusy as busy:  # the app or serve has the project: it splits the take, we follow the job
        from songbridge.holder import run_there

        return run_there(busy, "the split request", "/songbridge/take/split", args.take or "", int(bool(args.two)))
    try:
        _check_split_model(args)  # refused before an engine starts
        take_id, done = _on_project(args, session, "split",
                                    lambda s, take: s.split(take, args.two, origin="cli"))
    finally:
        session.close()
    project = session.project
    sep = done.render["separation"]
    take = project.song.take(take_id)
    print(f"{take_id}: stems {', '.join(take.stems)} by {sep['model']} ({sep['licence']}); "
          f"{project.take_dir(take_id) / 'stems'}/")
    return 0
