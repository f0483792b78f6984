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


@dataclass(frozen=True)
class MakeLoop:
    """``bars`` bars at ``bpm`` from ``prompt`` (empty: the song's style), a clip at ``at_bar`` (1 = the start)."""

    prompt: str
    bars: float
    bpm: float
    at_bar: float
    takes: int = 1
    seed: int | None = None


@dataclass(frozen=True)
class LoopPlan:
    backend: str
    seconds: float
    params: dict[str, Any]
    label: str


def plan(song: Song, req: MakeLoop, models: Path) -> LoopPlan:
    """Check ``req`` whole against ``song`` and the installed models; raises SongBridgeError naming the field."""
    from engine.backends import registry
    from engine.backends.stable_audio.catalog import loop_backend, window_s
    from engine.backends.stable_audio.loops import loop_seconds

    prompt = " ".join(req.prompt.split()) or song.style.prompt
    if not prompt:
        raise SongBridgeError("the loop needs a prompt (or a style in the song)")
    if len(prompt) > MAX_PROMPT:
        raise SongBridgeError(f"the prompt must be at most {MAX_PROMPT} characters")
    if not math.isfinite(req.bars) or not 0.25 <= req.bars <= 64:
        raise SongBridgeError(f"bars must be 0.25..64, got {req.bars:g}")
    if not 1 <= req.takes <= MAX_LOOP_TAKES:
        raise SongBridgeError(f"takes must be 1..{MAX_LOOP_TAKES}, got {req.takes}")
    if not math.isfinite(req.bpm) or not 20 <= req.bpm <= 400:
        raise SongBridgeError(f"bpm must be 20..400, got {req.bpm:g}")
    if not math.isfinite(req.at_bar) or not 1 <= req.at_bar <= 100_000:
        raise SongBridgeError(f"at_bar must be 1..100000, got {req.at_bar:g}")
    beats = song.tempo.meter.numerator
    seconds = loop_seconds(req.bars, req.bpm, beats)
    name = loop_backend(models, seconds)
    window = window_s(models, name)
    if seconds > window + 1e-9:
        per_bar = beats * 60.0 / req.bpm
        raise SongBridgeError(f"{req.bars:g} bars at {req.bpm:g} bpm is {seconds:.2f} s; the installed Stable Audio "
                              f"model makes at most {window:.2f} s ({math.floor(window / per_bar)} bars at this "
                              "tempo)")
    params = registry.check_request_params(name, {"prompt": prompt, "bars": req.bars, "bpm": req.bpm,
                                                  "at_bar": float(req.at_bar)}, "{name}")
    return LoopPlan(name, seconds, params, f"loop: {prompt[:40]}")
