"""A request -> what ACE-Step is asked to do (pure: reads the source take's record, loads no model).

- No edit: ``text2music`` of the request's length.
- An edit of a take made by the ``guide`` backend: a ``cover`` of that whole take (the draft's sections, chords and
  timing), ``cover_strength`` of the steps following it.
- An edit of any other take: ``repaint`` of its ranges (several windows, one pass), or ``extend`` when a range or
  the request's length passes the take's end (the part past the end is always regenerated).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.backends.base import GenerationRequest
from engine.errors import SongBridgeError
from engine.song.model import TimeRange

from .pipeline import Settings
from .prompts import SongInputs, edit_windows, song_inputs

GUIDE = "guide"
DEFAULTS = {"turbo": {"steps": 8, "shift": 3.0}, "base": {"steps": 32, "shift": 3.0, "guidance_scale": 7.0}}
COVER_STRENGTH = 0.6
#: ACE-Step 1.5 makes songs of 10 s to 10 min
MAX_SECONDS = 600.0
_LANG = re.compile(r"^(unknown|[a-z]{2,3}(-[A-Za-z]{2,4})?)$")


@dataclass(frozen=True)
class Planned:
    task: str  # text2music | repaint | extend | cover
    inputs: SongInputs
    seconds: float  # length of the take made
    frames: int  # latent frames the model works on
    settings: Settings
    source_dir: Path | None = None
    source_backend: str | None = None
    source_s: float = 0.0
    windows: tuple[tuple[float, float], ...] = ()


def settings_for(variant: str, params: Mapping[str, Any]) -> Settings:
    d = {**DEFAULTS.get(variant, DEFAULTS["base"]), **params}
    if variant == "turbo" and "guidance_scale" in params and float(params["guidance_scale"]) != 1.0:
        raise SongBridgeError("parameter guidance_scale: the turbo model runs without guidance; install "
                              "acestep-v15-base/ and choose it with variant=base for guidance")
    return Settings(steps=int(d["steps"]), shift=float(d["shift"]), guidance_scale=float(d.get("guidance_scale", 1.0)),
                    cover_strength=float(d.get("cover_strength", COVER_STRENGTH)),
                    cover_noise=float(d.get("cover_noise", 0.0)))


def frames_for(seconds: float, sample_rate: int, hop: int) -> int:
    """Latent frames that cover ``seconds`` of audio (whole frames, rounded up)."""
    return max(1, math.ceil(seconds * sample_rate / hop - 1e-9))


def plan(request: GenerationRequest, params: Mapping[str, Any], variant: str, sample_rate: int, hop: int
         ) -> Planned:
    language = params.get("language")
    if language is not None and not _LANG.match(str(language)):
        raise SongBridgeError(f"parameter language: {language!r} is not a language code (en, zh, ja, es ...)")
    settings = settings_for(variant, params)
    if max([request.duration_s, *(r.end_s for r in (request.edit.ranges if request.edit else ()))]) > MAX_SECONDS:
        raise SongBridgeError(f"ACE-Step makes songs up to {MAX_SECONDS:.0f} s; this one would be "
                              f"{request.duration_s:.1f} s")
    if request.edit is None:
        seconds = request.duration_s
        return Planned("text2music", _inputs(request, params, seconds), seconds,
                       frames_for(seconds, sample_rate, hop), settings)
    from engine.backends.takes import read_record

    src_dir = request.out_dir.parent / request.edit.source_take
    if not (src_dir / "mix.wav").is_file():
        raise SongBridgeError(f"the take to edit ({request.edit.source_take}) has no mix.wav in {src_dir}")
    take = read_record(src_dir)
    source_s = float(take.duration_s)
    if take.backend == GUIDE:
        seconds = source_s
        return Planned("cover", _inputs(request, params, seconds), seconds, frames_for(seconds, sample_rate, hop),
                       settings, src_dir, take.backend, source_s, ((0.0, source_s),))
    ranges = list(request.edit.ranges)
    target = max(source_s, request.duration_s, max((r.end_s for r in ranges), default=0.0))
    if target > source_s + 1e-6:
        ranges.append(TimeRange(source_s, target))  # continuing: everything past the source's end is new
    ew = edit_windows(ranges, source_s, target)
    frames = max(frames_for(source_s, sample_rate, hop),
                 (int(round(source_s * sample_rate)) + max(0, int((target - source_s) * sample_rate))) // hop)
    return Planned(ew.task, _inputs(request, params, target), target, frames, settings, src_dir, take.backend,
                   source_s, ew.windows)


def _inputs(request: GenerationRequest, params: Mapping[str, Any], seconds: float) -> SongInputs:
    caption = params.get("caption")
    return song_inputs(lyrics=request.lyrics, sections=request.sections,
                       style_prompt=request.style.prompt or (request.style.preset or ""), tempo=request.tempo,
                       key=request.key, duration_s=seconds, caption=str(caption) if caption is not None else None,
                       language=str(params["language"]) if params.get("language") else None)
