"""``songbridge loop``: a loop of N bars at a tempo (or a bed of some seconds) from a prompt, with Stable Audio
Open, as loop clips of a project at a bar (``--at-bar``; the project is made if it does not exist, at the loop's
tempo). A loop keeps its own prompt, backend, seed, bars and bpm; the song's style, backend, base take and accepted
takes are never changed by it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError
from engine.session.loops import MAX_LOOP_TAKES, MAX_PROMPT


def run(args: argparse.Namespace) -> int:
    from engine.session import Session
    from engine.song.lock import ProjectBusy
    from engine.song.project import project_path

    prompt = _check(args)
    folder = project_path(args.output)
    if not (folder / "song.json").exists():
        return _new_project(args, prompt, folder)
    try:
        session = Session.open(folder, None, "songbridge loop")
    except ProjectBusy as busy:
        return _loop_there(busy, args, prompt)
    try:
        return _loop(args, session, prompt)
    finally:
        session.close()


def _check(args: argparse.Namespace) -> str:
    """The options, each named when it is out of range (the session checks the request whole again)."""
    prompt = " ".join(args.prompt.split())
    if not prompt or len(prompt) > MAX_PROMPT:
        raise SongBridgeError(f"the prompt must be 1..{MAX_PROMPT} characters")
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
    if not 1 <= args.takes <= MAX_LOOP_TAKES:
        raise SongBridgeError(f"--takes must be 1..{MAX_LOOP_TAKES}, got {args.takes}")
    return prompt


def request(args: argparse.Namespace, prompt: str, song: Any) -> Any:
    """The command line as the session's :class:`~engine.session.loops.MakeLoop` (the app and the DAW build the same)."""
    from engine.session.loops import MakeLoop

    return MakeLoop(prompt, args.bars, args.bpm or song.tempo.bpm, args.at_bar if args.at_bar is not None else 1.0,
                    args.takes, args.seed, seconds=args.seconds, model=args.model, steps=args.steps, cfg=args.cfg,
                    negative=args.negative, variation=args.variation,
                    strength=args.strength if args.strength is not None else 0.7)


def _new_project(args: argparse.Namespace, prompt: str, folder: Path) -> int:
    """A new project at the loop's tempo, made once the request has been checked and the engine opened; removed
    again when it never got its loop (refused, failed, Ctrl-C)."""
    import shutil

    from engine.session import Session
    from engine.song.model import Song, SongInfo
    from engine.song.tempo import TempoMap

    song = Song(info=SongInfo(title=prompt[:60]), tempo=TempoMap.constant(args.bpm or 120.0))
    _plan(args, prompt, song)  # refused before anything is written
    created = not folder.exists()
    session = Session.create(folder, song, None, "songbridge loop")
    empty = True
    try:
        code = _loop(args, session, prompt)
        empty = False
        return code
    finally:
        empty = empty and not session.song.loops and not session.song.takes
        session.close()
        if empty:  # refused, failed or Ctrl-C before its loop was made
            if created:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                (folder / "song.json").unlink(missing_ok=True)


def _models(args: argparse.Namespace) -> Path:
    from engine.settings import models_dir

    return models_dir(args.models)[0]


def _plan(args: argparse.Namespace, prompt: str, song: Any) -> Any:
    from engine.session.loops import plan

    req = request(args, prompt, song)
    return req, plan(song, req, _models(args))


def _loop(args: argparse.Namespace, session: Any, prompt: str) -> int:
    """One session call (``Session.make_loop``), followed until its loops are clips of the song."""
    from engine.backends import registry
    from engine.backends.stable_audio.catalog import LICENCE
    from songbridge.headless import open_engine_for, run_one

    req, p = _plan(args, prompt, session.song)  # refused before an engine starts
    backend = registry.create(p.backend, models_dir=str(_models(args)))
    ok, why = backend.available()
    if not ok:
        raise SongBridgeError(f"{p.backend}: {why}")
    session.backend_settings["models_dir"] = str(_models(args))
    if getattr(args, "precision", None):
        session.backend_settings["precision"] = args.precision
    what = f"{req.bars:g} bars at {req.bpm:g} bpm" if req.bars is not None else f"{p.seconds:g} s"
    print(f"{prompt}: {what} with {p.backend} ({LICENCE})", file=sys.stderr)
    ended = run_one(session, open_engine_for(args), lambda s: s.make_loop(req, origin="cli"),
                    f"{req.takes} loop{'s' if req.takes > 1 else ''}")
    song = session.song
    for made in ended.takes:
        take = song.loop(made.id).take
        beat = f"  beat {take.params['beat']}" if "beat" in take.params else ""
        print(f"{take.id}  loop at bar {song.loop(take.id).bar:g}  seed {take.seed}  {take.duration_s:.3f} s{beat}  "
              f"{session.project.take_dir(take.id) / 'mix.wav'}")
    print(f"project: {session.folder}", file=sys.stderr)
    return 0


def _loop_there(busy: Any, args: argparse.Namespace, prompt: str) -> int:
    """The app or ``serve`` has the project: it makes the loop (the same ``Session.make_loop``; it lands it when a
    DAW is linked) and we follow the job. Only the prompt, bars, tempo and bar travel: anything else is refused,
    naming it, before anything is sent."""
    from songbridge.holder import run_there

    kept = [name for name, given in (("--seconds", args.seconds is not None), ("--variation", args.variation),
                                     ("--model", args.model), ("--steps", args.steps is not None),
                                     ("--cfg", args.cfg is not None), ("--negative", args.negative),
                                     ("--seed", args.seed is not None), ("--takes", args.takes != 1),
                                     ("--models", args.models), ("--precision", getattr(args, "precision", None)))
            if given]
    if kept:
        raise SongBridgeError(f"{busy}; {', '.join(kept)} cannot be sent to it (only the prompt, --bars, --bpm and "
                              "--at-bar travel): make the loop there, or close it and run this again")
    return run_there(busy, "the loop request", "/songbridge/loop/generate", prompt, float(args.bars),
                     float(args.bpm or 0.0), float(args.at_bar if args.at_bar is not None else 1.0))
