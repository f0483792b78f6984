"""The beat grid and tempo lock of a take in a project: ``takes/<id>/grid/`` (grid.json, beats.csv, markers.csv)
and ``takes/<id>/locked/`` (mix.wav and stems/, on the project's grid, every file exactly as long as the take).
The take's ``analysis`` records what was found and the map; the song's ``locked`` list says whether the locked copy
is the one heard (an undoable edit, made by the caller)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.audio.io import read_audio, write_wav
from engine.errors import SongBridgeError
from engine.safe_fs import fresh_dir, remove
from engine.song.model import Take
from engine.song.tempo import TempoMap

from . import lock as lk
from .analyse import GRID_DIR, LOCKED_DIR, Grid, measure, read_grid, write_maps

Progress = Callable[[int, int], None]


def bar_lines(tempo: TempoMap, until_s: float, bpm: float | None = None) -> np.ndarray:
    """The project's bar lines (seconds) from bar 1 to past ``until_s``; with ``bpm``, a constant grid at that
    tempo from the same bar 1 instead (the DAW's tempo when it differs from the song's)."""
    if bpm:
        tempo = TempoMap.constant(bpm, tempo.meter, tempo.bar1_s)
    out, bar = [], 1
    while True:
        t = tempo.bars_to_seconds(bar)
        out.append(t)
        if t > until_s + 2 * tempo.bar_length_s(bar) or bar > 100_000:
            return np.asarray(out)
        bar += 1


def grid_take(folder: Path, take: Take, tempo: TempoMap, *, models: Path | None = None,
              should_stop: Callable[[], bool] | None = None) -> tuple[Take, Grid]:
    """Measure the take's beat grid from its mix, write the beat maps, return the take with ``analysis.grid``."""
    take_dir = folder / "takes" / take.id
    audio, sr = read_audio(take_dir / "mix.wav")
    grid = measure(audio, sr, models=models, bpm=tempo.bpm, meter=tempo.meter.numerator,
                   bars_s=bar_lines(tempo, len(audio) / sr), should_stop=should_stop)
    summary = grid.summary(tempo.bpm)
    write_maps(grid, take_dir / GRID_DIR, summary, root=folder)
    analysis = {**dict(take.analysis), "grid": {**summary, "files": f"{GRID_DIR}/"}}
    return dataclasses.replace(take, analysis=analysis), grid


def lock_take(folder: Path, take: Take, tempo: TempoMap, *, bpm: float | None = None,
              should_stop: Callable[[], bool] | None = None, on_progress: Progress | None = None) -> Take:
    """Write the take's grid-locked copy from its measured grid (``grid_take`` first) and return the take with
    ``analysis.lock``. ``bpm``: lock to this tempo instead of the song's (the DAW's)."""
    take_dir = folder / "takes" / take.id
    grid = read_grid(take_dir / GRID_DIR)
    mix, sr = read_audio(take_dir / "mix.wav")
    target_bpm = bpm or tempo.bpm
    frames = len(mix) if not bpm else int(round(len(mix) * tempo.bpm / target_bpm))
    plan = lk.plan(grid.downbeats, bar_lines(tempo, len(mix) / sr * 1.5, bpm), sr, frames=frames, beats=grid.beats,
                   meter=tempo.meter.numerator)
    sources = {"mix.wav": take_dir / "mix.wav",
               **{f"stems/{s}.wav": take_dir / "stems" / f"{s}.wav" for s in take.stems}}
    missing = [str(p) for p in sources.values() if not p.is_file()]
    if missing:
        raise SongBridgeError(f"take {take.id}: missing {', '.join(missing)}")
    staging = take_dir / f".{LOCKED_DIR}.partial"
    fresh_dir(staging, folder)
    try:
        for i, (rel, src) in enumerate(sources.items()):
            audio = mix if rel == "mix.wav" else read_audio(src)[0]
            write_wav(staging / rel, lk.apply(plan, audio, should_stop), root=folder)
            if on_progress is not None:
                on_progress(i + 1, len(sources))
        old = take_dir / f".{LOCKED_DIR}.old"
        remove(old)
        if (take_dir / LOCKED_DIR).exists() or (take_dir / LOCKED_DIR).is_symlink():
            (take_dir / LOCKED_DIR).rename(old)
        staging.rename(take_dir / LOCKED_DIR)
        remove(old)
    finally:
        remove(staging)
    record: dict[str, Any] = {"bpm": target_bpm, "mode": plan.mode, "ratio": round(plan.ratio, 6),
                              "drift_pct": round(plan.drift_pct, 2), "frames": plan.frames,
                              "first_bar": plan.first_bar + 1, "map": plan.tmap.as_rows(),
                              "files": f"{LOCKED_DIR}/", "tracker": grid.tracker}
    return dataclasses.replace(take, analysis={**dict(take.analysis), "lock": record})
