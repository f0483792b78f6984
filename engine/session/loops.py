"""Make a loop: N bars at a tempo from a prompt with Stable Audio Open, a clip at a bar of the song. The request is
checked whole (the prompt, the bars, the tempo, the bar, that the installed model makes that long) before anything
is queued; ``Session.make_loop`` queues it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError
from engine.song.model import Song

MAX_LOOP_TAKES = 4
MAX_PROMPT = 500


MODELS = {"small": "stable-audio-small", "1.0": "stable-audio"}  # MakeLoop.model -> backend


@dataclass(frozen=True)
class MakeLoop:
    """``bars`` bars at ``bpm`` from ``prompt`` (empty: the song's style), a clip at ``at_bar`` (1 = the start); or,
    with ``bars`` None, a bed of ``seconds``. ``model`` forces Stable Audio Open "small" or "1.0" (None: Small when
    the loop fits it); ``steps``, ``cfg`` and ``negative`` go to the sampler; ``variation`` is an audio file to make
    a variation of (``strength``: 1 all new, near 0 the clip), copied into the project's ``reference/``."""

    prompt: str
    bars: float | None
    bpm: float
    at_bar: float
    takes: int = 1
    seed: int | None = None
    seconds: float | None = None
    model: str | None = None
    steps: int | None = None
    cfg: float | None = None
    negative: str | None = None
    variation: str | None = None
    strength: float = 0.7


@dataclass(frozen=True)
class LoopPlan:
    backend: str
    seconds: float
    params: dict[str, Any]
    label: str
    #: (the clip to copy, where it goes in the project): the variation's reference, written by ``place_reference``
    reference: tuple[Path, str] | None = None


def _number(value: Any, name: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not lo <= value <= hi:
        raise SongBridgeError(f"{name} must be {lo:g}..{hi:g}, got {value!r}" if not isinstance(value, int | float)
                              else f"{name} must be {lo:g}..{hi:g}, got {value:g}")
    return float(value)


def plan(song: Song, req: MakeLoop, models: Path) -> LoopPlan:
    """Check ``req`` whole against ``song`` and the installed models; raises SongBridgeError naming the field."""
    from engine.backends import registry
    from engine.backends.stable_audio.catalog import WHERE, installed, loop_backend, window_s
    from engine.backends.stable_audio.loops import loop_seconds

    prompt = " ".join(req.prompt.split()) or song.style.prompt
    if not prompt:
        raise SongBridgeError("the loop needs a prompt (or a style in the song)")
    if len(prompt) > MAX_PROMPT:
        raise SongBridgeError(f"the prompt must be at most {MAX_PROMPT} characters")
    if (req.bars is None) == (req.seconds is None):
        raise SongBridgeError("give bars for a loop or seconds for a bed (one of them)")
    if req.bars is not None:
        _number(req.bars, "bars", 0.25, 64)
    else:
        _number(req.seconds, "seconds", 0.5, 600)
    if not 1 <= req.takes <= MAX_LOOP_TAKES:
        raise SongBridgeError(f"takes must be 1..{MAX_LOOP_TAKES}, got {req.takes}")
    _number(req.bpm, "bpm", 20, 400)
    if isinstance(req.at_bar, bool) or not math.isfinite(req.at_bar) or not 1 <= req.at_bar <= 100_000:
        raise SongBridgeError(f"at_bar must be 1..100000, got {req.at_bar:g}")
    if song.duration_s > 0 and song.tempo.bars_to_seconds(req.at_bar) >= song.duration_s - 1e-6:
        raise SongBridgeError(f"at_bar {req.at_bar:g} is past the end of the song (it ends at bar "
                              f"{song.tempo.seconds_to_bars(song.duration_s):.4g})")
    beats = song.tempo.meter.numerator
    seconds = loop_seconds(req.bars, req.bpm, beats) if req.bars is not None else float(req.seconds or 0.0)
    if req.model is not None:
        if req.model not in MODELS:
            raise SongBridgeError(f"model must be one of {', '.join(MODELS)}, got {req.model!r}")
        name = MODELS[req.model]
        if not installed(models, name):
            raise SongBridgeError(f"model {req.model}: not installed in {models}; {WHERE}")
    else:
        name = loop_backend(models, seconds)
    window = window_s(models, name)
    if seconds > window + 1e-9:
        if req.bars is None:
            raise SongBridgeError(f"a {seconds:g} s bed is longer than {name} makes ({window:.2f} s)")
        per_bar = beats * 60.0 / req.bpm
        raise SongBridgeError(f"{req.bars:g} bars at {req.bpm:g} bpm is {seconds:.2f} s; the installed Stable Audio "
                              f"model makes at most {window:.2f} s ({math.floor(window / per_bar)} bars at this "
                              "tempo)")
    params: dict[str, Any] = {"prompt": prompt, "bpm": req.bpm, "at_bar": float(req.at_bar)}
    if req.bars is not None:
        params["bars"] = req.bars
    for key in ("steps", "cfg", "negative"):
        if getattr(req, key) is not None:
            params[key] = getattr(req, key)
    reference = None
    if req.variation is not None:
        clip = Path(req.variation).expanduser()
        if not clip.is_file():
            raise SongBridgeError(f"variation {clip}: {'not a file' if clip.exists() else 'not found'}")
        params["init_strength"] = req.strength
        reference = (clip, f"reference/{clip.name}")
        params["init_audio"] = reference[1]
    params = registry.check_request_params(name, params, "{name}")
    what = "loop" if req.bars is not None else "bed"
    return LoopPlan(name, seconds, params, f"{what}: {prompt[:40]}", reference)


def place_reference(folder: Path, p: LoopPlan) -> None:
    """Copy a variation's clip into the project (``reference/``) before its job is queued (``references.py``)."""
    from .references import copy_into

    if p.reference is not None:
        copy_into(folder, *p.reference)
